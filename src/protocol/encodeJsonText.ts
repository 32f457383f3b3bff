import { MAX_STORED_JSON_DEPTH } from "../core/session/validate.js";

/*
 * JSON text to google.protobuf.Value / Struct bytes, without building the JS value first:
 * for a storage that holds JSON text (Redis, files), a read answered straight from it.
 *
 * The bytes are those of today's path, exactly: JSON.parse, then cloneJson (a -0 becomes
 * 0), then encodeJsonWire (keys in Object.keys order, strings as UTF-8 with a lone
 * surrogate written as U+FFFD). Where reproducing that would take more than a scan (a key
 * that is an array index, which JSON.parse moves ahead of the others; a key given twice,
 * where the last value wins at the first one's place; nesting deeper than any stored value
 * may have; anything that is not well-formed JSON, which JSON.parse refuses), the encoder
 * answers undefined and the caller takes today's path, which gives those their answer
 * (the same bytes, or JSON.parse's error).
 */

/**
 * The content of a google.protobuf.Value or Struct message, measured and ready to be
 * written: appendJsonFields writes it straight into the response's buffer.
 */
export class EncodedJson {
  /** `struct`: the content is a Struct's (a JSON object's), not a Value's. */
  readonly struct: boolean;
  /** Its byte length. */
  readonly size: number;
  readonly #scan: Scan;

  /** Use valueOfJsonText / structOfJsonText. */
  constructor(scan: Scan, struct: boolean, size: number) {
    this.#scan = scan;
    this.struct = struct;
    this.size = size;
  }

  /** Writes the content into `out` at `at`; returns where it ends. */
  writeTo(out: Buffer, at: number): number {
    const { text, tape, decoded, plain } = this.#scan;
    const w: Writer = { out, at, text, tape, next: 0, decoded, plain };
    if (this.struct) {
      w.next = 2;
      writeMembers(w, tape[w.next++] as number);
    } else writeValue(w);
    if (w.at !== at + this.size) {
      throw new Error(`JSON text encoding wrote ${w.at - at} of ${this.size} bytes`);
    }
    return w.at;
  }

  /** The content on its own. */
  get bytes(): Buffer {
    const out = Buffer.allocUnsafe(this.size);
    this.writeTo(out, 0);
    return out;
  }
}

/** `text` (one JSON value) as a google.protobuf.Value's content; undefined: take JSON.parse. */
export function valueOfJsonText(text: string): EncodedJson | undefined {
  return encode(text, false);
}

/** `text` (a JSON object) as a google.protobuf.Struct's content; undefined: take JSON.parse. */
export function structOfJsonText(text: string): EncodedJson | undefined {
  return encode(text, true);
}

/** Thrown inside the scan when the direct path does not apply; never leaves this module. */
const BAIL = Symbol("bail");

interface Scan {
  text: string;
  pos: number;
  /**
   * What the write pass does, in order (see the T_ codes): a value's kind and what it
   * needs (sizes, string spans, numbers), so that writing does not scan the text again.
   */
  tape: number[];
  /** The strings that had escapes, decoded, in order. */
  decoded: string[];
  /** Where the next backslash at or after the last string's start is (Infinity: none). */
  backslash: number;
  /**
   * The whole text is ASCII without a control character (JSON.stringify's output for most
   * session data): a raw string's byte length is its length, and it needs no check.
   */
  plain: boolean;
}

// Tape codes. A Value is one of: T_NULL, T_TRUE, T_FALSE; T_NUM value; T_STR start end
// bytes; T_ESC decodedIndex bytes; T_OBJ size count, then per member: entrySize, the key
// (T_STR or T_ESC), valueSize, the value; T_ARR size count, then per item: size, the value.
const T_NULL = 0;
const T_TRUE = 1;
const T_FALSE = 2;
const T_NUM = 3;
const T_STR = 4;
const T_ESC = 5;
const T_OBJ = 6;
const T_ARR = 7;

function encode(text: string, struct: boolean): EncodedJson | undefined {
  const s: Scan = {
    text,
    pos: 0,
    tape: [],
    decoded: [],
    backslash: -1,
    plain: text.length >= SHORT && isPlain(text),
  };
  let total: number;
  try {
    skipSpace(s);
    if (struct) {
      if (text.charCodeAt(s.pos) !== 0x7b) return undefined;
      s.pos++;
      s.tape.push(T_OBJ, 0, 0);
      total = measureObject(s, 1, 1);
    } else total = measureValue(s, 0);
    skipSpace(s);
    if (s.pos !== text.length) return undefined;
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  }
  return new EncodedJson(s, struct, total);
}

