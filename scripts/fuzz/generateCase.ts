import { status } from "@grpc/grpc-js";
import { allowedCodes, type Leeway, type Problem, RESET } from "./expectation.js";
import { plainKey } from "./fuzzStrings.js";
import { type Framing, genFraming } from "./generateFrame.js";
import { type GenMetadata, genMetadata } from "./generateMetadata.js";
import {
  type Effect,
  type GenRequest,
  genRequest,
  LIMITS,
  RPCS,
  type Rpc,
  type Target,
} from "./generateRequest.js";
import { type Data, type Json, setOwn } from "./jsonModel.js";
import type { Rng } from "./Rng.js";

/**
 * The control session a case starts from: written through the generated client, so the
 * session is exactly what a well-behaved caller makes. Most are small; some sit just under
 * maxKeys or maxSessionBytes, so that one more key or byte crosses the limit.
 */
export interface Setup {
  data: Data;
  /** Extra single-key writes after the first SetMap, so versions other than 1 are covered. */
  bumps: number;
  label: string;
}

export function genSetup(rng: Rng): Setup {
  const shape = rng.weighted<string>([
    [92, "small"],
    [4, "nearMaxKeys"],
    [4, "nearMaxBytes"],
  ]);
  const data: Data = {};
  if (shape === "nearMaxKeys") {
    const n = LIMITS.maxKeys - rng.range(0, 2);
    for (let i = 0; i < n; i++) data[`n${i}`] = i;
  } else if (shape === "nearMaxBytes") {
    // 16 values just under maxValueBytes, plus their keys: a few hundred bytes under
    // maxSessionBytes, so almost any further value crosses it.
    for (let i = 0; i < 16; i++) data[`b${i}`] = "v".repeat(LIMITS.maxValueBytes - 32);
    data.counter = 1;
  } else {
    data.counter = rng.range(-5, 5);
    data.text = "hello";
    for (let n = rng.range(0, 4); n > 0; n--) data[plainKey(rng)] = plainValue(rng, 0);
  }
  return { data, bumps: rng.range(0, 2), label: `${shape}(${Object.keys(data).length} keys)` };
}

function plainValue(rng: Rng, depth: number): Json {
  const kind = rng.pick(depth > 2 ? ["n", "s", "b", "z"] : ["n", "s", "b", "z", "o", "a"]);
  if (kind === "n") return rng.range(-1000, 1000) / rng.pick([1, 8]);
  if (kind === "s") return plainKey(rng);
  if (kind === "b") return rng.chance(0.5);
  if (kind === "z") return null;
  if (kind === "a") return [plainValue(rng, depth + 1), plainValue(rng, depth + 1)];
  const out: Record<string, Json> = {};
  setOwn(out, plainKey(rng), plainValue(rng, depth + 1));
  return out;
}

/** What may come back from a call case, and what an accepted call does. */
export interface Expect {
  codes: Set<number>;
  http: Set<number>;
  cancelled: boolean;
  /** On OK: the generated request's effect; "unknown" when some other message may have arrived. */
  effect: Effect | "unknown" | undefined;
  /** Whether anything may have reached the handler (false: the control must be unchanged whatever the status). */
  reachesHandler: boolean;
  why: string[];
}

export interface CallCase {
  kind: "call";
  rpc: Rpc;
  meta: GenMetadata;
  req: GenRequest;
  framing: Framing;
  target: Target;
  expect: Expect;
  summary: string;
}

export interface SocketCase {
  kind: "socket";
  bytes: Uint8Array;
  summary: string;
}

export type RaceKind =
  | "regenerateVsSet"
  | "regenerateTwice"
  | "concurrentIncrements"
  | "concurrentSets";

export interface RaceCase {
  kind: "race";
  race: RaceKind;
  keepOld: boolean;
  key: string;
  deltas: number[];
  summary: string;
}

export type FuzzCase = CallCase | SocketCase | RaceCase;

export interface Control {
  id: string;
  data: Data;
  version: number;
}

export function genCase(rng: Rng, control: Control): FuzzCase {
  const kind = rng.weighted<string>([
    [94, "call"],
    [2, "socket"],
    [4, "race"],
  ]);
  if (kind === "socket") return socketCase(rng);
  if (kind === "race") return raceCase(rng);
  const rpc = rng.pick(RPCS);
  const meta = genMetadata(rng, control.id);
  const target: Target =
    meta.aim === "control"
      ? { exists: true, data: control.data, version: control.version }
      : { exists: false, data: {}, version: 0 };
  const req = genRequest(rng, rpc, target);
  const framing = genFraming(rng, `/sessiond.v1.SessionService/${rpc}`, req.bytes, meta.headers);
  const expect = expectFor(meta, req, framing);
  const summary = [meta.label, req.label, framing.label].filter((s) => s !== "").join(" ");
  return { kind: "call", rpc, meta, req, framing, target, expect, summary };
}

