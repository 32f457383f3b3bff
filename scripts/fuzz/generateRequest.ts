import { status } from "@grpc/grpc-js";
import { defaultLimits } from "../../src/core/Limits.js";
import { input, type Leeway, type Problem, state, wire } from "./expectation.js";
import { type FuzzString, fuzzString, plainKey } from "./fuzzStrings.js";
import { genStruct, genValue } from "./fuzzValues.js";
import { copyData, type Data, type Json, jsonBytes, sessionBytes, setOwn } from "./jsonModel.js";
import type { Rng } from "./Rng.js";
import {
  anyField,
  concat,
  doubleBytes,
  lenField,
  tag,
  utf8,
  varint,
  varintField,
  WT,
} from "./wire.js";

/** Every RPC of sessiond.v1.SessionService. */
export const RPCS = [
  "Get",
  "GetData",
  "Contains",
  "Size",
  "Set",
  "SetMap",
  "Remove",
  "RemoveAll",
  "Touch",
  "Regenerate",
  "Describe",
  "Increment",
] as const;
export type Rpc = (typeof RPCS)[number];

/** The fuzz servers run with the default limits. */
export const LIMITS = defaultLimits;

/** The session a request is aimed at, as the fuzzer knows it. */
export interface Target {
  exists: boolean;
  data: Data;
  version: number;
}

/** What an accepted request does to its target session. */
export type Effect =
  | { kind: "none" }
  | { kind: "write"; data: Data; incremented?: number; grows: boolean }
  | { kind: "removeAll" }
  | { kind: "regenerate"; keepOld: boolean };

export interface GenRequest {
  rpc: Rpc;
  bytes: Uint8Array;
  problems: Problem[];
  leeway: Leeway[];
  label: string;
  /** undefined when the bytes are malformed and no effect can be said. */
  effect: Effect | undefined;
  /** Get and Contains: the key asked for. */
  key?: string;
}

/** One encoded top-level field. `singular` fields may appear at most once. */
interface Part {
  field: number;
  name: string;
  bytes: Uint8Array;
  singular: boolean;
}

interface Builder {
  rng: Rng;
  target: Target;
  parts: Part[];
  problems: Problem[];
  leeway: Leeway[];
  labels: string[];
}

/** The field numbers and wire types each request message declares (session.proto). */
const DECLARED: Record<Rpc, Record<number, number>> = {
  Get: { 1: WT.len },
  GetData: {},
  Contains: { 1: WT.len },
  Size: {},
  Set: { 1: WT.len, 2: WT.len, 3: WT.varint },
  SetMap: { 1: WT.len, 2: WT.varint },
  Remove: { 1: WT.len, 2: WT.varint },
  RemoveAll: {},
  Touch: {},
  Regenerate: { 1: WT.varint },
  Describe: {},
  Increment: { 1: WT.len, 2: WT.bit64, 3: WT.varint },
};

export function genRequest(rng: Rng, rpc: Rpc, target: Target): GenRequest {
  const b: Builder = { rng, target, parts: [], problems: [], leeway: [], labels: [] };
  const effect = BODY[rpc](b);
  if (rng.chance(0.14)) mutateRequest(b, rpc);
  return {
    rpc,
    bytes: concat(b.parts.map((p) => p.bytes)),
    problems: b.problems,
    leeway: b.leeway,
    label: `${rpc}(${b.labels.join(" ")})`,
    effect: b.problems.some((p) => p.code === status.INVALID_ARGUMENT && p.stage !== "state")
      ? undefined
      : effect.effect,
    key: effect.key,
  };
}

interface Body {
  effect: Effect | undefined;
  key?: string;
}