// --- measuring (and checking) ---

function skipSpace(s: Scan): void {
  const text = s.text;
  let pos = s.pos;
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
    else break;
  }
  s.pos = pos;
}

/** The size of a Value's content for the value at s.pos; `depth`: its nesting level. */
function measureValue(s: Scan, depth: number): number {
  const c = s.text.charCodeAt(s.pos);
  switch (c) {
    case 0x22: // "
      return 1 + measureString(s);
    case 0x7b: {
      // {
      if (depth >= MAX_STORED_JSON_DEPTH) throw BAIL;
      s.pos++;
      const at = s.tape.push(T_OBJ, 0, 0) - 2;
      const size = measureObject(s, depth + 1, at);
      return 1 + varintSize(size) + size;
    }
    case 0x5b: {
      // [
      if (depth >= MAX_STORED_JSON_DEPTH) throw BAIL;
      s.pos++;
      const at = s.tape.push(T_ARR, 0, 0) - 2;
      const size = measureArray(s, depth + 1, at);
      return 1 + varintSize(size) + size;
    }
    case 0x74: // t
      expectWord(s, "true");
      s.tape.push(T_TRUE);
      return 2;
    case 0x66: // f
      expectWord(s, "false");
      s.tape.push(T_FALSE);
      return 2;
    case 0x6e: // n
      expectWord(s, "null");
      s.tape.push(T_NULL);
      return 2;
    default:
      s.tape.push(T_NUM, scanNumber(s));
      return 9;
  }
}

function expectWord(s: Scan, word: string): void {
  if (!s.text.startsWith(word, s.pos)) throw BAIL;
  s.pos += word.length;
}

/**
 * After "{": the Struct content size of the object's members; `at`: where on the tape its
 * size and member count go.
 */
function measureObject(s: Scan, depth: number, at: number): number {
  skipSpace(s);
  if (s.text.charCodeAt(s.pos) === 0x7d) {
    s.pos++;
    return 0;
  }
  const keys: string[] = [];
  let total = 0;
  for (;;) {
    if (s.text.charCodeAt(s.pos) !== 0x22) throw BAIL;
    const entryAt = s.tape.push(0) - 1;
    const keyStart = s.pos;
    const keyDecodedBefore = s.decoded.length;
    const keySize = measureString(s);
    const key =
      s.decoded.length > keyDecodedBefore
        ? (s.decoded[keyDecodedBefore] as string)
        : s.text.slice(keyStart + 1, s.pos - 1);
    // JSON.parse puts array-index keys first, in numeric order: not a scan's order.
    if (isArrayIndex(key)) throw BAIL;
    keys.push(key);
    skipSpace(s);
    if (s.text.charCodeAt(s.pos) !== 0x3a) throw BAIL;
    s.pos++;
    skipSpace(s);
    const valueAt = s.tape.push(0) - 1;
    const size = measureValue(s, depth);
    s.tape[valueAt] = size;
    const entry = 1 + keySize + 1 + varintSize(size) + size;
    s.tape[entryAt] = entry;
    total += 1 + varintSize(entry) + entry;
    skipSpace(s);
    const c = s.text.charCodeAt(s.pos++);
    if (c === 0x7d) break;
    if (c !== 0x2c) throw BAIL;
    skipSpace(s);
  }
  // A key given twice: JSON.parse keeps the last value at the first one's place.
  if (hasDuplicate(keys)) throw BAIL;
  s.tape[at] = total;
  s.tape[at + 1] = keys.length;
  return total;
}

function hasDuplicate(keys: string[]): boolean {
  if (keys.length <= 16) {
    for (let i = 1; i < keys.length; i++) {
      for (let j = 0; j < i; j++) if (keys[i] === keys[j]) return true;
    }
    return false;
  }
  return new Set(keys).size !== keys.length;
}

/** A canonical array index ("0", "17", not "017" or "4294967295"), as V8 orders keys. */
function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  if (!(first >= 0x30 && first <= 0x39)) return false;
  if (key.length > 10 || (first === 0x30 && key.length > 1)) return false;
  for (let i = 1; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return Number(key) < 4294967295;
}

