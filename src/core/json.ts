/** Session values are JSON values: what google.protobuf.Value can carry. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** One session's data: key -> value. */
export type SessionData = Record<string, JsonValue>;

/*
 * Any string is a key, "__proto__" and "constructor" included: the wire contract is
 * language-neutral, and a Python or Go caller has every right to them. Session data lives
 * in plain objects that hold every key as an own property, so:
 * - keys are added with assignKey, never `obj[key] = value`, which for an absent
 *   "__proto__" calls Object.prototype's setter (replacing the object's prototype, or
 *   dropping a primitive without a word) instead of adding a key;
 * - keys are read with ownValue or after Object.hasOwn, never `obj[key]` alone, which for
 *   an absent "constructor" or "toString" finds Object.prototype's function.
 * JSON.parse, object spread and computed keys in literals define own properties too.
 * Plain objects rather than null-prototype ones: they are what callers get back (and
 * compare with deepStrictEqual), and null-prototype ones cost memory the memory storage
 * cannot spare at a million sessions (docs/bench/NOTES.md).
 */

/** Sets `key` on `target` as an own property, whatever the key. */
export function assignKey<T>(target: Record<string, T>, key: string, value: NoInfer<T>): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else target[key] = value;
}

/** The own value of `key`, or undefined: never one inherited from Object.prototype. */
export function ownValue<T>(source: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(source, key) ? source[key] : undefined;
}

/**
 * A deep copy, so no caller ever shares a live object with a storage. Primitives are
 * immutable and returned as they are (but -0 as 0, see copy); objects and arrays are copied
 * by a plain walk, which for JSON data is several times cheaper than structuredClone (on
 * every read's path).
 */
export function cloneJson<T extends JsonValue | SessionData>(value: T): T {
  return copy(value as JsonValue) as T;
}

/** A -0 becomes 0: JSON has no -0, so that is what every storage keeping JSON text holds. */
function copy(value: JsonValue): JsonValue {
  if (value === 0) return 0;
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out: JsonValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i] as JsonValue);
    return out;
  }
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(value)) assignKey(out, key, copy(value[key] as JsonValue));
  return out;
}

/** UTF-8 byte length of the value's JSON text: the unit every size limit is counted in. */
export function jsonByteLength(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}