const BODY: Record<Rpc, (b: Builder) => Body> = {
  Get: (b) => ({ effect: { kind: "none" }, key: keyField(b, 1, "key") }),
  Contains: (b) => ({ effect: { kind: "none" }, key: keyField(b, 1, "key") }),
  GetData: () => ({ effect: { kind: "none" } }),
  Size: () => ({ effect: { kind: "none" } }),
  Describe: (b) => {
    if (!b.target.exists) b.problems.push(state(status.NOT_FOUND, "no session to describe"));
    return { effect: { kind: "none" } };
  },
  Touch: (b) => {
    if (!b.target.exists) b.problems.push(state(status.NOT_FOUND, "no session to touch"));
    return { effect: { kind: "none" } };
  },
  RemoveAll: () => ({ effect: { kind: "removeAll" } }),
  Regenerate: (b) => {
    const { rng } = b;
    const choice = rng.pick(["absent", "false", "true", "true", "bigTrue"]);
    const keepOld = choice === "true" || choice === "bigTrue";
    if (choice !== "absent") {
      const v = choice === "bigTrue" ? rng.pick([2, 127, 2n ** 63n]) : keepOld ? 1 : 0;
      b.parts.push({ field: 1, name: "keep_old", bytes: varintField(1, v), singular: true });
    }
    b.labels.push(`keep_old=${choice}`);
    if (!b.target.exists) b.problems.push(state(status.NOT_FOUND, "no session to regenerate"));
    return { effect: { kind: "regenerate", keepOld } };
  },
  Set: (b) => {
    const key = keyField(b, 1, "key");
    const { rng } = b;
    let model: Json | undefined;
    if (rng.chance(0.05)) {
      b.problems.push(input(status.INVALID_ARGUMENT, "Set without a value"));
      b.labels.push("value=absent");
    } else {
      const v = genValue(rng);
      b.parts.push({ field: 2, name: "value", bytes: lenField(2, v.bytes), singular: true });
      b.problems.push(...v.problems);
      b.leeway.push(...v.leeway);
      b.labels.push(`value=${v.label}`);
      model = v.model;
      if (model !== undefined && jsonBytes(model) > LIMITS.maxValueBytes) {
        b.problems.push(input(status.RESOURCE_EXHAUSTED, `value is ${jsonBytes(model)} bytes`));
      }
    }
    expectedVersion(b, 3);
    if (key === undefined || model === undefined) return { effect: undefined };
    const data = copyData(b.target.data);
    setOwn(data, key, model);
    return { effect: written(b, data, true) };
  },
  SetMap: (b) => {
    const { rng, target } = b;
    const existing = Object.keys(target.data);
    const shape = rng.weighted<string>([
      [3, "absent"],
      [3, "empty"],
      [70, "few"],
      [8, "toMaxKeys"],
      [10, "wide"],
      [6, "overwrite"],
    ]);
    let entries = 0;
    let keyOf: (i: number) => FuzzString;
    let hostile = 0.03;
    let nullValues = false;
    const plain = (prefix: string) => (i: number) => ({
      bytes: utf8(`${prefix}${i}`),
      text: `${prefix}${i}`,
      label: `${prefix}${i}`,
    });
    switch (shape) {
      case "absent":
      case "empty":
        break;
      case "toMaxKeys":
        entries = Math.max(1, LIMITS.maxKeys - existing.length + rng.pick([-1, 0, 0, 1, 2]));
        keyOf = plain(`m${rng.int(1000)}_`);
        hostile = 0;
        nullValues = true;
        break;
      case "wide":
        entries = rng.pick([5000, 30000]);
        keyOf = plain("w");
        hostile = 0;
        nullValues = true;
        break;
      case "overwrite":
        entries = Math.max(1, Math.min(existing.length, 4));
        keyOf = (i) => {
          const k = existing[i] ?? plainKey(rng);
          return { bytes: utf8(k), text: k, label: JSON.stringify(k) };
        };
        break;
      default:
        entries = rng.range(1, 5);
        keyOf = () => fuzzString(rng, { limitBytes: LIMITS.maxKeyBytes });
    }
    if (shape === "absent" || entries === 0) {
      if (shape === "empty") {
        b.parts.push({
          field: 1,
          name: "data",
          bytes: lenField(1, new Uint8Array()),
          singular: true,
        });
      }
      b.problems.push(input(status.INVALID_ARGUMENT, "SetMap without keys"));
      b.labels.push(`data=${shape}`);
      expectedVersion(b, 2);
      return { effect: undefined };
    }
    if (entries > LIMITS.maxOps) {
      b.problems.push(input(status.RESOURCE_EXHAUSTED, `${entries} keys, over maxOps`));
    }
    let i = 0;
    const s = genStruct(rng, entries, () => keyOf(i++), {
      hostile,
      nullValues,
      maxNodes: 40,
    });
    b.parts.push({ field: 1, name: "data", bytes: lenField(1, s.bytes), singular: true });
    b.problems.push(...s.problems);
    b.leeway.push(...s.leeway);
    b.labels.push(`data=${entries > 10 ? `${shape}(${entries} keys)` : s.label}`);
    for (const k of s.keys) if (k !== undefined) keyProblems(b, k, "data key");
    const model = s.model as Record<string, Json> | undefined;
    if (model !== undefined) {
      for (const k of Object.keys(model)) {
        const bytes = jsonBytes(model[k] as Json);
        if (bytes > LIMITS.maxValueBytes) {
          b.problems.push(input(status.RESOURCE_EXHAUSTED, `value of ${k} is ${bytes} bytes`));
        }
      }
    }
    expectedVersion(b, 2);
    if (model === undefined) return { effect: undefined };
    const data = copyData(target.data);
    for (const k of Object.keys(model)) setOwn(data, k, model[k] as Json);
    return { effect: written(b, data, true) };
  },
  Remove: (b) => {
    const { rng, target } = b;
    const existing = Object.keys(target.data);
    const shape = rng.weighted<string>([
      [5, "none"],
      [73, "few"],
      [16, "wide"],
      [6, "all"],
    ]);
    const keys: FuzzString[] = [];
    if (shape === "few") {
      for (let n = rng.range(1, 6); n > 0; n--) {
        const k =
          existing.length > 0 && rng.chance(0.5) ? (rng.pick(existing) as string) : undefined;
        keys.push(
          k === undefined
            ? fuzzString(rng, { limitBytes: LIMITS.maxKeyBytes })
            : { bytes: utf8(k), text: k, label: JSON.stringify(k) },
        );
      }
    } else if (shape === "all") {
      for (const k of existing) keys.push({ bytes: utf8(k), text: k, label: k });
    } else if (shape === "wide") {
      const n = rng.pick([LIMITS.maxOps, LIMITS.maxOps + 1, 10000, 60000, 100000]);
      for (let i = 0; i < n; i++) keys.push({ bytes: utf8(`r${i}`), text: `r${i}`, label: "" });
    }
    for (const k of keys) {
      b.parts.push({ field: 1, name: "keys", bytes: lenField(1, k.bytes), singular: false });
    }
    b.labels.push(
      shape === "wide" || keys.length > 10
        ? `keys=${shape}(${keys.length})`
        : `keys=[${keys.map((k) => k.label).join(",")}]`,
    );
    if (keys.length === 0) b.problems.push(input(status.INVALID_ARGUMENT, "Remove without keys"));
    if (keys.length > LIMITS.maxOps) {
      b.problems.push(input(status.RESOURCE_EXHAUSTED, `${keys.length} keys, over maxOps`));
    }
    for (const k of keys) {
      if (k.text === undefined) b.problems.push(wire(`key ${k.label} is not UTF-8`));
      else keyProblems(b, k.text, "key");
    }
    expectedVersion(b, 2);
    const data = copyData(target.data);
    for (const k of keys) if (k.text !== undefined) delete data[k.text];
    return { effect: target.exists ? written(b, data, false) : { kind: "none" } };
  },
  Increment: (b) => {
    const key = keyField(b, 1, "key");
    const { rng, target } = b;
    const pick = rng.weighted<string>([
      [10, "absent"],
      [60, "small"],
      [15, "known"],
      [8, "nonFinite"],
    ]);
    let delta = 0;
    if (pick !== "absent") {
      delta =
        pick === "small"
          ? rng.range(-100, 100) / rng.pick([1, 1, 4, 10])
          : pick === "known"
            ? rng.pick([0.1, -0, 2 ** 53, 1e308, -1e308, Number.MAX_VALUE, 5e-324])
            : rng.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      b.parts.push({
        field: 2,
        name: "delta",
        bytes: concat([tag(2, WT.bit64), doubleBytes(delta)]),
        singular: true,
      });
    }
    b.labels.push(`delta=${pick === "absent" ? "absent" : delta}`);
    if (!Number.isFinite(delta))
      b.problems.push(input(status.INVALID_ARGUMENT, "delta not finite"));
    expectedVersion(b, 3);
    if (key === undefined) return { effect: undefined };
    const base = Object.hasOwn(target.data, key) ? target.data[key] : 0;
    if (typeof base !== "number") {
      b.problems.push(state(status.FAILED_PRECONDITION, `key holds ${JSON.stringify(base)}`));
      return { effect: undefined };
    }
    const next = base + delta;
    if (!Number.isFinite(next)) {
      b.problems.push(state(status.FAILED_PRECONDITION, `${base} + ${delta} overflows`));
      return { effect: undefined };
    }
    const data = copyData(target.data);
    setOwn(data, key, next);
    return { effect: { ...written(b, data, true), incremented: next } };
  },
};

