import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { JsonValue } from "../core/json.js";
import type { Limits } from "../core/Limits.js";
import { SessionError } from "../core/SessionError.js";
import type { ApplyMode, Expiry, Idempotency, Op, Storage } from "../core/storage/Storage.js";
import { SpecStorage } from "./SpecStorage.js";
import { Stall, sleep } from "./timing.js";

/** A storage held to the spec. `create` returns a fresh, empty one; the run closes it. */
export interface DifferentialTarget {
  name: string;
  create: () => Storage | Promise<Storage>;
}

export interface DifferentialOptions {
  seed: number;
  steps: number;
  /**
   * How far apart two clocks' readings of "the same moment" may be, in ms: every storage
   * reads its own clock, a little before or after the spec. Steps are never run within this
   * margin of a session's expiry (the run sleeps past it first), and a step that takes
   * longer than the margin is a Stall (re-run), never a disagreement. Default 60.
   */
  marginMs?: number;
}

export interface DifferentialReport {
  steps: number;
  /** How many steps of each kind ran, and how many ended in each outcome. */
  counts: Record<string, number>;
}

/** Small on purpose, so that sequences of a few dozen deltas run into every limit. */
export const DIFFERENTIAL_LIMITS: Limits = Object.freeze({
  maxKeyBytes: 64,
  maxValueBytes: 1024,
  maxKeys: 6,
  maxSessionBytes: 400,
  maxOps: 8,
});

/** One family (see idFamily.ts), so a regenerate between any two is legal on a Cluster. */
const IDS = ["dfam0", "dfam1", "dfam2", "dfam3", "dfam4", "dfam5"];
const KEYS = ["a", "b", "n", "m", "__proto__", "constructor", "ключ", "x y"];
// -0 among them: it is stored and read back as 0 everywhere (see Op in Storage.ts).
const NUMBERS = [0, -0, 1, -3, 42, 0.1, 0.2, 1.5, -2.25, 1 / 3, 1e21, 2 ** 53, 1e-7, 123456.789];
const DELTAS = [1, -1, 5, 0.1, 0.2, -0.5, 1e308, 2 ** 52, 1 / 3, -0];
/**
 * Request-record windows: mostly longer than any run, sometimes short enough that records
 * expire during one (steps are kept away from their expiry as from sessions').
 */
const WINDOWS = [60_000, 60_000, 700];

type Step =
  | {
      kind: "apply";
      id: string;
      ops: Op[];
      expectedVersion?: number;
      mode: ApplyMode;
      ttlMs: number;
      idem?: Idempotency;
    }
  | { kind: "read"; id: string; ttlMs: number }
  | { kind: "readKey"; id: string; key: string; ttlMs: number }
  | {
      kind: "regenerate";
      oldId: string;
      newId: string;
      keepOld: boolean;
      ttlMs: number;
      idem?: Idempotency;
    }
  | { kind: "touch"; id: string; ttlMs: number; idem?: Idempotency }
  | { kind: "destroy"; id: string; idem?: Idempotency }
  | { kind: "expire" };

/** A write that may carry a request record. */
type Write = Extract<Step, { idem?: Idempotency }>;

/** What one call came to, in a form two storages can be compared by. */
type Outcome = { ok: unknown } | { error: string; message: string };

/**
 * Applies one seeded random sequence of deltas, reads, readKeys, regenerates, touches,
 * destroys and expiries to every target and to SpecStorage, step by step, and fails at the
 * first step where a target's outcome differs from the spec's: same result shape, values,
 * versions and error code; times within the margin (plus the ≤ ttl/20 a storage may
 * coalesce a slide by, see RecentSlides). Writes carry request records (Idempotency) too:
 * fresh keys, a past write sent again as it was (a retry; a create's with another id),
 * a past key with another request, on its session or another.
 *
 * Expiry is real: TTLs of 200–300 ms and, on two seeds in three, a 900 ms lifetime, with
 * real sleeps. The choice of each step is a function of the seed and of the spec's state,
 * which time enters only through which sessions have expired, so a seed replays the same
 * sequence up to that.
 */
