/**
 * Protobuf wire encoding by hand, so that requests can be exactly as wrong as wanted:
 * invalid UTF-8, duplicate and unknown fields, wrong wire types, truncated varints and
 * lengths that run past the end. Every helper returns bytes; messages are concatenations.
 */

export const WT = { varint: 0, bit64: 1, len: 2, startGroup: 3, endGroup: 4, bit32: 5 } as const;

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A base-128 varint of a non-negative integer below 2^64 (or above, on purpose). */
export function varint(value: bigint | number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n) v = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

export function tag(field: number, wireType: number): Uint8Array {
  return varint((BigInt(field) << 3n) | BigInt(wireType));
}

export function lenField(field: number, payload: Uint8Array): Uint8Array {
  return concat([tag(field, WT.len), varint(payload.length), payload]);
}

export function varintField(field: number, value: bigint | number): Uint8Array {
  return concat([tag(field, WT.varint), varint(value)]);
}

export function doubleField(field: number, value: number): Uint8Array {
  return concat([tag(field, WT.bit64), doubleBytes(value)]);
}

export function doubleBytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value, true);
  return out;
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Any field of any wire type with a plausible payload (used for unknown fields). */
export function anyField(field: number, wireType: number, payload: Uint8Array): Uint8Array {
  switch (wireType) {
    case WT.varint:
      return concat([tag(field, wireType), varint(payload.length)]);
    case WT.bit64:
      return concat([tag(field, wireType), padTo(payload, 8)]);
    case WT.bit32:
      return concat([tag(field, wireType), padTo(payload, 4)]);
    case WT.startGroup:
      return concat([tag(field, WT.startGroup), tag(field, WT.endGroup)]);
    case WT.endGroup:
      return tag(field, WT.endGroup);
    default:
      return lenField(field, payload);
  }
}

function padTo(payload: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(payload.subarray(0, n));
  return out;
}