/** A key field: its problems are recorded; returns the key when it is usable text. */
function keyField(b: Builder, field: number, name: string): string | undefined {
  const { rng, target } = b;
  const existing = Object.keys(target.data);
  let k: FuzzString;
  if (rng.chance(0.04)) {
    b.labels.push(`${name}=absent`);
    b.problems.push(input(status.INVALID_ARGUMENT, `${name} absent (empty)`));
    return undefined;
  }
  if (existing.length > 0 && rng.chance(0.35)) {
    const text = rng.pick(existing) as string;
    k = { bytes: utf8(text), text, label: JSON.stringify(text).slice(0, 30) };
  } else k = fuzzString(rng, { limitBytes: LIMITS.maxKeyBytes });
  b.parts.push({ field, name, bytes: lenField(field, k.bytes), singular: true });
  b.labels.push(`${name}=${k.label}`);
  if (k.text === undefined) {
    b.problems.push(wire(`${name} ${k.label} is not UTF-8`));
    return undefined;
  }
  return keyProblems(b, k.text, name) ? k.text : undefined;
}

/** Records what makes `key` unusable as a session key; true when it is fine. */
function keyProblems(b: Builder, key: string, where: string): boolean {
  if (key === "") {
    b.problems.push(input(status.INVALID_ARGUMENT, `${where} is empty`));
    return false;
  }
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > LIMITS.maxKeyBytes) {
    b.problems.push(input(status.INVALID_ARGUMENT, `${where} is ${bytes} bytes`));
    return false;
  }
  return true;
}

