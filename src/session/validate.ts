import type { JsonValue } from "../common/json.js";
import type { Limits } from "../common/Limits.js";
import { SessionError } from "../common/SessionError.js";

/** Keys are non-empty UTF-8 strings within maxKeyBytes; `__proto__` is refused. */
export function assertValidKey(key: unknown, limits: Limits): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new SessionError("invalid_argument", "key must be a non-empty string");
  }
  // Assigning "__proto__" on a plain object replaces its prototype instead of adding a key.
  if (key === "__proto__") {
    throw new SessionError("invalid_argument", 'key "__proto__" is reserved');
  }
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > limits.maxKeyBytes) {
    throw new SessionError(
      "invalid_argument",
      `key is ${bytes} bytes, over the limit maxKeyBytes=${limits.maxKeyBytes}`,
    );
  }
}

/** Values must be plain JSON: finite numbers, plain objects, arrays, strings, booleans, null. */
export function assertValidValue(
  value: unknown,
  key: string,
  limits: Limits,
): asserts value is JsonValue {
  const problem = jsonProblem(value, 0);
  if (problem) throw new SessionError("invalid_argument", `value of key "${key}" ${problem}`);
  const bytes = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (bytes > limits.maxValueBytes) {
    throw new SessionError(
      "resource_exhausted",
      `value of key "${key}" is ${bytes} bytes, over the limit maxValueBytes=${limits.maxValueBytes}`,
    );
  }
}

const MAX_DEPTH = 64;

function jsonProblem(value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `is nested deeper than ${MAX_DEPTH} levels`;
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number")
    return Number.isFinite(value) ? undefined : "is not a finite number";
  if (Array.isArray(value)) {
    for (const item of value) {
      const p = jsonProblem(item, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return "is not a plain JSON object";
    for (const item of Object.values(value)) {
      const p = jsonProblem(item, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  return `is a ${typeof value}, not a JSON value`;
}
