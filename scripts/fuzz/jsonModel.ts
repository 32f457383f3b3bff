import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { JsonValue, SessionData } from "../../src/core/json.js";

/**
 * The fuzzer's own view of JSON values: what a request should store, and what a response
 * holds, decoded from the wire by hand. The generated decoder is not used for responses
 * because it assigns Struct keys with `obj[key] = …`, which loses a "__proto__" key.
 */

export type Json = JsonValue;
export type Data = SessionData;

/** Sets an own enumerable property, "__proto__" included. */
export function setOwn(target: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

export function emptyObject(): Record<string, Json> {
  return {};
}

/** A stable text of a value: object keys sorted, numbers as JSON writes them (-0 as 0). */
export function canonical(value: Json | Data | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v)).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

export function jsonBytes(value: Json): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/** The size maxSessionBytes counts: key bytes plus value JSON bytes. */
export function sessionBytes(data: Data): number {
  let total = 0;
  for (const key of Object.keys(data)) {
    total += Buffer.byteLength(key, "utf8") + jsonBytes(data[key] as Json);
  }
  return total;
}

export function copyData(data: Data): Data {
  const out: Data = {};
  for (const key of Object.keys(data)) setOwn(out, key, data[key] as Json);
  return out;
}

export function shortJson(value: Json | Data | undefined, max = 60): string {
  const text = canonical(value);
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

/** A google.protobuf.Value from response bytes; throws on anything it does not expect. */
export function decodeValue(bytes: Uint8Array): Json {
  const reader = new BinaryReader(bytes);
  let out: Json | undefined;
  while (reader.pos < reader.len) {
    const [field, type] = reader.tag();
    if (field === 1 && type === WireType.Varint) {
      reader.int32();
      out = null;
    } else if (field === 2 && type === WireType.Bit64) out = reader.double();
    else if (field === 3 && type === WireType.LengthDelimited) out = strictUtf8(reader.bytes());
    else if (field === 4 && type === WireType.Varint) out = reader.bool();
    else if (field === 5 && type === WireType.LengthDelimited) out = decodeStruct(reader.bytes());
    else if (field === 6 && type === WireType.LengthDelimited) {
      const list = new BinaryReader(reader.bytes());
      const items: Json[] = [];
      while (list.pos < list.len) {
        const [f, t] = list.tag();
        if (f !== 1 || t !== WireType.LengthDelimited) throw new Error(`ListValue field ${f}/${t}`);
        items.push(decodeValue(list.bytes()));
      }
      out = items;
    } else throw new Error(`Value field ${field}/${type}`);
  }
  if (out === undefined) throw new Error("Value with no kind in a response");
  return out;
}

export function decodeStruct(bytes: Uint8Array): Record<string, Json> {
  const reader = new BinaryReader(bytes);
  const out = emptyObject();
  while (reader.pos < reader.len) {
    const [field, type] = reader.tag();
    if (field !== 1 || type !== WireType.LengthDelimited) throw new Error(`Struct field ${field}`);
    const entry = new BinaryReader(reader.bytes());
    let key = "";
    let value: Json | undefined;
    while (entry.pos < entry.len) {
      const [f, t] = entry.tag();
      if (f === 1 && t === WireType.LengthDelimited) key = strictUtf8(entry.bytes());
      else if (f === 2 && t === WireType.LengthDelimited) value = decodeValue(entry.bytes());
      else throw new Error(`Struct entry field ${f}/${t}`);
    }
    if (value === undefined) throw new Error(`Struct entry ${JSON.stringify(key)} without value`);
    if (Object.hasOwn(out, key)) throw new Error(`Struct key ${JSON.stringify(key)} twice`);
    setOwn(out, key, value);
  }
  return out;
}

// A leading U+FEFF is text here, not a byte-order mark to strip.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A response string; a server that sends invalid UTF-8 back is caught here. */
export function strictUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
