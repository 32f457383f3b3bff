/**
 * Protobuf wire bytes built by hand, for requests no encoder would produce: invalid UTF-8
 * in a string field, fields the schema does not declare, a field with the wrong wire type.
 */

const utf8 = (text: string) => Buffer.from(text, "utf8");

function varintBytes(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-delimited field (wire type 2): strings, bytes, nested messages. */
export function ld(field: number, payload: Uint8Array | string): Buffer {
  const bytes = typeof payload === "string" ? utf8(payload) : payload;
  return Buffer.concat([varintBytes((field << 3) | 2), varintBytes(bytes.length), bytes]);
}

/** A varint field (wire type 0). */
export function varint(field: number, value: number): Buffer {
  return Buffer.concat([varintBytes(field << 3), varintBytes(value)]);
}

/** A 64-bit field (wire type 1) holding a double. */
export function double(field: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return Buffer.concat([varintBytes((field << 3) | 1), b]);
}

/** google.protobuf.Value with string_value set to these bytes (valid UTF-8 or not). */
export function stringValue(bytes: Uint8Array | string): Buffer {
  return ld(3, bytes);
}

/** google.protobuf.Struct from raw entries: each key's bytes and its Value's bytes. */
export function struct(entries: ReadonlyArray<readonly [Uint8Array | string, Uint8Array]>): Buffer {
  return Buffer.concat(
    entries.map(([key, value]) => ld(1, Buffer.concat([ld(1, key), ld(2, value)]))),
  );
}