/** optional uint64 expected_version: absent, right, wrong, out of range or malformed. */
function expectedVersion(b: Builder, field: number): void {
  const { rng, target } = b;
  const choice = rng.weighted<string>([
    [50, "absent"],
    [20, "current"],
    [8, "zero"],
    [5, "next"],
    [4, "previous"],
    [3, "maxSafe"],
    [3, "2^53"],
    [3, "2^64-1"],
    [2, "overflow"],
    [2, "random"],
  ]);
  if (choice === "absent") return;
  if (choice === "overflow") {
    // Ten bytes whose last carries more than the 64th bit: no uint64. Read modulo 2^64,
    // the first is 2^64 - 1 and the second is 0 ("must not exist"), which would turn a
    // malformed check into another check.
    const last = rng.pick([0x7f, 0x02]);
    const bytes = Uint8Array.from([...new Array(9).fill(last === 0x7f ? 0xff : 0x80), last]);
    b.parts.push({
      field,
      name: "expected_version",
      bytes: concat([tag(field, WT.varint), bytes]),
      singular: true,
    });
    b.problems.push(input(status.INVALID_ARGUMENT, "expected_version varint overflows 64 bits"));
    b.labels.push(`ev=overflow(${last === 0x7f ? "ff…7f" : "80…02"})`);
    return;
  }
  const value: bigint = {
    current: BigInt(target.version),
    zero: 0n,
    next: BigInt(target.version + 1),
    previous: BigInt(Math.max(0, target.version - 1)),
    maxSafe: BigInt(Number.MAX_SAFE_INTEGER),
    "2^53": 2n ** 53n,
    "2^64-1": 2n ** 64n - 1n,
    random: BigInt(rng.range(0, 50)),
  }[choice] as bigint;
  b.parts.push({
    field,
    name: "expected_version",
    bytes: varintField(field, value),
    singular: true,
  });
  b.labels.push(`ev=${value}`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    b.problems.push(input(status.INVALID_ARGUMENT, `expected_version ${value} out of range`));
  } else if (value !== BigInt(target.version)) {
    b.problems.push(
      state(status.ABORTED, `expected_version ${value}, session at ${target.version}`),
    );
  }
}

/** The effect of an accepted write, and the limits the merged session must respect. */
function written(b: Builder, data: Data, grows: boolean): Effect {
  const keys = Object.keys(data).length;
  if (keys > LIMITS.maxKeys) {
    b.problems.push(state(status.RESOURCE_EXHAUSTED, `session would hold ${keys} keys`));
  }
  const bytes = sessionBytes(data);
  if (bytes > LIMITS.maxSessionBytes) {
    b.problems.push(state(status.RESOURCE_EXHAUSTED, `session would be ${bytes} bytes`));
  }
  return { kind: "write", data, grows };
}