export async function runDifferential(
  targets: readonly DifferentialTarget[],
  options: DifferentialOptions,
): Promise<DifferentialReport> {
  const margin = options.marginMs ?? 60;
  const rng = new Rng(options.seed);
  const writes: Write[] = [];
  const maxLifetimeMs = options.seed % 3 === 0 ? undefined : 900;
  const spec = new SpecStorage();
  const storages = await Promise.all(targets.map((t) => t.create()));
  const counts: Record<string, number> = {};
  const count = (name: string) => {
    counts[name] = (counts[name] ?? 0) + 1;
  };
  try {
    for (let index = 0; index < options.steps; index++) {
      const step = nextStep(rng, spec, writes);
      await awayFromExpiry(spec, margin, step.kind === "expire");
      count(step.kind);
      if (step.kind === "expire") continue;
      const expiry: Expiry = { ttlMs: "ttlMs" in step ? step.ttlMs : 1, maxLifetimeMs };
      const started = Date.now();
      const [expected, ...actual] = await Promise.all(
        [spec, ...storages].map((storage) => outcome(() => run(storage, step, expiry))),
      );
      const took = Date.now() - started;
      if (took > margin) {
        throw new Stall(`step ${index} took ${took} ms, over the ${margin} ms margin`);
      }
      count(`${step.kind}:${label(expected as Outcome)}`);
      if ("idem" in step && step.idem !== undefined)
        count(`requestId:${label(expected as Outcome)}`);
      const problems: string[] = [];
      for (const [i, got] of actual.entries()) {
        const name = (targets[i] as DifferentialTarget).name;
        const problem = difference(expected as Outcome, got as Outcome, margin + expiry.ttlMs / 20);
        if (problem !== undefined) problems.push(`  ${name} (${problem}): ${show(got)}`);
      }
      if (problems.length > 0) {
        assert.fail(
          [
            `storages disagree with the spec at step ${index} of seed ${options.seed} (replay: SESSIOND_DIFF_SEED=${options.seed})`,
            `  op:   ${describe(step, expiry)}`,
            `  spec: ${show(expected)}`,
            ...problems,
          ].join("\n"),
        );
      }
    }
  } finally {
    await Promise.all(storages.map((s) => s.close()));
  }
  return { steps: options.steps, counts };
}

function run(storage: Storage, step: Exclude<Step, { kind: "expire" }>, expiry: Expiry) {
  switch (step.kind) {
    case "apply":
      return storage.apply(
        step.id,
        { ops: step.ops, expectedVersion: step.expectedVersion },
        { ...expiry, mode: step.mode, limits: DIFFERENTIAL_LIMITS, idempotency: step.idem },
      );
    case "read":
      return storage.read(step.id, expiry);
    case "readKey":
      return storage.readKey(step.id, step.key, expiry);
    case "regenerate":
      return storage.regenerate(step.oldId, step.newId, {
        ...expiry,
        keepOld: step.keepOld,
        idempotency: step.idem,
      });
    case "touch":
      return storage.touch(step.id, { ...expiry, idempotency: step.idem });
    case "destroy":
      // What destroy returns without a request id is unspecified (undefined or void).
      if (step.idem === undefined) return storage.destroy(step.id).then(() => "destroyed");
      return storage.destroy(step.id, { idempotency: step.idem });
  }
}

async function outcome(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await call() };
  } catch (err) {
    if (err instanceof SessionError) return { error: err.code, message: err.message };
    return { error: `not a SessionError: ${String(err)}`, message: String(err) };
  }
}

