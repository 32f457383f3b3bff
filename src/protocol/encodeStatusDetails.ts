import { ERROR_INFO_TYPE_URL, type ErrorInfo } from "./ErrorInfo.js";

/**
 * `google.rpc.Status { int32 code = 1; string message = 2; repeated Any details = 3 }`,
 * with `Any { string type_url = 1; bytes value = 2 }` holding
 * `ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3 }`.
 *
 * Written without a protobuf runtime on purpose: the grpc and nice-grpc entry points send
 * it with every refusal and load no package but grpc-js (and nice-grpc-common): a few
 * length-delimited fields and one varint need none. decodeStatusDetails reads it back.
 */
export function encodeStatusDetails(code: number, message: string, info: ErrorInfo): Buffer {
  const entries = Object.keys(info.metadata)
    .sort() // the same error encodes to the same bytes
    .map((key) =>
      field(3, concat(field(1, text(key)), field(2, text(info.metadata[key] as string)))),
    );
  const errorInfo = concat(field(1, text(info.reason)), field(2, text(info.domain)), ...entries);
  const any = concat(field(1, text(ERROR_INFO_TYPE_URL)), field(2, errorInfo));
  const status: Buffer[] = [];
  // int32: a negative code would take ten bytes; gRPC codes are 0..16.
  if (code !== 0) status.push(Buffer.from([(1 << 3) | 0]), varint(code));
  if (message !== "") status.push(field(2, text(message)));
  status.push(field(3, any));
  return Buffer.concat(status);
}

/** A length-delimited field (wire type 2). */
function field(number: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

function text(value: string): Buffer {
  return Buffer.from(value, "utf8");
}

function concat(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