/** Request-level damage: duplicated, unknown or mistyped fields, truncated or malformed tags. */
function mutateRequest(b: Builder, rpc: Rpc): void {
  const { rng } = b;
  const declared = DECLARED[rpc];
  const numbers = Object.keys(declared).map(Number);
  const singular = b.parts.filter((p) => p.singular);
  const how = rng.pick([
    "duplicate",
    "duplicate",
    "unknownField",
    "unknownField",
    "wrongWireType",
    "truncatedVarint",
    "tagWithoutLength",
    "fieldZero",
    "groupStart",
    "overlongVarint",
    "hugeLength",
    "shuffle",
  ]);
  switch (how) {
    case "duplicate": {
      if (singular.length === 0) return;
      const p = rng.pick(singular);
      b.labels.push(`+dup:${p.name}`);
      if (p.name === "value" || p.name === "data") {
        // Protobuf would merge the two messages; sessiond refuses instead.
        b.parts.push({ ...p });
        b.problems.push(wire(`message field ${p.name} (${p.field}) appears twice`));
        return;
      }
      // A scalar sent twice: protobuf keeps the last, as the README says sessiond does. The
      // other value goes first, so the request means what it meant before.
      b.parts.splice(b.parts.indexOf(p), 0, { ...p, bytes: otherScalar(rng, p) });
      return;
    }
    case "unknownField": {
      const field = rng.pick(
        [4, 5, 6, 9, 15, 16, 1000, 19000, 536870911].filter((n) => !(n in declared)),
      );
      const wt = rng.pick([WT.varint, WT.bit64, WT.len, WT.bit32, WT.startGroup]);
      b.parts.splice(rng.int(b.parts.length + 1), 0, {
        field,
        name: "unknown",
        bytes: anyField(field, wt, rng.bytes(rng.range(0, 6))),
        singular: false,
      });
      b.problems.push(wire(`unknown field ${field} (wire type ${wt})`));
      b.labels.push(`+unknown:${field}/${wt}`);
      return;
    }
    case "wrongWireType": {
      if (numbers.length === 0) {
        mutateRequestFallback(b);
        return;
      }
      const field = rng.pick(numbers);
      const wt = rng.pick(
        [WT.varint, WT.bit64, WT.len, WT.bit32].filter((t) => t !== declared[field]),
      );
      b.parts.push({
        field,
        name: "mistyped",
        bytes: anyField(field, wt, rng.bytes(8)),
        singular: false,
      });
      b.problems.push(wire(`field ${field} as wire type ${wt}`));
      b.labels.push(`+wiretype:${field}/${wt}`);
      return;
    }
    case "truncatedVarint": {
      const field = numbers.find((n) => declared[n] === WT.varint) ?? 1;
      b.parts.push({
        field,
        name: "cut",
        bytes: concat([tag(field, WT.varint), Uint8Array.from([0x80, 0x80])]),
        singular: false,
      });
      b.problems.push(wire("a varint cut off at the end"));
      b.labels.push("+truncatedVarint");
      return;
    }
    case "tagWithoutLength":
      b.parts.push({ field: 1, name: "cut", bytes: tag(1, WT.len), singular: false });
      b.problems.push(wire("a length-delimited tag with no length"));
      b.labels.push("+tagOnly");
      return;
    case "fieldZero":
      b.parts.unshift({
        field: 0,
        name: "zero",
        bytes: Uint8Array.from([0x00, 0x01]),
        singular: false,
      });
      b.problems.push(wire("field number 0"));
      b.labels.push("+field0");
      return;
    case "groupStart":
      b.parts.push({ field: 1, name: "group", bytes: tag(1, WT.startGroup), singular: false });
      b.problems.push(wire("a start-group tag never ended"));
      b.labels.push("+group");
      return;
    case "overlongVarint": {
      const bytes = concat([tag(1, WT.varint), new Uint8Array(11).fill(0x80)]);
      b.parts.push({ field: 1, name: "overlong", bytes, singular: false });
      b.problems.push(wire("an 11-byte varint"));
      b.labels.push("+overlongVarint");
      return;
    }
    case "hugeLength":
      b.parts.push({
        field: 1,
        name: "huge",
        bytes: concat([
          tag(1, WT.len),
          varint(rng.pick([2 ** 31, 2 ** 32 - 1, 2n ** 62n])),
          utf8("x"),
        ]),
        singular: false,
      });
      b.problems.push(wire("a length far past the end"));
      b.labels.push("+hugeLength");
      return;
    default:
      // Field order is free on the wire: this must change nothing.
      for (let i = b.parts.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [b.parts[i], b.parts[j]] = [b.parts[j] as Part, b.parts[i] as Part];
      }
      b.labels.push("+shuffled");
  }
}

/** Another value for the scalar field `p`, of its own type. */
function otherScalar(rng: Rng, p: Part): Uint8Array {
  switch (p.name) {
    case "key":
      return lenField(p.field, utf8(rng.chance(0.5) ? plainKey(rng) : "__other__"));
    case "delta":
      return concat([tag(p.field, WT.bit64), doubleBytes(rng.pick([1, -1, Number.NaN, 1e308]))]);
    default:
      return varintField(p.field, rng.pick([0, 1, 7, 2n ** 63n]));
  }
}

function mutateRequestFallback(b: Builder): void {
  b.parts.push({ field: 7, name: "unknown", bytes: varintField(7, 1), singular: false });
  b.problems.push(wire("unknown field 7"));
  b.labels.push("+unknown:7/0");
}
