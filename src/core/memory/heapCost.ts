import type { JsonValue } from "../json.js";

/*
 * What memory storage charges its byte budget: an estimate of the V8 heap a stored
 * session really takes (64-bit Node, no pointer compression: the default build), not the
 * size of its JSON. The two differ by up to 20 times: `[{},{},…]` is 3 JSON bytes an
 * element and 64 heap bytes, a key seen in no other session costs about 120 bytes of
 * hidden classes beside its characters. The constants come from heap snapshots of such
 * shapes (test/budgets.test.ts keeps them honest) and lean high: a session of five short
 * keys is charged about twice what it takes, one made to be expensive about what it takes.
 */

/** The session's record, its slot in the id map and its data object's header. */
const SESSION_BYTES = 160;
/** A property beyond its key and value: slot, hidden-class transition or dictionary entry. */
const KEY_BYTES = 128;
/** A JS object's header with its in-object property slots. */
const OBJECT_BYTES = 56;
/** An array's header and its backing store's header. */
const ARRAY_BYTES = 48;
const SLOT_BYTES = 8;
/** A boxed double (numbers outside the 32-bit small-integer range, fractions). */
const HEAP_NUMBER_BYTES = 16;
const STRING_HEADER_BYTES = 16;

/** Charged for a session whatever it holds: the record and its id (ASCII, as ids are). */
export function sessionCost(id: string): number {
  return SESSION_BYTES + stringBytes(id.length, true);
}

/**
 * Charged for one key of a session, given the sizes the session limits count anyway: the
 * key's UTF-8 bytes and the value's JSON bytes (so a plain value costs no extra scan).
 */
export function keyCost(key: string, keyBytes: number, value: JsonValue, jsonBytes: number) {
  const valueBytes =
    typeof value === "string"
      ? // Only a pure-ASCII string without escapes is as long as its JSON less the quotes.
        stringBytes(value.length, jsonBytes === value.length + 2)
      : valueCost(value);
  return KEY_BYTES + stringBytes(key.length, keyBytes === key.length) + valueBytes;
}

/**
 * A string is one byte a character when all are Latin-1, else two. Telling these apart
 * exactly takes a scan; a string that is not pure ASCII is charged as two-byte, which is
 * never less than V8 uses.
 */
function stringBytes(length: number, ascii: boolean): number {
  const chars = ascii ? length : 2 * length;
  return STRING_HEADER_BYTES + ((chars + 7) & ~7);
}

function stringCost(text: string): number {
  return stringBytes(text.length, Buffer.byteLength(text, "utf8") === text.length);
}

/** The heap a value takes besides the slot that holds it. */
function valueCost(value: JsonValue): number {
  if (typeof value === "string") return stringCost(value);
  if (typeof value === "number") return value === (value | 0) ? 0 : HEAP_NUMBER_BYTES;
  if (typeof value !== "object" || value === null) return 0;
  if (Array.isArray(value)) {
    let cost = ARRAY_BYTES + SLOT_BYTES * value.length;
    for (const item of value) cost += valueCost(item);
    return cost;
  }
  let cost = OBJECT_BYTES;
  for (const key of Object.keys(value)) {
    cost += KEY_BYTES + stringCost(key) + valueCost(value[key] as JsonValue);
  }
  return cost;
}
