import { gzipSync } from "node:zlib";
import { status } from "@grpc/grpc-js";
import { type Leeway, RESET } from "./expectation.js";
import { grpcFrame, type Transmission } from "./h2Call.js";
import type { Rng } from "./Rng.js";

/** grpc-js' default grpc.max_receive_message_length, which the server keeps. */
export const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

/**
 * How the request travels. Most cases are a well-formed gRPC request carrying the generated
 * message; the rest damage the transport: the content-type, te, the length prefix, the
 * compressed flag and grpc-encoding, the size, the number of messages, the path, the
 * timeout, or a reset in the middle of the body.
 */
export interface Framing {
  transmission: Transmission;
  label: string;
  /**
   * What the server may answer when the message never reaches sessiond as generated:
   * grpc-js answers it itself. Undefined: the message arrives as generated.
   */
  transport?: TransportVerdict;
  /** Extra statuses grpc-js may answer while the message still arrives as generated. */
  leeway?: Leeway[];
}

export interface TransportVerdict {
  codes: status[];
  /** HTTP statuses without grpc-status (415 for a content-type that is not gRPC). */
  http?: number[];
  /** A stream reset or closed connection without a status. */
  reset?: boolean;
  /** The request ended with our own RST_STREAM. */
  cancelled?: boolean;
  /** Some message (not the generated one) may reach sessiond: any of its statuses, effect unknown. */
  anyMessage?: boolean;
}

export function baseHeaders(path: string): Record<string, string> {
  return {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
  };
}

