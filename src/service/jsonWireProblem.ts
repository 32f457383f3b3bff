import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/**
 * What the generated decoder would silently drop from a google.protobuf.Value or Struct,
 * read from the wire bytes: a Value with no kind set (inside a Struct the whole entry
 * vanishes), a Struct entry without a value, and the key "__proto__" (assigning it to a
 * plain object replaces the prototype instead of adding a key), and fields these types do
 * not declare (or declared fields with the wrong wire type), which it skips. Found here,
 * they become INVALID_ARGUMENT instead of a write that quietly lost part of the request.
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
    } else if (isScalarKind(field, type)) {
      kinds++;
      reader.skip(type, field);
    } else {
      return undeclared(path, "google.protobuf.Value", field, type);
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
      return undeclared(path, "google.protobuf.Struct", field, type);
    }
    // One map entry: key (1), value (2).
    const entry = new BinaryReader(reader.bytes());
    let key = "";
    let value: Uint8Array | undefined;
    while (entry.pos < entry.len) {
      const [f, t] = entry.tag();
      if (f === 1 && t === WireType.LengthDelimited) key = entry.string();
      else if (f === 2 && t === WireType.LengthDelimited) value = entry.bytes();
      else return undeclared(path, "a google.protobuf.Struct entry", f, t);
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
      return undeclared(path, "google.protobuf.ListValue", field, type);
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

function undeclared(path: string, typeName: string, field: number, type: WireType): string {
  return `${path}: ${typeName} has no field ${field} of wire type ${wireTypeName(type)}`;
}

const WIRE_TYPE_NAMES: Record<WireType, string> = {
  [WireType.Varint]: "varint",
  [WireType.Bit64]: "64-bit",
  [WireType.LengthDelimited]: "length-delimited",
  [WireType.StartGroup]: "start-group",
  [WireType.EndGroup]: "end-group",
  [WireType.Bit32]: "32-bit",
};

export function wireTypeName(type: WireType): string {
  return WIRE_TYPE_NAMES[type] ?? `wire type ${type}`;
}
