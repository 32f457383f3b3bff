import type { JsonValue } from "../../core/json.js";
import { MAX_JSON_DEPTH } from "../../core/session/validate.js";

/**
 * Values that must read back exactly as written, on every storage. Covers what JSON text
 * round trips tend to break: big and tiny doubles, astral characters, escapes, deep nesting.
 */
export const ROUND_TRIP_VALUES: Readonly<Record<string, JsonValue>> = Object.freeze({
  null: null,
  true: true,
  false: false,
  zero: 0,
  integer: 42,
  negative: -7,
  maxSafeInteger: 2 ** 53 - 1,
  minSafeInteger: -(2 ** 53 - 1),
  huge: 1e308,
  tinyNegative: -1.5e-300,
  smallestDenormal: 5e-324,
  tenth: 0.1,
  third: 1 / 3,
  emptyString: "",
  ascii: "hello",
  unicode: "héllo wörld ñ 中文 العربية עברית",
  astral: "😀🎉 𝄞 👩‍👩‍👧‍👦 🇳🇱",
  escapes: 'tab\t newline\n nul\u0000 quote" backslash\\ \u2028\u2029',
  emptyArray: [],
  emptyObject: {},
  array: [1, "two", null, true, false, [3, [4, []]], { five: 5 }],
  nested: {
    a: { b: { c: { d: [1, { e: "deep", f: 0.5 }] } } },
    "key with spaces": 1,
    "😀": "emoji key",
    "": "empty key",
    constructor: "not a prototype",
  },
  deep: deepValue(MAX_JSON_DEPTH), // the deepest a write may carry
  longString: "x".repeat(10_000),
});

function deepValue(depth: number): JsonValue {
  let value: JsonValue = "bottom";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { level: value } : [value];
  return value;
}
