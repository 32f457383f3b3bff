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

/**
 * A deep copy, so no caller ever shares a live object with a storage. Primitives are
 * immutable and returned as they are; objects and arrays are copied by a plain walk, which
 * for JSON data is several times cheaper than structuredClone (on every read's path).
 */
export function cloneJson<T extends JsonValue | SessionData>(value: T): T {
  return (typeof value === "object" && value !== null ? copy(value) : value) as T;
}

function copy(value: JsonValue): JsonValue {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out: JsonValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i] as JsonValue);
    return out;
  }
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(value)) {
    const item = copy(value[key] as JsonValue);
    // Plain assignment of "__proto__" would replace the prototype instead of adding a key.
    if (key === "__proto__") {
      Object.defineProperty(out, key, {
        value: item,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else out[key] = item;
  }
  return out;
}

/** UTF-8 byte length of the value's JSON text: the unit every size limit is counted in. */
export function jsonByteLength(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}
