import { connect } from "node:http2";
import { connect as tcpConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Clients that start and never finish, held for `ms`: HTTP/2 streams that send their
 * headers and a gRPC frame header announcing 200 bytes, then 20 of them, then nothing; and
 * a TCP connection that sends half the HTTP/2 preface. Nothing they began may be applied,
 * and nobody else may wait on them. Resolves with the number of streams and connections
 * it held.
 */
export async function stalledClient(
  address: string,
  sessionId: string,
  ms: number,
  streams = 16,
): Promise<number> {
  const session = connect(`http://${address}`);
  session.on("error", () => {});
  for (let i = 0; i < streams; i++) {
    const stream = session.request(
      {
        ":method": "POST",
        ":path": "/sessiond.v1.SessionService/Set",
        "content-type": "application/grpc",
        te: "trailers",
        "x-session-id": sessionId,
      },
      { endStream: false },
    );
    stream.on("error", () => {});
    const header = Buffer.alloc(5);
    header.writeUInt32BE(200, 1);
    stream.write(Buffer.concat([header, Buffer.alloc(20, 0x0a)]));
  }
  const [host, port] = address.split(":");
  const socket = tcpConnect({ host, port: Number(port) });
  socket.on("error", () => {});
  socket.on("connect", () => socket.write("PRI * HTTP/2.0\r\n"));
  await sleep(ms);
  session.destroy();
  socket.destroy();
  return streams + 1;
}