/** Why `got` is not what the spec answered, or undefined when it is. */
function difference(expected: Outcome, got: Outcome, timeTolerance: number): string | undefined {
  if ("error" in expected || "error" in got) {
    const a = "error" in expected ? expected.error : "a result";
    const b = "error" in got ? got.error : "a result";
    return a === b ? undefined : `spec ${a}, storage ${b}`;
  }
  const times = ["createTime", "expireTime"];
  const untimed = (value: unknown) =>
    typeof value === "object" && value !== null
      ? Object.fromEntries(Object.entries(value).filter(([k]) => !times.includes(k)))
      : value;
  try {
    assert.deepStrictEqual(untimed(got.ok), untimed(expected.ok));
  } catch {
    return "different results";
  }
  for (const time of times) {
    const a = (expected.ok as Record<string, unknown> | undefined)?.[time];
    const b = (got.ok as Record<string, unknown> | undefined)?.[time];
    if (typeof a !== "number") continue;
    if (typeof b !== "number" || Math.abs(a - b) > timeTolerance) {
      return `${time} off by ${typeof b === "number" ? b - a : "?"} ms (tolerance ${timeTolerance} ms)`;
    }
  }
  return undefined;
}

/**
 * Sleeps until no session's expiry (by the spec) is within `margin` of now, so that every
 * clock agrees which sessions are live. With `pass`, first sleeps past the earliest expiry
 * of a live session: the "expire" step.
 */
async function awayFromExpiry(spec: SpecStorage, margin: number, pass: boolean): Promise<void> {
  if (pass) {
    // Sessions' expiries only: a request record's may be a minute away (WINDOWS), and the
    // step is about sessions; records still expire on their own as the run goes on.
    const now = Date.now();
    const live = sessionExpiries(spec).filter((e) => e > now);
    if (live.length > 0) await sleep(Math.min(...live) - now + margin);
  }
  for (;;) {
    const now = Date.now();
    const near = expiries(spec).filter((e) => e > now - margin && e < now + 2 * margin);
    if (near.length === 0) return;
    await sleep(Math.max(...near) - now + margin + 1);
  }
}

/** Every time at which something the spec holds expires: sessions and request records. */
function expiries(spec: SpecStorage): number[] {
  return [...sessionExpiries(spec), ...spec.recordExpiries()];
}

function sessionExpiries(spec: SpecStorage): number[] {
  return [...spec.peek().values()].map((m) => m.expireTime);
}

function nextStep(rng: Rng, spec: SpecStorage, writes: Write[]): Step {
  const roll = rng.int(100);
  const id = rng.pick(IDS);
  const ttlMs = rng.pick([200, 250, 300]);
  if (roll < 6 && writes.length > 0) return retry(rng, rng.pick(writes), ttlMs);
  if (roll < 45) {
    const ops: Op[] = [];
    const n = rng.int(DIFFERENTIAL_LIMITS.maxOps + 3);
    for (let i = 0; i < n; i++) ops.push(randomOp(rng));
    const mode = rng.pick<ApplyMode>(["existing", "existing", "upsert", "create"]);
    const step: Step = { kind: "apply", id, ops, mode, ttlMs };
    if (rng.int(3) === 0) {
      // Mostly the version it is at (by the spec), sometimes one off.
      const at = spec.peek().get(id);
      const live = at !== undefined && at.expireTime > Date.now();
      step.expectedVersion = Math.max(0, (live ? at.version : 0) + rng.pick([0, 0, 0, 1, -1]));
    }
    return withRequestId(rng, step, writes);
  }
  if (roll < 60) return { kind: "read", id, ttlMs };
  if (roll < 70) return { kind: "readKey", id, key: rng.pick(KEYS), ttlMs };
  if (roll < 81) {
    // Into any id, itself included: a missing one is "missing", a live one "taken".
    const newId = rng.pick(IDS);
    const step: Step = { kind: "regenerate", oldId: id, newId, keepOld: rng.int(3) === 0, ttlMs };
    return withRequestId(rng, step, writes);
  }
  if (roll < 90) return withRequestId(rng, { kind: "touch", id, ttlMs }, writes);
  if (roll < 97) return withRequestId(rng, { kind: "destroy", id }, writes);
  return { kind: "expire" };
}

