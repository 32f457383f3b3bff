import { assignKey, type JsonValue } from "../core/json.js";
import { SessionError } from "../core/SessionError.js";
import { isWellFormed } from "../core/session/validate.js";

/*
 * google.protobuf.Value as @grpc/proto-loader (protobufjs) hands it over and takes it: a
 * plain object with one of six fields set. protobufjs knows nothing of JSON here (it has no
 * Struct wrapper), so without these helpers a caller must build that tree by hand: a plain
 * object passed instead is encoded, without a word, as a Value with nothing set (which
 * the server then refuses), and a plain number or string fails serialization.
 */

/**
 * The `kind` oneof's member names. Always camelCase, `keepCase: true` or not: proto-loader
 * takes struct.proto from protobufjs's bundled copy, whose field names are camelCase.
 */
export type ProtoLoaderValueKind =
  | "nullValue"
  | "numberValue"
  | "stringValue"
  | "boolValue"
  | "structValue"
  | "listValue";

/** A google.protobuf.Value in proto-loader's object shape. */
export type ProtoLoaderValue = (
  | { nullValue: "NULL_VALUE" | 0 }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: { fields: Record<string, ProtoLoaderValue> } }
  | { listValue: { values: ProtoLoaderValue[] } }
) & { kind?: ProtoLoaderValueKind };

export interface ToValueOptions {
  /**
   * Also set `kind`, the oneof's virtual field, as proto-loader does when loaded with
   * `oneofs: true` (so the result deep-equals what such a client decodes). Encoding ignores it.
   */
  oneofs?: boolean;
}

const KINDS: readonly ProtoLoaderValueKind[] = [
  "nullValue",
  "numberValue",
  "stringValue",
  "boolValue",
  "structValue",
  "listValue",
];

/** `cart.items[2]`; keys that are not identifiers are quoted: `["a b"]`. */
function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function refuse(fn: string, path: string, problem: string): SessionError {
  const where = path === "" ? "the value" : `the value at ${path}`;
  return new SessionError("invalid_argument", `${fn}: ${where} ${problem}`);
}

/**
 * A JSON value as the google.protobuf.Value object @grpc/proto-loader encodes, e.g. for
 * `Set`'s `value` field. Refuses, naming the path (`cart.items[2]`), what JSON cannot carry
 * or protobuf would not carry as written: NaN, ±Infinity, undefined (array holes too),
 * functions, symbols, bigints, Dates and other non-plain objects, cycles, and strings or
 * keys with a lone UTF-16 surrogate (sent as U+FFFD). Keys such as `__proto__` stay own keys.
 */
export function toValue(json: unknown, options: ToValueOptions = {}): ProtoLoaderValue {
  const ancestors = new Set<object>();
  const make = (kind: ProtoLoaderValueKind, payload: unknown): ProtoLoaderValue => {
    const out: Record<string, unknown> = { [kind]: payload };
    if (options.oneofs) out.kind = kind;
    return out as ProtoLoaderValue;
  };
  const walk = (value: unknown, path: string): ProtoLoaderValue => {
    switch (typeof value) {
      case "string":
        if (!isWellFormed(value)) throw refuse("toValue", path, "contains a lone UTF-16 surrogate");
        return make("stringValue", value);
      case "number":
        if (!Number.isFinite(value)) {
          throw refuse("toValue", path, `is ${value}, which JSON cannot carry`);
        }
        return make("numberValue", value);
      case "boolean":
        return make("boolValue", value);
      case "object":
        break;
      default:
        throw refuse("toValue", path, `is ${describe(value)}, not a JSON value`);
    }
    if (value === null) return make("nullValue", "NULL_VALUE");
    if (ancestors.has(value)) throw refuse("toValue", path, "refers back to itself (a cycle)");
    ancestors.add(value);
    try {
      if (Array.isArray(value)) {
        const values: ProtoLoaderValue[] = [];
        // An index loop, not forEach/map: holes must show up as undefined and be refused.
        for (let i = 0; i < value.length; i++) values.push(walk(value[i], childPath(path, i)));
        return make("listValue", { values });
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw refuse("toValue", path, `is ${describe(value)}, not a plain JSON object`);
      }
      const fields: Record<string, ProtoLoaderValue> = {};
      for (const key of Object.keys(value)) {
        const at = childPath(path, key);
        if (!isWellFormed(key))
          throw refuse("toValue", at, "has a key with a lone UTF-16 surrogate");
        assignKey(fields, key, walk((value as Record<string, unknown>)[key], at));
      }
      return make("structValue", { fields });
    } finally {
      ancestors.delete(value);
    }
  };
  return walk(json, "");
}

