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

/** A deep copy, so no caller ever shares a live object with a storage. */
export function cloneJson<T extends JsonValue | SessionData>(value: T): T {
  return structuredClone(value);
}

/** UTF-8 byte length of the value's JSON text: the unit every size limit is counted in. */
export function jsonByteLength(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}
