import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { assignKey, type JsonValue, type SessionData } from "../core/json.js";
import { notUtf8, WireProblem } from "./WireProblem.js";
import { wireTypeName } from "./wireTypeName.js";

/*
 * google.protobuf.Value / Struct / ListValue bytes to JSON, exactly, or a WireProblem.
 * The generated decoder is not exact: it turns bytes that are not UTF-8 into U+FFFD (so
 * the keys `6b fe` and `6b ff` become one), assigns Struct keys with `obj[key] = …`
 * (a "__proto__" key replaces the object's prototype or vanishes), drops a Value with no
 * kind and skips fields these types do not declare. Refused here rather than guessed:
 * - text that is not UTF-8, in keys and in string_value;
 * - a Value with no kind, or with more than one kind field: protobuf would keep the
 *   last kind, or merge two struct_value (or list_value) fields into one; a conforming
 *   encoder never sends either, so this server refuses instead of picking a meaning;
 * - a Struct key sent twice (protobuf keeps the last), a Struct entry with its key or
 *   value twice, or without a value;
 * - fields these types do not declare, or declared ones with the wrong wire type.
 * Every Struct becomes a plain object holding each key as an own property. Nesting is
 * bounded by `maxDepth`, counted as the library counts it for MAX_JSON_DEPTH: `depth` is
 * the JSON level of the Value being read, and a Struct or ListValue is at the level of the
 * Value that holds it.
 */

// The kind oneof, by field number: null (1), number (2), string (3), bool (4), struct (5), list (6).
const KIND_NAMES = [
  "",
  "null_value",
  "number_value",
  "string_value",
  "bool_value",
  "struct_value",
  "list_value",
];
const KIND_WIRE_TYPES = [
  undefined,
  WireType.Varint,
  WireType.Bit64,
  WireType.LengthDelimited,
  WireType.Varint,
  WireType.LengthDelimited,
  WireType.LengthDelimited,
];

/**
 * A `Value` message's bytes as the JSON value they carry; `path` names it in problems.
 * `maxDepth`: MAX_JSON_DEPTH for requests (what a write may carry), MAX_STORED_JSON_DEPTH
 * for responses (what a session may hold, written by an older version).
 */
export function decodeValue(bytes: Uint8Array, path: string, maxDepth: number): JsonValue {
  const reader = new BinaryReader(bytes);
  return value(reader, reader.len, path, 0, maxDepth);
}

/**
 * A `Struct` message's bytes as a plain object; `path` names it in problems. Read as a
 * session's data (SetMap): each of its values is a value of its own, at level 0.
 */
export function decodeStruct(bytes: Uint8Array, path: string, maxDepth: number): SessionData {
  const reader = new BinaryReader(bytes);
  return struct(reader, reader.len, path, -1, maxDepth);
}

// One reader walks the whole field; each nested message is read up to its `end`.

function value(
  r: BinaryReader,
  end: number,
  path: string,
  depth: number,
  maxDepth: number,
): JsonValue {
  if (depth > maxDepth) throw new WireProblem(`${path} is nested deeper than ${maxDepth} levels`);
  let kind = 0;
  let out: JsonValue = null;
  while (r.pos < end) {
    const [field, type] = r.tag();
    if (KIND_WIRE_TYPES[field] !== type)
      throw undeclared(path, "google.protobuf.Value", field, type);
    if (kind !== 0) {
      const kinds =
        kind === field
          ? `${KIND_NAMES[field]} twice`
          : `${KIND_NAMES[kind]} and ${KIND_NAMES[field]}`;
      throw new WireProblem(
        `${path}: google.protobuf.Value sets ${kinds}; a Value carries one kind, and a field sent twice is refused, not merged`,
      );
    }
    kind = field;
    switch (field) {
      case 1:
        r.int32();
        out = null;
        break;
      case 2:
        out = r.double();
        break;
      case 3:
        out = text(r, `${path}: string_value`);
        break;
      case 4:
        out = r.bool();
        break;
      case 5:
        out = struct(r, nestedEnd(r), path, depth, maxDepth);
        break;
      default:
        out = list(r, nestedEnd(r), path, depth, maxDepth);
    }
  }
  assertEnd(r, end);
  if (kind === 0) throw new WireProblem(`${path} is a google.protobuf.Value with no kind set`);
  return out;
}

function struct(
  r: BinaryReader,
  end: number,
  path: string,
  depth: number,
  maxDepth: number,
): SessionData {
  const out: SessionData = {};
  while (r.pos < end) {
    const [field, type] = r.tag();
    if (field !== 1 || type !== WireType.LengthDelimited) {
      throw undeclared(path, "google.protobuf.Struct", field, type);
    }
    // One map entry: key (1) and value (2), in either order. The value is decoded once
    // the key is known, to name it in problems.
    const entryEnd = nestedEnd(r);
    let key: string | undefined;
    let valueStart = -1;
    let valueEnd = -1;
    while (r.pos < entryEnd) {
      const [f, t] = r.tag();
      if (t !== WireType.LengthDelimited || (f !== 1 && f !== 2)) {
        throw undeclared(path, "a google.protobuf.Struct entry", f, t);
      }
      if (f === 1 ? key !== undefined : valueStart >= 0) {
        throw new WireProblem(
          `${path}: a google.protobuf.Struct entry sets its ${f === 1 ? "key" : "value"} twice; a field sent twice is refused, not merged`,
        );
      }
      if (f === 1) key = text(r, `${path}: a key`);
      else {
        valueEnd = nestedEnd(r);
        valueStart = r.pos;
        r.pos = valueEnd;
      }
    }
    assertEnd(r, entryEnd);
    key ??= ""; // proto3: an absent string is the empty one
    const at = `${path}.${JSON.stringify(key)}`;
    if (Object.hasOwn(out, key)) {
      throw new WireProblem(`${at} appears twice in one google.protobuf.Struct`);
    }
    if (valueStart < 0) throw new WireProblem(`${at} has no value`);
    r.pos = valueStart;
    assignKey(out, key, value(r, valueEnd, at, depth + 1, maxDepth));
    r.pos = entryEnd;
  }
  assertEnd(r, end);
  return out;
}

function list(
  r: BinaryReader,
  end: number,
  path: string,
  depth: number,
  maxDepth: number,
): JsonValue[] {
  const out: JsonValue[] = [];
  while (r.pos < end) {
    const [field, type] = r.tag();
    if (field !== 1 || type !== WireType.LengthDelimited) {
      throw undeclared(path, "google.protobuf.ListValue", field, type);
    }
    out.push(value(r, nestedEnd(r), `${path}[${out.length}]`, depth + 1, maxDepth));
  }
  assertEnd(r, end);
  return out;
}

/** Reads a nested message's length; returns where it ends. */
function nestedEnd(r: BinaryReader): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > r.len) throw new RangeError("premature EOF");
  return end;
}

/** A field that ran past the end of the message holding it is malformed. */
function assertEnd(r: BinaryReader, end: number): void {
  if (r.pos !== end) throw new RangeError("a field overruns the message holding it");
}

/** The next length-delimited field as text; a WireProblem naming `what` when not UTF-8. */
function text(r: BinaryReader, what: string): string {
  const start = r.pos;
  try {
    return r.string(true);
  } catch {
    r.pos = start;
    throw notUtf8(what, r.bytes());
  }
}

function undeclared(path: string, typeName: string, field: number, type: WireType): WireProblem {
  return new WireProblem(
    `${path}: ${typeName} has no field ${field} of wire type ${wireTypeName(type)}`,
  );
}
