// An HTTP/2 client made of raw frames on a TCP socket, for clients node:http2 will not be:
// one that ignores the server's SETTINGS_MAX_CONCURRENT_STREAMS, or never answers a PING.
// It encodes what it sends (HPACK literals, no Huffman) and decodes only frame headers and
// the payloads of SETTINGS, RST_STREAM and GOAWAY.
import { connect, type Socket } from "node:net";

export const FRAME = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
} as const;
export const SETTING = { MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4 } as const;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** SETTINGS_MAX_FRAME_SIZE's initial value: no frame we send may be larger. */
const MAX_FRAME = 16_384;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawOptions {
  /** Our SETTINGS (id → value), e.g. INITIAL_WINDOW_SIZE 0. */
  settings?: Record<number, number>;
  /** Answer the server's PINGs (default true). */
  answerPings?: boolean;
  /** Acknowledge the server's SETTINGS (default true); until then it may not enforce them. */
  ackSettings?: boolean;
}

export class RawHttp2Connection {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  /** Resolves when the server has closed (or reset) the TCP connection. */
  readonly closed: Promise<void>;
  readonly #answerPings: boolean;
  #buffer = Buffer.alloc(0);
  #nextStreamId = 1;
  #wake: Array<() => void> = [];

  private constructor(socket: Socket, options: RawOptions) {
    this.socket = socket;
    this.#answerPings = options.answerPings ?? true;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.closed.then(() => this.#notify());
  }

  /** Connects, sends the preface and SETTINGS, and waits for (and acknowledges) the server's. */
  static async open(port: number, options: RawOptions = {}): Promise<RawHttp2Connection> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const conn = new RawHttp2Connection(socket, options);
    const settings = Object.entries(options.settings ?? {}).map(([id, value]) => {
      const entry = Buffer.alloc(6);
      entry.writeUInt16BE(Number(id), 0);
      entry.writeUInt32BE(value, 2);
      return entry;
    });
    socket.write(PREFACE);
    conn.send(FRAME.SETTINGS, 0, 0, Buffer.concat(settings));
    await conn.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & ACK) === 0);
    if (options.ackSettings ?? true) conn.send(FRAME.SETTINGS, ACK, 0, Buffer.alloc(0));
    return conn;
  }

  /** The server's first SETTINGS, id → value. */
  serverSettings(): Map<number, number> {
    const frame = this.frames.find((f) => f.type === FRAME.SETTINGS && (f.flags & ACK) === 0);
    const settings = new Map<number, number>();
    for (let at = 0; frame && at + 6 <= frame.payload.length; at += 6) {
      settings.set(frame.payload.readUInt16BE(at), frame.payload.readUInt32BE(at + 2));
    }
    return settings;
  }

  /** RST_STREAM error codes received, by stream id. */
  resets(): Map<number, number> {
    const resets = new Map<number, number>();
    for (const f of this.frames) {
      if (f.type === FRAME.RST_STREAM) resets.set(f.streamId, f.payload.readUInt32BE(0));
    }
    return resets;
  }

  /** The first GOAWAY received, if any. */
  goaway(): { errorCode: number; debug: string } | undefined {
    const f = this.frames.find((frame) => frame.type === FRAME.GOAWAY);
    return f && { errorCode: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString() };
  }

  /**
   * Opens a gRPC call's stream: request headers, and `body` (a whole or partial gRPC
   * message) if given, after extra `headers`. Nothing ends the stream unless `end` is set.
   * Returns the stream id.
   */
  openCall(
    path: string,
    {
      body,
      end = false,
      headers = [],
    }: { body?: Buffer; end?: boolean; headers?: Array<[string, string]> } = {},
  ): number {
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const block = hpackLiterals([
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", "127.0.0.1"],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      // Sent as given, repeated names too (node:http2 refuses a repeated authorization).
      ...headers,
    ]);
    const headersEnd = end && body === undefined ? END_STREAM : 0;
    this.send(FRAME.HEADERS, END_HEADERS | headersEnd, id, block);
    if (body !== undefined) this.sendData(id, body, end);
    return id;
  }

  sendData(streamId: number, body: Buffer, end: boolean): void {
    let at = 0;
    do {
      const chunk = body.subarray(at, at + MAX_FRAME);
      at += chunk.length;
      this.send(FRAME.DATA, at >= body.length && end ? END_STREAM : 0, streamId, chunk);
    } while (at < body.length);
  }

  send(type: number, flags: number, streamId: number, payload: Buffer): void {
    const header = Buffer.alloc(9);
    header.writeUIntBE(payload.length, 0, 3);
    header.writeUInt8(type, 3);
    header.writeUInt8(flags, 4);
    header.writeUInt32BE(streamId, 5);
    this.socket.write(Buffer.concat([header, payload]));
  }

  /** Waits until a received frame matches (checked against all frames so far). */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (this.socket.destroyed) throw new Error("connection closed before the awaited frame");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a frame");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      const frame: Frame = {
        type: this.#buffer.readUInt8(3),
        flags: this.#buffer.readUInt8(4),
        streamId: this.#buffer.readUInt32BE(5) & 0x7fff_ffff,
        payload: this.#buffer.subarray(9, 9 + length),
      };
      this.#buffer = this.#buffer.subarray(9 + length);
      this.frames.push(frame);
      if (frame.type === FRAME.PING && (frame.flags & ACK) === 0 && this.#answerPings) {
        this.send(FRAME.PING, ACK, 0, frame.payload);
      }
    }
    this.#notify();
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }
}

/** A gRPC length-prefixed message header announcing `length` bytes, uncompressed. */
export function grpcFrameHeader(length: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(length, 1);
  return header;
}

/** HPACK "literal header field without indexing, new name", lengths without Huffman. */
function hpackLiterals(headers: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value));
  }
  return Buffer.concat(parts);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
}

function hpackInteger(value: number, prefixBits: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([value]);
  const out = [max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}
