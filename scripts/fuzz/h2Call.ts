import http2 from "node:http2";
import net from "node:net";

/** What goes out on one HTTP/2 stream: headers, DATA chunks, then how the stream ends. */
export interface Transmission {
  headers: http2.OutgoingHttpHeaders;
  chunks: Uint8Array[];
  /** end: half-close after the chunks; rst: reset the stream (CANCEL) after them. */
  finish: "end" | "rst";
}

/** How a stream ended, as the client saw it. */
export type Outcome =
  | {
      kind: "status";
      code: number;
      message: string;
      headers: http2.IncomingHttpHeaders;
      trailers: http2.IncomingHttpHeaders;
      /** The gRPC messages of the response body. */
      messages: Buffer[];
    }
  /** An HTTP response with no grpc-status (e.g. 415 for a content-type that is not gRPC). */
  | { kind: "http"; httpStatus: number }
  /** The server reset the stream or dropped the connection without a status. */
  | { kind: "reset"; detail: string }
  /** We reset the stream ourselves (finish: rst). */
  | { kind: "cancelled" }
  | { kind: "noAnswer"; afterMs: number };

export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case "status":
      return `status ${o.code}${o.message ? ` "${o.message.slice(0, 160)}"` : ""}`;
    case "http":
      return `HTTP ${o.httpStatus} without grpc-status`;
    case "reset":
      return `stream reset (${o.detail})`;
    case "cancelled":
      return "cancelled by the client";
    default:
      return `no answer within ${o.afterMs} ms`;
  }
}

/** One HTTP/2 connection to the server, reopened when a case made the server close it. */
export class H2Connection {
  readonly #authority: string;
  #session: http2.ClientHttp2Session | undefined;

  constructor(address: string) {
    this.#authority = `http://${address}`;
  }

  async session(): Promise<http2.ClientHttp2Session> {
    const current = this.#session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(this.#authority);
    session.on("error", () => {});
    session.on("goaway", () => {
      if (this.#session === session) this.#session = undefined;
    });
    session.on("close", () => {
      if (this.#session === session) this.#session = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
    this.#session = session;
    return session;
  }

  /** Forgets the connection (after a case that may have broken it). */
  drop(): void {
    this.#session?.destroy();
    this.#session = undefined;
  }

  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  async send(t: Transmission, timeoutMs = 20_000): Promise<Outcome> {
    const session = await this.session();
    return new Promise<Outcome>((resolve) => {
      const started = Date.now();
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(t.headers, {
          endStream: t.chunks.length === 0 && t.finish === "end",
        });
      } catch (err) {
        resolve({ kind: "reset", detail: `request refused locally: ${(err as Error).message}` });
        return;
      }
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const body: Buffer[] = [];
      let error: string | undefined;
      let settled = false;
      const timer = setTimeout(() => {
        settle({ kind: "noAnswer", afterMs: Date.now() - started });
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      const settle = (o: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", (h) => {
        trailers = h;
      });
      stream.on("data", (chunk: Buffer) => body.push(chunk));
      stream.on("error", (err) => {
        error = err.message;
      });
      stream.on("close", () => {
        if (t.finish === "rst") return settle({ kind: "cancelled" });
        const code = trailers["grpc-status"] ?? headers["grpc-status"];
        if (code !== undefined) {
          const message = trailers["grpc-message"] ?? headers["grpc-message"];
          return settle({
            kind: "status",
            code: Number(code),
            message: decodeGrpcMessage(message === undefined ? "" : String(message)),
            headers,
            trailers,
            messages: grpcMessages(Buffer.concat(body)),
          });
        }
        const httpStatus = Number(headers[":status"] ?? 0);
        if (httpStatus !== 0 && httpStatus !== 200) return settle({ kind: "http", httpStatus });
        settle({ kind: "reset", detail: error ?? `rst code ${stream.rstCode}` });
      });
      void writeChunks(stream, t);
    });
  }
}

async function writeChunks(stream: http2.ClientHttp2Stream, t: Transmission): Promise<void> {
  for (const chunk of t.chunks) {
    if (stream.destroyed) return;
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        stream.once("drain", resolve);
        stream.once("close", resolve);
      });
    }
  }
  if (stream.destroyed) return;
  if (t.finish === "rst") {
    // Let the chunks leave before the reset, so the server has really seen part of a body.
    await new Promise((resolve) => setTimeout(resolve, 5));
    stream.close(http2.constants.NGHTTP2_CANCEL);
  } else if (t.chunks.length > 0) stream.end();
}

function decodeGrpcMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Splits a gRPC response body into messages; a malformed body yields what it can. */
export function grpcMessages(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (body.length - at >= 5) {
    const length = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < length) break;
    out.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return out;
}

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, bytes. */
export function grpcFrame(message: Uint8Array, flag = 0, declaredLength = message.length): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(flag, 0);
  frame.writeUInt32BE(declaredLength >>> 0, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * Bytes straight onto a new TCP connection (no HTTP/2 library between): resolves once the
 * server closed it or `waitMs` passed. Only loopback addresses are ever dialled.
 */
export function rawSocket(port: number, bytes: Uint8Array, waitMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`still open after ${waitMs} ms, ${received} bytes received`);
    }, waitMs);
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (d) => {
      received += d.length;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(`closed by the server, ${received} bytes received`);
    });
  });
}