/**
 * The write with a request record on two in five: under a fresh key, or under a key a past
 * write used (so another request on its session, or the same key on another session; the
 * same request now and then, when the bodies happen to match).
 */
function withRequestId(rng: Rng, step: Write, writes: Write[]): Write {
  const roll = rng.int(5);
  if (roll >= 2) return step;
  const past = roll === 1 && writes.length > 0 ? rng.pick(writes).idem : undefined;
  const key = past?.key ?? hex(`request ${rng.next()}`);
  const idem: Idempotency = { key, fingerprint: fingerprint(step), windowMs: rng.pick(WINDOWS) };
  // What a create or a regenerate issued, as the Manager seals it: opaque to the storage.
  if (step.kind === "regenerate" || (step.kind === "apply" && step.mode === "create")) {
    idem.sealedId = `sealed_${hex(key).slice(0, 12)}`;
  }
  const out = { ...step, idem };
  writes.push(out);
  return out;
}

/**
 * A past write sent again, as a client retries: the same request and record. A create's
 * retry creates under another id (the Manager draws a fresh one), with the same record.
 */
function retry(rng: Rng, past: Write, ttlMs: number): Step {
  const again = "ttlMs" in past ? { ...past, ttlMs } : { ...past };
  if (again.kind === "apply" && again.mode === "create") again.id = rng.pick(IDS);
  return again;
}

/** What the Manager's fingerprint stands for: the request, but not a create's (fresh) id. */
function fingerprint(step: Write): string {
  const { ttlMs: _ttl, idem: _idem, ...body } = { ttlMs: 0, ...step };
  const request = body.kind === "apply" && body.mode === "create" ? { ...body, id: "" } : body;
  return hex(JSON.stringify(request, (_, v) => (Object.is(v, -0) ? "-0" : v)));
}

function hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function randomOp(rng: Rng): Op {
  const roll = rng.int(20);
  const key = rng.pick(KEYS);
  if (roll < 10) return { type: "set", key, value: randomValue(rng, 2) };
  if (roll < 13) return { type: "remove", key };
  if (roll < 19)
    return { type: "increment", key: rng.pick(["n", "m", key]), delta: rng.pick(DELTAS) };
  return { type: "clear" };
}

function randomValue(rng: Rng, depth: number): JsonValue {
  const roll = rng.int(depth > 0 ? 10 : 7);
  switch (roll) {
    case 0:
    case 1:
    case 2:
      return rng.pick(NUMBERS);
    case 3:
      return rng.pick(["", "text", "ünïcødé ✓", "x".repeat(90), '"quoted" \\ \n']);
    case 4:
      return null;
    case 5:
      return rng.int(2) === 0;
    case 6:
      return rng.pick([0, 7, -1]);
    case 7:
    case 8:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth - 1));
    default: {
      const out: { [key: string]: JsonValue } = {};
      for (let i = rng.int(3); i > 0; i--) {
        Object.defineProperty(out, rng.pick(KEYS), {
          value: randomValue(rng, depth - 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
  }
}

function label(outcome: Outcome): string {
  if ("error" in outcome) return outcome.error;
  if (outcome.ok === undefined) return "undefined";
  if (typeof outcome.ok === "string") return outcome.ok;
  return (outcome.ok as { replayed?: boolean }).replayed === true ? "replayed" : "ok";
}

function describe(step: Step, expiry: Expiry): string {
  return JSON.stringify({ ...step, expiry });
}

function show(outcome: Outcome): string {
  return JSON.stringify(outcome, (_, v) => (Object.is(v, -0) ? "-0" : v));
}

/** mulberry32: tiny, seedable, good enough to pick test steps. */
class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}
