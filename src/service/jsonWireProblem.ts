import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/**
 * What the generated decoder would silently drop from a google.protobuf.Value or Struct,
 * read from the wire bytes: a Value with no kind set (inside a Struct the whole entry
 * vanishes), a Struct entry without a value, and the key "__proto__" (assigning it to a
 * plain object replaces the prototype instead of adding a key). Found here, they become
 * INVALID_ARGUMENT instead of a write that quietly lost part of the request.
 */

const MAX_DEPTH = 100; // the generated decoder's own recursion limit

/** The problem with a `Value` message's bytes, or undefined when it is fine. */
export function valueWireProblem(bytes: Uint8Array, path: string, depth = 0): string | undefined {
  if (depth > MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels`;
  const reader = new BinaryReader(bytes);
  let kinds = 0;
  while (reader.pos < reader.len) {
    const [field, type] = reader.tag();
    // The kind oneof: null (1), number (2), string (3), bool (4), struct (5), list (6).
    if (field === 5 && type === WireType.LengthDelimited) {
      kinds++;
      const p = structWireProblem(reader.bytes(), path, depth + 1);
      if (p) return p;
    } else if (field === 6 && type === WireType.LengthDelimited) {
      kinds++;
      const p = listWireProblem(reader.bytes(), path, depth + 1);
      if (p) return p;
    } else {
      if (isScalarKind(field, type)) kinds++;
      reader.skip(type, field);
    }
  }
  return kinds === 0 ? `${path} is a google.protobuf.Value with no kind set` : undefined;
}

/** The problem with a `Struct` message's bytes, or undefined when it is fine. */
export function structWireProblem(bytes: Uint8Array, path: string, depth = 0): string | undefined {
  if (depth > MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels`;
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, type] = reader.tag();
    if (field !== 1 || type !== WireType.LengthDelimited) {
      reader.skip(type, field);
      continue;
    }
    // One map entry: key (1), value (2).
    const entry = new BinaryReader(reader.bytes());
    let key = "";
    let value: Uint8Array | undefined;
    while (entry.pos < entry.len) {
      const [f, t] = entry.tag();
      if (f === 1 && t === WireType.LengthDelimited) key = entry.string();
      else if (f === 2 && t === WireType.LengthDelimited) value = entry.bytes();
      else entry.skip(t, f);
    }
    const at = `${path}.${JSON.stringify(key)}`;
    if (key === "__proto__") return `${at}: the key "__proto__" is reserved`;
    if (value === undefined) return `${at} has no value`;
    const p = valueWireProblem(value, at, depth + 1);
    if (p) return p;
  }
  return undefined;
}

function listWireProblem(bytes: Uint8Array, path: string, depth: number): string | undefined {
  const reader = new BinaryReader(bytes);
  let index = 0;
  while (reader.pos < reader.len) {
    const [field, type] = reader.tag();
    if (field === 1 && type === WireType.LengthDelimited) {
      const p = valueWireProblem(reader.bytes(), `${path}[${index++}]`, depth + 1);
      if (p) return p;
    } else {
      reader.skip(type, field);
    }
  }
  return undefined;
}

function isScalarKind(field: number, type: WireType): boolean {
  return (
    ((field === 1 || field === 4) && type === WireType.Varint) ||
    (field === 2 && type === WireType.Bit64) ||
    (field === 3 && type === WireType.LengthDelimited)
  );
}
