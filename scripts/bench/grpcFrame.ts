/**
 * One gRPC length-prefixed message, as h2load must send it in the request body: a
 * compressed-flag byte (0: not compressed), the message length as a 4-byte big-endian
 * unsigned integer, then the protobuf bytes.
 */
export function encodeGrpcFrame(message: Uint8Array): Buffer {
  if (message.length > 0xffff_ffff) throw new RangeError("gRPC message over 4 GiB");
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Splits a body of concatenated gRPC frames back into messages (used to check the encoder). */
export function decodeGrpcFrames(body: Uint8Array): Buffer[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 5) throw new RangeError("truncated gRPC frame header");
    if (buf.readUInt8(at) !== 0) throw new RangeError("compressed gRPC frames are not expected");
    const length = buf.readUInt32BE(at + 1);
    if (buf.length - at - 5 < length) throw new RangeError("truncated gRPC message");
    out.push(buf.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return out;
}