export function genFraming(
  rng: Rng,
  path: string,
  message: Uint8Array,
  metadata: Record<string, string | string[]>,
): Framing {
  const headers: Transmission["headers"] = { ...baseHeaders(path), ...metadata };
  const normal: Framing = {
    transmission: { headers, chunks: [grpcFrame(message)], finish: "end" },
    label: "",
  };
  if (!rng.chance(0.13)) return normal;
  const how = rng.pick([
    "contentTypeText",
    "contentTypeMissing",
    "contentTypeGrpcProto",
    "noTe",
    "prefixTooLong",
    "prefixTooShort",
    "twoMessages",
    "noMessage",
    "endInPrefix",
    "compressedNoEncoding",
    "gzip",
    "gzipGarbage",
    "unsupportedEncoding",
    "encodingHeaderFlagZero",
    "gzipBomb",
    "oversizeDeclared",
    "oversizeActual",
    "rstMidBody",
    "badTimeout",
    "unknownMethod",
    "methodGet",
    "oneByteChunks",
    "hugeHeader",
  ]);
  const frame = grpcFrame(message);
  const t = normal.transmission;
  const label = `frame:${how}`;
  switch (how) {
    case "contentTypeText":
      t.headers["content-type"] = rng.pick(["text/plain", "application/json", "application/grp"]);
      return { transmission: t, label, transport: { codes: [], http: [415] } };
    case "contentTypeMissing":
      delete t.headers["content-type"];
      return { transmission: t, label, transport: { codes: [], http: [415] } };
    case "contentTypeGrpcProto":
      t.headers["content-type"] = rng.pick([
        "application/grpc+proto",
        "application/grpc; charset=utf-8",
      ]);
      return { transmission: t, label };
    case "noTe":
      delete t.headers.te;
      return { transmission: t, label };
    case "prefixTooLong":
      // The prefix promises more bytes than ever come: no message is ever complete.
      t.chunks = [grpcFrame(message, 0, message.length + rng.range(1, 1000))];
      return {
        transmission: t,
        label,
        transport: { codes: [status.UNIMPLEMENTED, status.INTERNAL] },
      };
    case "prefixTooShort": {
      if (message.length === 0) return normal;
      t.chunks = [grpcFrame(message, 0, rng.int(message.length))];
      return {
        transmission: t,
        label,
        transport: { codes: [status.UNIMPLEMENTED, status.INTERNAL], anyMessage: true },
      };
    }
    case "twoMessages":
      t.chunks = [frame, frame];
      return { transmission: t, label, transport: { codes: [status.UNIMPLEMENTED] } };
    case "noMessage":
      t.chunks = [];
      return { transmission: t, label, transport: { codes: [status.UNIMPLEMENTED] } };
    case "endInPrefix":
      t.chunks = [frame.subarray(0, rng.range(1, 4))];
      return {
        transmission: t,
        label,
        transport: { codes: [status.UNIMPLEMENTED, status.INTERNAL] },
      };
    case "compressedNoEncoding":
      // The gRPC spec calls a set flag without grpc-encoding an error (INTERNAL); grpc-js
      // reads the message as if it were not compressed.
      t.chunks = [grpcFrame(message, 1)];
      return {
        transmission: t,
        label,
        leeway: [{ code: status.INTERNAL, why: "compressed flag without grpc-encoding" }],
      };
    case "gzip":
      t.headers["grpc-encoding"] = "gzip";
      t.chunks = [grpcFrame(gzipSync(message), 1)];
      return { transmission: t, label };
    case "gzipGarbage":
      t.headers["grpc-encoding"] = rng.pick(["gzip", "deflate"]);
      t.chunks = [
        grpcFrame(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from(rng.bytes(20))]), 1),
      ];
      return { transmission: t, label, transport: { codes: [status.INTERNAL] } };
    case "unsupportedEncoding":
      t.headers["grpc-encoding"] = rng.pick(["snappy", "br", "zstd", "x"]);
      t.chunks = [grpcFrame(message, 1)];
      return { transmission: t, label, transport: { codes: [status.UNIMPLEMENTED] } };
    case "encodingHeaderFlagZero":
      t.headers["grpc-encoding"] = "gzip";
      return { transmission: t, label };
    case "gzipBomb":
      // ~8 KB on the wire, 8 MB once inflated: past the receive limit.
      t.headers["grpc-encoding"] = "gzip";
      t.chunks = [grpcFrame(gzipSync(Buffer.alloc(2 * MAX_RECEIVE_BYTES)), 1)];
      return { transmission: t, label, transport: { codes: [status.RESOURCE_EXHAUSTED] } };
    case "oversizeDeclared":
      t.chunks = [grpcFrame(message, 0, rng.pick([MAX_RECEIVE_BYTES + 1, 0xffffffff, 0x80000000]))];
      return { transmission: t, label, transport: { codes: [status.RESOURCE_EXHAUSTED] } };
    case "oversizeActual": {
      const big = Buffer.alloc(MAX_RECEIVE_BYTES + 1, 0x61);
      t.chunks = [
        grpcFrame(Buffer.concat([Buffer.from([0x0a, 0x81, 0x80, 0x80, 0x02]), big.subarray(5)])),
      ];
      return { transmission: t, label, transport: { codes: [status.RESOURCE_EXHAUSTED] } };
    }
    case "rstMidBody": {
      const cut = rng.range(0, Math.max(0, frame.length - 1));
      t.chunks = [frame.subarray(0, cut)];
      t.finish = "rst";
      return {
        transmission: t,
        label: `${label}@${cut}/${frame.length}`,
        transport: { codes: [], cancelled: true },
      };
    }
    case "badTimeout":
      // grpc-js answers INTERNAL on the next tick, which may come after sessiond's answer.
      t.headers["grpc-timeout"] = rng.pick(["abc", "S", "1X", "m5"]);
      return {
        transmission: t,
        label,
        leeway: [{ code: status.INTERNAL, why: "malformed grpc-timeout" }],
      };
    case "unknownMethod":
      t.headers[":path"] = rng.pick([
        "/sessiond.v1.SessionService/Nope",
        "/sessiond.v1.SessionService/",
        "/sessiond.v1.SessionService/get",
        "/x",
        "/../sessiond.v1.SessionService/Get",
        `${path}?x=1`,
      ]);
      return { transmission: t, label, transport: { codes: [status.UNIMPLEMENTED] } };
    case "methodGet":
      t.headers[":method"] = rng.pick(["GET", "PUT"]);
      return {
        transmission: t,
        label,
        leeway: [{ code: status.UNIMPLEMENTED, why: "not POST" }],
      };
    case "oneByteChunks":
      t.chunks = [...frame].map((byte) => Uint8Array.of(byte));
      if (t.chunks.length > 3000) return normal;
      return { transmission: t, label };
    default:
      t.headers["x-fuzz-padding"] = "p".repeat(rng.pick([4000, 20000, 70000]));
      return {
        transmission: t,
        label,
        leeway: [
          { code: status.RESOURCE_EXHAUSTED, why: "metadata over the header size limit" },
          { code: status.INTERNAL, why: "metadata over the header size limit" },
          { code: RESET, why: "headers over the HTTP/2 header list limit" },
        ],
      };
  }
}