/** After "[": the ListValue content size of the items; `at` as for measureObject. */
function measureArray(s: Scan, depth: number, at: number): number {
  skipSpace(s);
  if (s.text.charCodeAt(s.pos) === 0x5d) {
    s.pos++;
    return 0;
  }
  let total = 0;
  let count = 0;
  for (;;) {
    const itemAt = s.tape.push(0) - 1;
    const size = measureValue(s, depth);
    s.tape[itemAt] = size;
    count++;
    total += 1 + varintSize(size) + size;
    skipSpace(s);
    const c = s.text.charCodeAt(s.pos++);
    if (c === 0x5d) break;
    if (c !== 0x2c) throw BAIL;
    skipSpace(s);
  }
  s.tape[at] = total;
  s.tape[at + 1] = count;
  return total;
}

/**
 * The string at s.pos (its opening quote): records its UTF-8 byte length (a lone surrogate
 * counts as U+FFFD's 3 bytes, as Buffer writes it) and, if it has escapes, its decoded
 * text; returns the size of its length prefix and bytes.
 */
function measureString(s: Scan): number {
  const text = s.text;
  const start = s.pos + 1;
  const end = text.indexOf('"', start);
  if (end < 0) throw BAIL;
  // The next backslash, found once for all the strings before it.
  if (s.backslash < start) {
    const at = text.indexOf("\\", start);
    s.backslash = at < 0 ? Number.POSITIVE_INFINITY : at;
  }
  if (s.backslash < end) return measureEscaped(s);
  let bytes: number;
  if (s.plain) bytes = end - start;
  else if (end - start < SHORT) bytes = utf8Length(text, start, end, true);
  else {
    RAW.lastIndex = start;
    RAW.test(text);
    if (RAW.lastIndex !== end) throw BAIL; // a raw control character: JSON.parse refuses it
    bytes = byteLength(text, start, end);
  }
  s.pos = end + 1;
  s.tape.push(T_STR, start, end, bytes);
  return varintSize(bytes) + bytes;
}

/** ASCII from space on: no control character, nothing that takes more than a byte. */
const PLAIN = /^[\u0020-\u007f]*$/;

function isPlain(text: string): boolean {
  // The length test first: a native count that rules out most non-ASCII text at once.
  return Buffer.byteLength(text, "utf8") === text.length && PLAIN.test(text);
}

/** A string's characters up to its closing quote, a backslash or a control character. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON refuses them raw in a string: the scan stops there
const RAW = /[^"\\\u0000-\u001f]*/y;
/** Below this length strings are measured and copied in JS: cheaper than a native call. */
const SHORT = 64;

function byteLength(text: string, start: number, end: number): number {
  return Buffer.byteLength(text.slice(start, end), "utf8");
}

/** A string with escapes: decoded by JSON.parse itself, so that every escape means the same. */
function measureEscaped(s: Scan): number {
  const text = s.text;
  let pos = s.pos + 1;
  for (;;) {
    if (pos >= text.length) throw BAIL;
    const c = text.charCodeAt(pos);
    if (c === 0x22) break;
    pos += c === 0x5c ? 2 : 1;
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(text.slice(s.pos, pos + 1));
  } catch {
    throw BAIL;
  }
  if (typeof decoded !== "string") throw BAIL;
  s.pos = pos + 1;
  const bytes =
    decoded.length < SHORT
      ? utf8Length(decoded, 0, decoded.length, false)
      : Buffer.byteLength(decoded, "utf8");
  s.tape.push(T_ESC, s.decoded.push(decoded) - 1, bytes);
  return varintSize(bytes) + bytes;
}

/**
 * UTF-8 bytes of text[start, end), a lone surrogate as U+FFFD's 3 (as Buffer counts);
 * `raw`: the characters of a JSON string as written, where a control character is refused.
 */
function utf8Length(text: string, start: number, end: number, raw: boolean): number {
  let bytes = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c < 0x20 && raw) throw BAIL;
      bytes += 1;
    } else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        bytes += 4;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** A JSON number token, strictly by JSON's grammar; its value as JSON.parse gives it, -0 as 0. */
function scanNumber(s: Scan): number {
  const text = s.text;
  const start = s.pos;
  let pos = start;
  if (text.charCodeAt(pos) === 0x2d) pos++;
  const first = text.charCodeAt(pos);
  if (first === 0x30) pos++;
  else if (first >= 0x31 && first <= 0x39) pos = digits(text, pos + 1);
  else throw BAIL;
  if (text.charCodeAt(pos) === 0x2e) {
    const after = digits(text, pos + 1);
    if (after === pos + 1) throw BAIL;
    pos = after;
  }
  const e = text.charCodeAt(pos);
  if (e === 0x65 || e === 0x45) {
    pos++;
    const sign = text.charCodeAt(pos);
    if (sign === 0x2b || sign === 0x2d) pos++;
    const after = digits(text, pos);
    if (after === pos) throw BAIL;
    pos = after;
  }
  s.pos = pos;
  const n = Number(text.slice(start, pos));
  return n === 0 ? 0 : n; // cloneJson: JSON has no -0
}

