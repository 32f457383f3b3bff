import type { Rng } from "./Rng.js";
import { concat, utf8 } from "./wire.js";

/** A string field's bytes; `text` is undefined when they are not valid UTF-8. */
export interface FuzzString {
  bytes: Uint8Array;
  text: string | undefined;
  /** A short, printable description for the case summary. */
  label: string;
}

/** Byte sequences that are not UTF-8: stray continuation, overlong, surrogate, past U+10FFFF, truncated. */
const INVALID_UTF8: readonly (readonly number[])[] = [
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xc3],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
];

/** Names that mean something to JavaScript objects, paths, Redis or Lua. */
const SPECIAL = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
  "then",
  "length",
  "0",
  "-1",
  "1e3",
  " ",
  "\t",
  "\u0000",
  "a\u0000b",
  "\u0001\u007f",
  "\r\n",
  "../../etc/passwd",
  "..",
  "a/b",
  "C:\\x",
  "%00",
  "%2e%2e%2f",
  "*",
  "?",
  "[a-z]",
  "{x}",
  "sessiond:",
  '"',
  "\\",
  "nil",
  "false",
  "null",
  "\u2028\u2029",
  "\ufeff",
  "\ufffd",
  "\uffff",
  "\u{10ffff}",
  "😀",
  "👩‍👩‍👧‍👦",
  "ﬀ",
  "ǅ",
  "İ",
  "é",
  "e\u0301",
];

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-.";
const WIDE = ["é", "ß", "€", "中", "😀", "\u0000", "ǅ"];

function ascii(rng: Rng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[rng.int(ALPHABET.length)];
  return out;
}

function mixed(rng: Rng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out += rng.chance(0.3) ? rng.pick(WIDE) : ALPHABET[rng.int(ALPHABET.length)];
  }
  return out;
}

/** A valid string of exactly `bytes` UTF-8 bytes, built from multi-byte characters where it can. */
export function stringOfBytes(rng: Rng, bytes: number): string {
  let out = "";
  let left = bytes;
  while (left > 0) {
    const wide = rng.pick(["€", "é", "😀", "中"]);
    const w = Buffer.byteLength(wide);
    if (left >= w && rng.chance(0.5)) {
      out += wide;
      left -= w;
    } else {
      out += "k";
      left -= 1;
    }
  }
  return out;
}

function valid(text: string, label: string): FuzzString {
  return { bytes: utf8(text), text, label };
}

function show(text: string): string {
  const shown = JSON.stringify(text.length > 24 ? `${text.slice(0, 12)}…` : text);
  return text.length > 24 ? `${shown}(${Buffer.byteLength(text)}B)` : shown;
}

/** `base` with one invalid UTF-8 sequence spliced in at a random byte boundary of a character. */
export function withInvalidUtf8(rng: Rng, base: string): FuzzString {
  const chars = [...base];
  const at = rng.int(chars.length + 1);
  const bad = Uint8Array.from(rng.pick(INVALID_UTF8));
  const hex = [...bad].map((b) => b.toString(16).padStart(2, "0")).join("");
  return {
    bytes: concat([utf8(chars.slice(0, at).join("")), bad, utf8(chars.slice(at).join(""))]),
    text: undefined,
    label: `${show(base)}+invalid-utf8<${hex}>@${at}`,
  };
}

export interface StringShape {
  /** The limit in UTF-8 bytes that applies (session keys: maxKeyBytes), if any. */
  limitBytes?: number;
  /** Probability of invalid UTF-8. */
  invalidP?: number;
}

/** A string of one of many shapes: short, unicode, special names, at and past a limit, invalid UTF-8. */
export function fuzzString(rng: Rng, shape: StringShape = {}): FuzzString {
  if (rng.chance(shape.invalidP ?? 0.08)) {
    return withInvalidUtf8(rng, rng.chance(0.5) ? ascii(rng, rng.range(0, 8)) : mixed(rng, 4));
  }
  const limit = shape.limitBytes;
  const kind = rng.weighted<string>([
    [30, "ascii"],
    [12, "mixed"],
    [14, "special"],
    [limit ? 8 : 0, "atLimit"],
    [limit ? 8 : 0, "pastLimit"],
    [3, "long"],
    [3, "empty"],
  ]);
  switch (kind) {
    case "mixed":
      return withLabel(mixed(rng, rng.range(1, 12)));
    case "special":
      return withLabel(rng.pick(SPECIAL));
    case "atLimit":
      return withLabel(stringOfBytes(rng, limit as number));
    case "pastLimit":
      return withLabel(stringOfBytes(rng, (limit as number) + rng.pick([1, 1, 2, 3, 100])));
    case "long":
      return withLabel(ascii(rng, rng.range(1000, 5000)));
    case "empty":
      return withLabel("");
    default:
      return withLabel(ascii(rng, rng.range(1, 16)));
  }
}

function withLabel(text: string): FuzzString {
  return valid(text, show(text));
}

/** A plain, short, valid key (for setting up sessions and for keys that should just work). */
export function plainKey(rng: Rng): string {
  return ascii(rng, rng.range(1, 10));
}
