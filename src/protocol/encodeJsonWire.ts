import type { JsonValue } from "../core/json.js";
import { EncodedJson } from "./encodeJsonText.js";

/*
 * JSON to google.protobuf.Value / Struct bytes. The generated encoder copies a Struct's
 * keys with `fields[key] = …`, which drops a "__proto__" key (or, for an object value,
 * makes it the copy's prototype); this writes every own key of every object.
 *
 * Two passes instead of BinaryWriter's fork/join, which copies every nested message once
 * per level: the first measures every nested message and string (in the order the second
 * meets them), the second writes into one buffer of the exact size.
 */

/**
 * A singular Value (struct = false) or Struct (struct = true) field and its content: a JSON
 * value, or one already encoded (EncodedJson, from JSON text: see encodeJsonText.ts).
 */
export interface JsonFieldValue {
  readonly number: number;
  readonly struct: boolean;
  readonly value: JsonValue | EncodedJson;
}

/** `head` (other fields, already encoded) followed by the JSON fields. */
export function appendJsonFields(head: Uint8Array, fields: readonly JsonFieldValue[]): Buffer {
  const sizes: number[] = [];
  let total = head.length;
  for (const f of fields) {
    const size = measure(f, sizes);
    total += varintSize((f.number << 3) | 2) + varintSize(size) + size;
  }
  const w: Writer = { out: Buffer.allocUnsafe(total), pos: head.length, sizes, next: 0 };
  w.out.set(head, 0);
  for (const f of fields) {
    varint(w, (f.number << 3) | 2);
    varint(w, w.sizes[w.next++] as number);
    const value = f.value;
    if (value instanceof EncodedJson) w.pos = value.writeTo(w.out, w.pos);
    else if (f.struct) writeStruct(w, value as Obj);
    else writeValue(w, value);
  }
  if (w.pos !== total) throw new Error(`JSON field encoding wrote ${w.pos} of ${total} bytes`);
  return w.out;
}

type Obj = { [key: string]: JsonValue };

interface Writer {
  out: Buffer;
  pos: number;
  /** What measure() recorded, consumed in the same order. */
  sizes: number[];
  next: number;
}

function measure(f: JsonFieldValue, sizes: number[]): number {
  const at = sizes.push(0) - 1;
  const value = f.value;
  let size: number;
  if (value instanceof EncodedJson) {
    if (value.struct !== f.struct) {
      throw new TypeError(`field ${f.number} takes a ${f.struct ? "Struct" : "Value"}`);
    }
    size = value.size;
  } else size = f.struct ? structSize(value as Obj, sizes) : valueSize(value, sizes);
  sizes[at] = size;
  return size;
}

// Measuring. Each function returns the size of a message's content and records, in write
// order, the content size of every nested message and the byte length of every string.

function valueSize(value: JsonValue, sizes: number[]): number {
  if (value === null) return 2;
  switch (typeof value) {
    case "number":
      return 9;
    case "boolean":
      return 2;
    case "string":
      return 1 + stringSize(value, sizes);
    case "object": {
      const at = sizes.push(0) - 1;
      const size = Array.isArray(value) ? listSize(value, sizes) : structSize(value, sizes);
      sizes[at] = size;
      return 1 + varintSize(size) + size;
    }
    default:
      throw new TypeError(`a ${typeof value} is not a JSON value`);
  }
}

function structSize(data: Obj, sizes: number[]): number {
  let total = 0;
  for (const key of Object.keys(data)) {
    const entryAt = sizes.push(0) - 1;
    const keySize = stringSize(key, sizes);
    const valueAt = sizes.push(0) - 1;
    const size = valueSize(data[key] as JsonValue, sizes);
    sizes[valueAt] = size;
    const entry = 1 + keySize + 1 + varintSize(size) + size;
    sizes[entryAt] = entry;
    total += 1 + varintSize(entry) + entry;
  }
  return total;
}

function listSize(items: JsonValue[], sizes: number[]): number {
  let total = 0;
  for (const item of items) {
    const at = sizes.push(0) - 1;
    const size = valueSize(item, sizes);
    sizes[at] = size;
    total += 1 + varintSize(size) + size;
  }
  return total;
}

/** Below this length strings are measured and copied in JS: cheaper than a native call. */
const SHORT = 64;

/** A string's length prefix and bytes; records the byte length. */
function stringSize(text: string, sizes: number[]): number {
  const bytes =
    text.length < SHORT && isAscii(text) ? text.length : Buffer.byteLength(text, "utf8");
  sizes.push(bytes);
  return varintSize(bytes) + bytes;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

// Writing, in the order measuring recorded.

function writeValue(w: Writer, value: JsonValue): void {
  const out = w.out;
  if (value === null) {
    out[w.pos++] = 8; // null_value = NULL_VALUE (0)
    out[w.pos++] = 0;
    return;
  }
  switch (typeof value) {
    case "number":
      out[w.pos++] = 17;
      w.pos = out.writeDoubleLE(value, w.pos);
      return;
    case "boolean":
      out[w.pos++] = 32;
      out[w.pos++] = value ? 1 : 0;
      return;
    case "string":
      out[w.pos++] = 26;
      writeString(w, value);
      return;
    default:
      if (Array.isArray(value)) {
        out[w.pos++] = 50;
        varint(w, w.sizes[w.next++] as number);
        for (const item of value) {
          out[w.pos++] = 10;
          varint(w, w.sizes[w.next++] as number);
          writeValue(w, item);
        }
      } else {
        out[w.pos++] = 42;
        varint(w, w.sizes[w.next++] as number);
        writeStruct(w, value as Obj);
      }
  }
}

function writeStruct(w: Writer, data: Obj): void {
  for (const key of Object.keys(data)) {
    w.out[w.pos++] = 10; // fields (1): one map entry
    varint(w, w.sizes[w.next++] as number);
    w.out[w.pos++] = 10; // key (1)
    writeString(w, key);
    w.out[w.pos++] = 18; // value (2)
    varint(w, w.sizes[w.next++] as number);
    writeValue(w, data[key] as JsonValue);
  }
}

function writeString(w: Writer, text: string): void {
  const bytes = w.sizes[w.next++] as number;
  varint(w, bytes);
  // As many bytes as UTF-16 units: every character is ASCII.
  if (bytes === text.length && bytes < SHORT) {
    const out = w.out;
    for (let i = 0; i < bytes; i++) out[w.pos++] = text.charCodeAt(i);
  } else w.pos += w.out.write(text, w.pos, bytes, "utf8");
}

function varint(w: Writer, n: number): void {
  while (n >= 0x80) {
    w.out[w.pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  w.out[w.pos++] = n;
}
