// Session shapes for heapCostProbe.ts: expensive ones per JSON byte, and ordinary ones.
import type { JsonValue } from "../../src/core/json.js";

type Data = Record<string, JsonValue>;
const unique = (i: number, k: number) => `${i.toString(36)}_${k}`;
const range = (n: number) => Array.from({ length: n }, (_, k) => k);
/** Keys k0, k1, … of unique strings `chars` long (two-byte ones when `mark` is not Latin-1). */
const strings = (i: number, keys: number, chars: number, mark = ":") =>
  Object.fromEntries(range(keys).map((k) => [`k${k}`, `${i}:${k}${mark}`.padEnd(chars, "x")]));

/** Shapes chosen to be expensive per JSON byte, and one ordinary one. [sessions, data]. */
export const SHAPES: Record<string, [number, (i: number) => Data]> = {
  "5 short strings": [10_000, (i) => strings(i, 5, 36)],
  "200 unique keys": [500, (i) => Object.fromEntries(range(200).map((k) => [unique(i, k), 0]))],
  "array of 20k {}": [40, () => ({ a: range(20_000).map(() => ({})) })],
  "array of 30k ints": [40, () => ({ a: range(30_000).map(() => 0) })],
  "3k one-key objects": [40, (i) => ({ a: range(3000).map((j) => ({ [unique(i, j)]: 0 })) })],
  "two-byte strings": [40, (i) => strings(i, 17, 60_000, "€")],
  "one tiny key": [20_000, () => ({ a: 1 })],
};
