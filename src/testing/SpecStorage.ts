import { cloneJson, type JsonValue, ownValue, type SessionData } from "../core/json.js";
import { checkOpCount } from "../core/Limits.js";
import { refusalError } from "../core/Refusal.js";
import { applyOps, assertExpectedVersion, assertExpiry } from "../core/storage/applyOps.js";
import { throwIfCancelled } from "../core/storage/cancellation.js";
import {
  type ApplyOptions,
  type ApplyResult,
  type Delta,
  type DestroyOptions,
  type Expiry,
  expireAt,
  type KeyRead,
  type ReadOptions,
  type RegenerateOptions,
  type RegenerateResult,
  type SessionMeta,
  type SessionRecord,
  type Storage,
  type TouchOptions,
} from "../core/storage/Storage.js";

interface SpecSession {
  data: SessionData;
  version: number;
  createTime: number;
  expireTime: number;
}

/**
 * The session semantics of the Storage contract, written once as plainly as they can be:
 * one Map, one clock read per call, no locks, no caches, no coalesced slides, no budgets.
 * It is the reference the differential test (differentialTest.ts) holds every storage to,
 * and the place to read a rule when the prose in Storage.ts leaves a doubt.
 *
 * The delta itself (set, remove, increment, clear, and the maxKeys / maxSessionBytes check
 * on the merged result) is applyOps, the helper Session uses and the file storage reaches
 * through applyDelta; everything around it (modes, versions, maxOps, expiry, regenerate) is
 * spelled out here, refusals worded by refusalError like every storage's.
 *
 * Not modelled: request ids (Idempotency, refused with an Error), id charset checks (ids
 * are assumed valid), storage-wide budgets (maxSessions, maxTotalBytes, disk budgets) and
 * failures of a backing store. Nothing here is tuned for speed.
 */
export class SpecStorage implements Storage {
  readonly #sessions = new Map<string, SpecSession>();
  readonly #clock: () => number;

  /** `clock` is read once per call; a test may pin it, the differential test uses Date.now. */
  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    throwIfCancelled(expiry.signal);
    assertExpiry(expiry);
    const now = this.#clock();
    const session = this.#live(id, now);
    if (!session) return undefined;
    slide(session, now, expiry);
    return { ...meta(session), data: cloneJson(session.data) };
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    throwIfCancelled(expiry.signal);
    assertExpiry(expiry);
    const now = this.#clock();
    const session = this.#live(id, now);
    if (!session) return undefined;
    slide(session, now, expiry);
    const value: JsonValue | undefined = ownValue(session.data, key);
    return value === undefined ? { found: false } : { found: true, value: cloneJson(value) };
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    throwIfCancelled(options.signal);
    noRequestIds(options);
    // Malformed arguments and maxOps are refused before the session is even looked at:
    // an oversize delta to a missing session is resource_exhausted, not "nothing applied".
    assertExpiry(options);
    assertExpectedVersion(delta.expectedVersion);
    checkOpCount(0, delta.ops.length, options.limits);
    const now = this.#clock();
    const session = this.#live(id, now);
    if (session && options.mode === "create") return undefined;
    if (!session && options.mode === "existing") return undefined;
    // A missing session is at version 0, so expectedVersion 0 means "only if it is new".
    const version = session?.version ?? 0;
    if (delta.expectedVersion !== undefined && delta.expectedVersion !== version) {
      throw refusalError({ kind: "version", expected: delta.expectedVersion, actual: version });
    }
    // Refused (failed_precondition, resource_exhausted) before anything is stored.
    const { data, incremented } = applyOps(session?.data ?? {}, delta.ops, options.limits);
    const createTime = session?.createTime ?? now;
    const next: SpecSession = {
      // Stored as JSON text would be: what a value reads back as (-0 as 0) is JSON's call.
      data: JSON.parse(JSON.stringify(data)) as SessionData,
      version: version + 1,
      createTime,
      expireTime: expireAt(now, createTime, options),
    };
    this.#sessions.set(id, next);
    return { ...meta(next), incremented };
  }

  async regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    throwIfCancelled(options.signal);
    noRequestIds(options);
    assertExpiry(options);
    const now = this.#clock();
    const session = this.#live(oldId, now);
    if (!session) return "missing";
    // Regenerating into the same id finds it taken (by the session itself).
    if (this.#live(newId, now)) return "taken";
    // The creation time moves with the data: an absolute lifetime is never renewed.
    const expireTime = expireAt(now, session.createTime, options);
    if (expireTime <= now) {
      // Past its lifetime under these options: it is gone, not moved.
      this.#sessions.delete(oldId);
      return "missing";
    }
    const moved: SpecSession = {
      data: cloneJson(session.data),
      version: 1,
      createTime: session.createTime,
      expireTime,
    };
    if (!options.keepOld) this.#sessions.delete(oldId);
    this.#sessions.set(newId, moved);
    return meta(moved);
  }

  async touch(id: string, options: TouchOptions): Promise<SessionMeta | undefined> {
    throwIfCancelled(options.signal);
    noRequestIds(options);
    assertExpiry(options);
    const now = this.#clock();
    const session = this.#live(id, now);
    if (!session) return undefined;
    slide(session, now, options);
    return meta(session);
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<undefined> {
    throwIfCancelled(options.signal);
    noRequestIds(options);
    this.#sessions.delete(id);
    return undefined;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#sessions.clear();
  }

  /**
   * Every session held with its meta, expired ones not yet dropped included, without
   * sliding anything: what a test needs to steer clear of expiry boundaries.
   */
  peek(): ReadonlyMap<string, SessionMeta> {
    return new Map([...this.#sessions].map(([id, session]) => [id, meta(session)]));
  }

  /** An expired session is exactly a missing one: it expires at expireTime, not after. */
  #live(id: string, now: number): SpecSession | undefined {
    const session = this.#sessions.get(id);
    if (session && session.expireTime <= now) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }
}

/** Reads and touches move the expiry, never the data, the version or the creation time. */
function slide(session: SpecSession, now: number, expiry: Expiry): void {
  session.expireTime = expireAt(now, session.createTime, expiry);
}

function meta(session: SpecSession): SessionMeta {
  return {
    version: session.version,
    createTime: session.createTime,
    expireTime: session.expireTime,
  };
}

function noRequestIds(options: { idempotency?: unknown }): void {
  if (options.idempotency !== undefined) {
    throw new Error("SpecStorage does not model request ids (Idempotency)");
  }
}