/**
 * The JSON value a google.protobuf.Value decoded by @grpc/proto-loader stands for, under
 * any `keepCase`, `enums`, `oneofs`, `defaults` or `longs` option. Refuses, naming the path,
 * a Value with no kind or two, and a number JSON cannot carry; a missing Value (e.g. `Get`
 * of an absent key, where `found` is false) is refused too, rather than guessed as null.
 */
export function fromValue(value: unknown): JsonValue {
  const walk = (node: unknown, path: string): JsonValue => {
    if (typeof node !== "object" || node === null) {
      throw refuse("fromValue", path, `is ${describe(node)}, not a google.protobuf.Value object`);
    }
    const kind = kindOf(node as Record<string, unknown>, path);
    const payload = kind.payload;
    switch (kind.kind) {
      case "nullValue":
        return null;
      case "numberValue":
        if (typeof payload !== "number" || !Number.isFinite(payload)) {
          throw refuse(
            "fromValue",
            path,
            `has numberValue ${String(payload)}, which JSON cannot carry`,
          );
        }
        return payload;
      case "stringValue":
        if (typeof payload !== "string")
          throw refuse("fromValue", path, "has a non-string stringValue");
        return payload;
      case "boolValue":
        if (typeof payload !== "boolean")
          throw refuse("fromValue", path, "has a non-boolean boolValue");
        return payload;
      case "listValue": {
        const values = (payload as { values?: unknown } | null)?.values ?? [];
        if (!Array.isArray(values))
          throw refuse("fromValue", path, "has listValue.values that is not an array");
        return values.map((item, i) => walk(item, childPath(path, i)));
      }
      case "structValue": {
        const fields = (payload as { fields?: unknown } | null)?.fields ?? {};
        if (typeof fields !== "object" || fields === null) {
          throw refuse("fromValue", path, "has structValue.fields that is not an object");
        }
        const out: { [key: string]: JsonValue } = {};
        for (const key of Object.keys(fields)) {
          assignKey(out, key, walk((fields as Record<string, unknown>)[key], childPath(path, key)));
        }
        return out;
      }
    }
  };
  return walk(value, "");
}

function kindOf(
  node: Record<string, unknown>,
  path: string,
): { kind: ProtoLoaderValueKind; payload: unknown } {
  const present = (kind: ProtoLoaderValueKind): unknown =>
    Object.hasOwn(node, kind) ? node[kind] : undefined;
  // With `oneofs: true` proto-loader names the member that is set: that beats guessing
  // from which fields happen to be present.
  const named = node.kind;
  if (typeof named === "string" && named !== "") {
    const kind = KINDS.find((k) => k === named);
    if (kind === undefined) throw refuse("fromValue", path, `has an unknown kind "${named}"`);
    return { kind, payload: present(kind) };
  }
  const set = KINDS.filter((k) => {
    const payload = present(k);
    return payload !== undefined && payload !== null;
  });
  if (set.length === 1)
    return {
      kind: set[0] as ProtoLoaderValueKind,
      payload: present(set[0] as ProtoLoaderValueKind),
    };
  if (set.length === 0)
    throw refuse("fromValue", path, "has no kind set (an empty google.protobuf.Value)");
  throw refuse("fromValue", path, `has more than one kind set (${set.join(", ")})`);
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "bigint") return `a bigint (${value}n)`;
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "object") {
    const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)
      ?.constructor?.name;
    return ctor ? `a ${ctor}` : "an object";
  }
  return `a ${typeof value}`;
}
