import type { JsonValue } from "../json.js";
import type { Limits } from "../Limits.js";
import { SessionError } from "../SessionError.js";
import { limitText, type SettingNames } from "../settingNames.js";

/**
 * Keys are non-empty, well-formed UTF-16 strings within maxKeyBytes. Any such string will
 * do, "__proto__" included (see assignKey in common/json.ts for how it is kept).
 */
export function assertValidKey(
  key: unknown,
  limits: Limits,
  names?: SettingNames,
): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new SessionError("invalid_argument", "key must be a non-empty string", {
      reason: "INVALID_KEY",
    });
  }
  // A lone surrogate has no UTF-8 form: Redis and the wire would turn it into U+FFFD, so
  // the key read back would differ from the one written.
  if (!isWellFormed(key)) {
    throw new SessionError("invalid_argument", "key contains a lone UTF-16 surrogate", {
      reason: "INVALID_KEY",
    });
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes: short keys need no count (every call has one).
  if (key.length * 3 <= limits.maxKeyBytes) return;
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > limits.maxKeyBytes) {
    throw new SessionError(
      "invalid_argument",
      `key is ${bytes} bytes, over the limit ${limitText(names?.maxKeyBytes, "maxKeyBytes", limits.maxKeyBytes)}`,
      {
        reason: "KEY_TOO_LONG",
        metadata: { bytes: String(bytes), maxKeyBytes: String(limits.maxKeyBytes) },
      },
    );
  }
}

/** Values must be plain JSON: finite numbers, plain objects, arrays, strings, booleans, null. */
export function assertValidValue(
  value: unknown,
  key: string,
  limits: Limits,
): asserts value is JsonValue {
  storedValue(value, key, limits);
}

/**
 * Validates a value and returns the copy a storage should hold: the value as its JSON text
 * reads back (so -0 becomes 0 and non-JSON extras vanish), which is what every storage,
 * memory included, then returns. Values therefore read back equal on every storage.
 * `names`: where a deployer sets the limits, for the refusal's message (settingNames.ts).
 */
export function storedValue(
  value: unknown,
  key: string,
  limits: Limits,
  names?: SettingNames,
): JsonValue {
  const problem = jsonValueProblem(value);
  if (problem) {
    throw new SessionError("invalid_argument", `value of key "${key}" ${problem}`, {
      reason: "INVALID_VALUE",
    });
  }
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > limits.maxValueBytes) {
    throw new SessionError(
      "resource_exhausted",
      `value of key "${key}" is ${bytes} bytes, over the limit ${limitText(names?.maxValueBytes, "maxValueBytes", limits.maxValueBytes)}`,
      {
        reason: "VALUE_TOO_LARGE",
        metadata: { bytes: String(bytes), maxValueBytes: String(limits.maxValueBytes) },
      },
    );
  }
  // A well-formed string or a boolean reads back from its JSON text unchanged (strings are
  // immutable, so no copy is needed either); everything else takes the round trip, which
  // also turns -0 into 0.
  if (typeof value === "string" || typeof value === "boolean") return value;
  return JSON.parse(json) as JsonValue;
}

/**
 * How deep a value may nest when it is written (the value itself is level 0); the wire
 * decoder refuses deeper requests too. 32 is the deepest that every response carrying a
 * value stays readable by protobuf decoders with the usual limit of 100 nested messages
 * (protobuf C++ and Python's C++ and upb backends, protobufjs and so @grpc/proto-loader):
 * a JSON object level costs 3 nested messages there (Value, Struct, the map entry), a list
 * level 2 (Value, ListValue), and an empty object or list at the deepest level 1 more. The
 * worst response is GetData of objects nested 32 deep: GetDataResponse > Struct > entry >
 * Value (3 levels for the top value) + 3 x 32 + 1 = 100. Get of the same costs 98; 33
 * would cost 103 and 101. Measured against those decoders in test/service/depthLimit.test.ts.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * How deep a value written before MAX_JSON_DEPTH was 32 may nest: sessiond accepted 64
 * levels then, and such values are still stored and read back as they are (Get and GetData
 * return them unchanged). The Node SDK decodes responses up to this depth, so it reads them;
 * a decoder limited to 100 nested messages cannot (docs/limits.md, "Exact decoding").
 */
export const MAX_STORED_JSON_DEPTH = 64;

// With the u flag a surrogate pair is one code point, so only lone surrogates match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** False when `text` holds a lone UTF-16 surrogate, which has no UTF-8 form. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Why `value` is not a JSON value a session can hold ("is not a finite number", …), or
 * undefined. The Node SDK asks too, before it sends: a lone surrogate would reach the wire
 * as U+FFFD, and a Date or an undefined would not reach it at all.
 */
export function jsonValueProblem(value: unknown): string | undefined {
  return jsonProblem(value, 0);
}

function jsonProblem(value: unknown, depth: number): string | undefined {
  if (depth > MAX_JSON_DEPTH) return `is nested deeper than ${MAX_JSON_DEPTH} levels`;
  if (value === null || typeof value === "boolean") return undefined;
  if (typeof value === "string") {
    return isWellFormed(value) ? undefined : "contains a lone UTF-16 surrogate";
  }
  if (typeof value === "number")
    return Number.isFinite(value) ? undefined : "is not a finite number";
  if (Array.isArray(value)) {
    // for..of (not forEach) so that holes show up as undefined and are refused.
    for (const item of value) {
      const p = jsonProblem(item, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return "is not a plain JSON object";
    for (const [name, item] of Object.entries(value)) {
      if (!isWellFormed(name)) return "holds a key with a lone UTF-16 surrogate";
      const p = jsonProblem(item, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  return `is a ${typeof value}, not a JSON value`;
}