function digits(text: string, pos: number): number {
  for (;;) {
    const c = text.charCodeAt(pos); // NaN past the end
    if (!(c >= 0x30 && c <= 0x39)) return pos;
    pos++;
  }
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

// --- writing: what the tape says ---

interface Writer {
  out: Buffer;
  at: number;
  text: string;
  tape: number[];
  next: number;
  decoded: string[];
  /** The scan's `plain`. */
  plain: boolean;
}

function writeValue(w: Writer): void {
  const out = w.out;
  const tape = w.tape;
  switch (tape[w.next++]) {
    case T_STR:
    case T_ESC:
      w.next--;
      out[w.at++] = 26; // string_value (3)
      writeString(w);
      return;
    case T_OBJ:
      out[w.at++] = 42; // struct_value (5)
      varint(w, tape[w.next++] as number);
      writeMembers(w, tape[w.next++] as number);
      return;
    case T_ARR: {
      out[w.at++] = 50; // list_value (6)
      varint(w, tape[w.next++] as number);
      const count = tape[w.next++] as number;
      for (let i = 0; i < count; i++) {
        out[w.at++] = 10; // values (1)
        varint(w, tape[w.next++] as number);
        writeValue(w);
      }
      return;
    }
    case T_TRUE:
      out[w.at++] = 32; // bool_value (4)
      out[w.at++] = 1;
      return;
    case T_FALSE:
      out[w.at++] = 32;
      out[w.at++] = 0;
      return;
    case T_NULL:
      out[w.at++] = 8; // null_value (1)
      out[w.at++] = 0;
      return;
    default:
      out[w.at++] = 17; // number_value (2)
      w.at = out.writeDoubleLE(tape[w.next++] as number, w.at);
  }
}

/** A Struct's `count` members. */
function writeMembers(w: Writer, count: number): void {
  const out = w.out;
  for (let i = 0; i < count; i++) {
    out[w.at++] = 10; // fields (1): one map entry
    varint(w, w.tape[w.next++] as number);
    out[w.at++] = 10; // key (1)
    writeString(w);
    out[w.at++] = 18; // value (2)
    varint(w, w.tape[w.next++] as number);
    writeValue(w);
  }
}

/** A T_STR or T_ESC: length prefix and UTF-8 bytes. */
function writeString(w: Writer): void {
  const tape = w.tape;
  if (tape[w.next++] === T_STR) {
    const start = tape[w.next++] as number;
    const end = tape[w.next++] as number;
    const bytes = tape[w.next++] as number;
    varint(w, bytes);
    if (end - start < SHORT) writeUtf8(w, w.text, start, end);
    // ASCII: one byte per character, copied as such.
    else w.at += w.out.write(w.text.slice(start, end), w.at, bytes, w.plain ? "latin1" : "utf8");
  } else {
    const text = w.decoded[tape[w.next++] as number] as string;
    const bytes = tape[w.next++] as number;
    varint(w, bytes);
    if (text.length < SHORT) writeUtf8(w, text, 0, text.length);
    else w.at += w.out.write(text, w.at, bytes, "utf8");
  }
}

/** text[from, to) as UTF-8, a lone surrogate as U+FFFD (as Buffer.write does). */
function writeUtf8(w: Writer, text: string, from: number, end: number): void {
  const out = w.out;
  let at = w.at;
  for (let i = from; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
    } else if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        i++;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[at++] = 0xf0 | (cp >> 18);
        out[at++] = 0x80 | ((cp >> 12) & 0x3f);
        out[at++] = 0x80 | ((cp >> 6) & 0x3f);
        out[at++] = 0x80 | (cp & 0x3f);
        continue;
      }
      out[at++] = 0xef; // U+FFFD
      out[at++] = 0xbf;
      out[at++] = 0xbd;
    } else {
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    }
  }
  w.at = at;
}

function varint(w: Writer, n: number): void {
  while (n >= 0x80) {
    w.out[w.at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  w.out[w.at++] = n;
}