function expectFor(meta: GenMetadata, req: GenRequest, framing: Framing): Expect {
  const problems: Problem[] = [...meta.problems, ...req.problems];
  const leeway: Leeway[] = [...meta.leeway, ...req.leeway, ...(framing.leeway ?? [])];
  const why = [...problems, ...leeway].map((p) => `${p.why} → ${status[p.code] ?? p.code}`);
  const t = framing.transport;
  if (t === undefined) {
    return {
      codes: allowedCodes(problems, leeway),
      http: new Set(),
      cancelled: false,
      effect: req.effect,
      reachesHandler: true,
      why,
    };
  }
  const codes = new Set<number>(t.codes);
  // The interceptor looks at the id as soon as the headers arrive: before grpc-js has
  // counted the messages, so a malformed id may be what is answered.
  if (t.http === undefined && !t.cancelled) {
    for (const p of meta.problems) codes.add(p.code);
    for (const l of meta.leeway) codes.add(l.code);
  }
  // Headers past the HTTP/2 header list limits may get the stream refused before anything
  // reads them (a missing content-type included): that reset is allowed whatever the framing.
  for (const p of [...meta.problems, ...meta.leeway]) if (p.code === RESET) codes.add(RESET);
  if (t.anyMessage) {
    for (const c of SESSIOND_CODES) codes.add(c);
  }
  return {
    codes,
    http: new Set(t.http ?? []),
    cancelled: t.cancelled ?? false,
    effect: t.anyMessage ? "unknown" : undefined,
    reachesHandler: t.anyMessage ?? false,
    why: [
      ...why,
      `${framing.label}: answered by grpc-js → ${[...t.codes].map((c) => status[c]).join("/") || "no status"}`,
    ],
  };
}

/** The statuses sessiond's handlers answer with while the storage is up. */
export const SESSIOND_CODES: readonly status[] = [
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ABORTED,
  status.RESOURCE_EXHAUSTED,
  status.FAILED_PRECONDITION,
];

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Bytes no HTTP/2 library would send: garbage, bad frames after a valid preface. */
function socketCase(rng: Rng): SocketCase {
  const how = rng.pick([
    "garbage",
    "http1",
    "prefaceThenGarbage",
    "badSettingsLength",
    "dataOnStream0",
    "headersBadHpack",
    "hugeFrameLength",
    "windowUpdateZero",
  ]);
  const frame = (type: number, flags: number, stream: number, payload: Uint8Array) => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head.writeUInt8(type, 3);
    head.writeUInt8(flags, 4);
    head.writeUInt32BE(stream, 5);
    return Buffer.concat([head, payload]);
  };
  const settings = frame(4, 0, 0, new Uint8Array());
  const bytes = {
    garbage: Buffer.from(rng.bytes(rng.range(1, 200))),
    http1: Buffer.from("POST /sessiond.v1.SessionService/Get HTTP/1.1\r\nHost: x\r\n\r\n"),
    prefaceThenGarbage: Buffer.concat([PREFACE, Buffer.from(rng.bytes(rng.range(1, 100)))]),
    badSettingsLength: Buffer.concat([PREFACE, frame(4, 0, 0, new Uint8Array(5))]),
    dataOnStream0: Buffer.concat([PREFACE, settings, frame(0, 1, 0, new Uint8Array(10))]),
    headersBadHpack: Buffer.concat([
      PREFACE,
      settings,
      frame(1, 5, 1, rng.bytes(rng.range(1, 50))),
    ]),
    hugeFrameLength: Buffer.concat([
      PREFACE,
      settings,
      Buffer.from([0xff, 0xff, 0xff, 0, 1, 0, 0, 0, 1]),
    ]),
    windowUpdateZero: Buffer.concat([PREFACE, settings, frame(8, 0, 0, new Uint8Array(4))]),
  }[how] as Buffer;
  return { kind: "socket", bytes, summary: `socket:${how}(${bytes.length}B)` };
}

function raceCase(rng: Rng): RaceCase {
  const race = rng.pick<RaceKind>([
    "regenerateVsSet",
    "regenerateTwice",
    "concurrentIncrements",
    "concurrentSets",
  ]);
  const keepOld = race === "regenerateVsSet" && rng.chance(0.3);
  const n = rng.range(3, 10);
  const deltas = Array.from({ length: n }, () => rng.range(-50, 50));
  const key = `race_${plainKey(rng)}`;
  return {
    kind: "race",
    race,
    keepOld,
    key,
    deltas,
    summary: `race:${race}(${race.includes("concurrent") ? n : keepOld ? "keep_old" : ""})`,
  };
}
