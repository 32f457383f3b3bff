import { cloneJson, type JsonValue, ownValue, type SessionData } from "../core/json.js";
import { checkOpCount } from "../core/Limits.js";
import { refusalError } from "../core/Refusal.js";
import { applyOps, assertExpectedVersion, assertExpiry } from "../core/storage/applyOps.js";
import { throwIfCancelled } from "../core/storage/cancellation.js";
import {
  assertIdempotency,
  pruneRecords,
  type RequestRecord,
  recordOf,
  refusalRecord,
  replay,
} from "../core/storage/requestRecords.js";
import {
  type ApplyOptions,
  type ApplyResult,
  type Delta,
  type DestroyOptions,
  type Expiry,
  expireAt,
  type Idempotency,
  type KeyRead,
  MAX_REQUEST_RECORDS,
  type ReadOptions,
  type RegenerateOptions,
  type RegenerateResult,
  type Replay,
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
 * Request records (Idempotency) are a second Map: scope (the session id a write addressed,
 * or CREATES for a create's records) to record key to record, in the format the in-process
 * storages keep (requestRecords.ts), so replayed refusals carry the same words.
 *
 * Not modelled: id charset checks (ids are assumed valid), storage-wide budgets
 * (maxSessions, maxTotalBytes, disk budgets) and failures of a backing store. Nothing here
 * is tuned for speed.
 */
export class SpecStorage implements Storage {
  readonly #sessions = new Map<string, SpecSession>();
  /** Scope (session id, or CREATES) -> record key -> record. */
  readonly #records = new Map<string, Record<string, RequestRecord>>();
  readonly #clock: () => number;

  /** `clock` is read once per call; a test may pin it, the differential test uses Date.now. */
  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const session = this.#read(id, expiry);
    return session && { ...meta(session), data: cloneJson(session.data) };
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    const session = this.#read(id, expiry);
    if (!session) return undefined;
    const value: JsonValue | undefined = ownValue(session.data, key);
    return value === undefined ? { found: false } : { found: true, value: cloneJson(value) };
  }
  /** A read: the live session, its expiry slid (never its data, version or creation time). */
  #read(id: string, expiry: ReadOptions): SpecSession | undefined {
    throwIfCancelled(expiry.signal);
    assertExpiry(expiry);
    const now = this.#clock();
    const session = this.#live(id, now);
    if (session) slide(session, now, expiry);
    return session;
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    throwIfCancelled(options.signal);
    // Malformed arguments and maxOps are refused before the session is even looked at:
    // an oversize delta to a missing session is resource_exhausted, not "nothing applied".
    // Nor are they recorded: they come before the request record is looked up.
    assertExpiry(options);
    assertExpectedVersion(delta.expectedVersion);
    checkOpCount(0, delta.ops.length, options.limits);
    assertIdempotency(options.idempotency);
    const now = this.#clock();
    // A create's retry comes with another id: its record is found by the key alone.
    const scope = options.mode === "create" ? CREATES : id;
    return this.#idempotent(options.idempotency, scope, now, () => ({
      result: this.#apply(id, delta, options, now),
    }));
  }

  #apply(id: string, delta: Delta, options: ApplyOptions, now: number): ApplyResult | undefined {
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
    assertExpiry(options);
    assertIdempotency(options.idempotency);
    const now = this.#clock();
    // The record lives with the OLD session; "missing" and "taken" are not recorded.
    const outcome = await this.#idempotent(options.idempotency, oldId, now, () => {
      const result = this.#regenerate(oldId, newId, options, now);
      return typeof result === "string" ? { result: undefined, unrecorded: result } : { result };
    });
    // Never undefined: a regenerate that changed nothing always says why.
    return outcome as RegenerateResult;
  }

  #regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
    now: number,
  ): RegenerateResult {
    // The old id first: regenerating a missing id (into itself too) is "missing".
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

  async touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined> {
    throwIfCancelled(options.signal);
    assertExpiry(options);
    assertIdempotency(options.idempotency);
    const now = this.#clock();
    return this.#idempotent(options.idempotency, id, now, () => {
      const session = this.#live(id, now);
      if (!session) return { result: undefined };
      slide(session, now, options);
      return { result: meta(session) };
    });
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<Replay | undefined> {
    throwIfCancelled(options.signal);
    assertIdempotency(options.idempotency);
    const now = this.#clock();
    if (options.idempotency === undefined) {
      this.#sessions.delete(id);
      return undefined;
    }
    // Recorded even when there was nothing to destroy: the record outlives the session.
    return this.#idempotent(options.idempotency, id, now, () => {
      this.#sessions.delete(id);
      return { result: {} };
    });
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#sessions.clear();
    this.#records.clear();
  }

  /**
   * `write` under the request record `idem` names in `scope` (see Idempotency): a live
   * record answers instead (replayed, or already_exists); else the write's result, or its
   * refusal if it is one a record keeps, is recorded in `scope`. An undefined result records
   * nothing and is answered as `unrecorded` ("missing", "taken") or undefined.
   */
  async #idempotent<T extends object, U>(
    idem: Idempotency | undefined,
    scope: string,
    now: number,
    write: () => { result: T | undefined; unrecorded?: U },
  ): Promise<(T & Replay) | U | undefined> {
    const held = idem === undefined ? undefined : this.#records.get(scope)?.[idem.key];
    if (idem !== undefined && held !== undefined && held.e > now) return replay<T>(held, idem);
    let outcome: { result: T | undefined; unrecorded?: U };
    try {
      outcome = write();
    } catch (err) {
      const record = idem && refusalRecord(idem, now, err);
      if (idem && record) this.#keep(scope, idem.key, record, now);
      throw err;
    }
    const { result, unrecorded } = outcome;
    if (result === undefined) return unrecorded;
    if (idem !== undefined) this.#keep(scope, idem.key, recordOf(idem, now, result), now);
    return result;
  }

  /** One scope's records with `record` in, expired ones out, at most MAX_REQUEST_RECORDS. */
  #keep(scope: string, key: string, record: RequestRecord, now: number): void {
    const records = { ...this.#records.get(scope) };
    // Re-added last: a key written again counts as the newest.
    delete records[key];
    records[key] = record;
    this.#records.set(scope, pruneRecords(records, now, MAX_REQUEST_RECORDS));
  }

  /**
   * Every session held with its meta, expired ones not yet dropped included, without
   * sliding anything: what a test needs to steer clear of expiry boundaries.
   */
  peek(): ReadonlyMap<string, SessionMeta> {
    return new Map([...this.#sessions].map(([id, session]) => [id, meta(session)]));
  }

  /**
   * When each request record held expires (expired ones not yet dropped included): a test
   * steers clear of these boundaries too.
   */
  recordExpiries(): number[] {
    return [...this.#records.values()].flatMap((records) =>
      Object.values(records).map((record) => record.e),
    );
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

/** The scope of create records: never a session id (ids are [0-9A-Za-z_-]). */
const CREATES = "\0creates";

function meta(session: SpecSession): SessionMeta {
  return {
    version: session.version,
    createTime: session.createTime,
    expireTime: session.expireTime,
  };
}
