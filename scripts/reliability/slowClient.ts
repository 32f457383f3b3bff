import { type ClientHttp2Stream, connect } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";

/** An empty request message in gRPC framing: not compressed, length 0. */
const EMPTY_FRAME = Buffer.alloc(5);

/**
 * A client that asks for a large session again and again and reads the answers slowly: a
 * 1 KiB stream window, and its streams paused except for a moment every 200 ms. The server
 * has to hold (or stop producing) what it cannot send, without slowing anyone else down.
 * Resolves after `ms` with the number of streams it opened.
 */
export async function slowClient(
  address: string,
  sessionId: string,
  ms: number,
  streams = 4,
): Promise<number> {
  const session = connect(`http://${address}`, { settings: { initialWindowSize: 1024 } });
  session.on("error", () => {}); // the server may be killed meanwhile: that is another fault
  const until = Date.now() + ms;
  let opened = 0;
  const one = async () => {
    while (Date.now() < until && !session.destroyed) {
      opened++;
      const stream: ClientHttp2Stream = session.request({
        ":method": "POST",
        ":path": "/sessiond.v1.SessionService/GetData",
        "content-type": "application/grpc",
        te: "trailers",
        "x-session-id": sessionId,
      });
      stream.on("error", () => {});
      stream.end(EMPTY_FRAME);
      stream.pause();
      const ended = new Promise<void>((resolve) => {
        stream.once("close", resolve);
      });
      const drip = setInterval(() => {
        stream.resume();
        setImmediate(() => stream.pause());
      }, 200);
      await Promise.race([ended, sleep(Math.max(0, until - Date.now()))]);
      clearInterval(drip);
      if (!stream.closed) stream.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: streams }, one));
  } finally {
    session.destroy();
  }
  return opened;
}
