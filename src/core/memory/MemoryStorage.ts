import { integerOption } from "../integerOption.js";
import { cloneJson } from "../json.js";
import { checkOpCount } from "../Limits.js";
import { type Refusal, refusalError } from "../Refusal.js";
import type { SettingNames } from "../settingNames.js";
import {
  accepted,
  assertExpectedVersion,
  assertExpiry,
  versionRefusal,
} from "../storage/applyOps.js";
import { throwIfCancelled } from "../storage/cancellation.js";
import {
  BUDGETED,
  type CapabilityKey,
  CapabilitySet,
  EXPIRY_COUNTED,
} from "../storage/capabilities.js";
import {
  assertIdempotency,
  isLive,
  type RequestRecord,
  recordOf,
  refusalRecord,
  replay,
} from "../storage/requestRecords.js";
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
  type Op,
  type ReadOptions,
  type RegenerateOptions,
  type RegenerateResult,
  type Replay,
  type SessionMeta,
  type SessionRecord,
  type Storage,
  type TouchOptions,
} from "../storage/Storage.js";
import { assertSafeId } from "./assertSafeId.js";
import { type Counted, countDelta } from "./countDelta.js";
import { defaultMemoryBudget } from "./defaultMemoryBudget.js";
import { type Entry, small } from "./Entry.js";
import { budgetRefusal, type HeapBudget } from "./HeapBudget.js";
import { CREATES, type HeldRecord, RECORD_COST, recordName } from "./HeldRecord.js";
import { sessionCost } from "./heapCost.js";
import { merged } from "./merged.js";

export interface MemoryStorageOptions {
  /** Refuse to create sessions beyond this many live ones (resource_exhausted). Default: no bound. */
  maxSessions?: number;
  /**
   * Most heap, in bytes, all sessions together may take, as estimated by memory/heapCost.ts
   * (about what V8 uses, never much less). A write that would go beyond it fails with
   * resource_exhausted and changes nothing. Default: half the old generation's limit
   * (see defaultMemoryBudget); Infinity lifts it.
   */
  maxTotalBytes?: number;
  /** How often expired sessions are looked for. Default 1 s. */
  sweepIntervalMs?: number;
  /** Most entries one sweep tick inspects, so a tick stays short however many sessions live. */
  sweepBatch?: number;
  /** Named in refusals next to the budget (see core/settingNames.ts). */
  settingNames?: SettingNames;
}

/** Single process, fastest, not persistent. Values are copied in and out, never shared. */
export class MemoryStorage implements Storage {
  readonly #entries = new Map<string, Entry>();
  /** Request records by recordName(scope, Idempotency.key), in the order written. */
  readonly #requests = new Map<string, HeldRecord>();
  /** Each scope's request record names, oldest first (for MAX_REQUEST_RECORDS). */
  readonly #owners = new Map<string, string[]>();
  readonly #maxSessions: number;
  readonly #budget: HeapBudget;
  readonly #sweepBatch: number;
  readonly #timer: NodeJS.Timeout;
  readonly #epoch = Date.now();
  #cursor: Iterator<[string, Entry]> | undefined;
  /** No entry expires before this (ms since the epoch): a full sweep before it frees nothing. */
  #earliestExpiry = Number.POSITIVE_INFINITY;
  #expired = 0;
  /** What metrics read at scrape time (see capabilities.ts): counts kept anyway, no hook. */
  readonly #capabilities = new CapabilitySet()
    .with(EXPIRY_COUNTED, { expired: () => this.#expired })
    .with(BUDGETED, {
      medium: "memory",
      usage: () => ({
        sessions: this.#entries.size,
        usedBytes: this.#budget.used,
        maxBytes: this.#budget.max,
      }),
    });

  constructor(options: MemoryStorageOptions = {}) {
    this.#maxSessions = positive("maxSessions", options.maxSessions) ?? Number.POSITIVE_INFINITY;
    this.#budget = {
      max: positive("maxTotalBytes", options.maxTotalBytes, true) ?? defaultMemoryBudget(),
      used: 0,
      names: options.settingNames,
    };
    this.#sweepBatch = positive("sweepBatch", options.sweepBatch) ?? 10_000;
    const interval = positive("sweepIntervalMs", options.sweepIntervalMs) ?? 1000;
    this.#timer = setInterval(() => this.sweep(), interval);
    this.#timer.unref();
  }

  /** Live sessions held (expired ones not yet swept included). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Sessions freed because they had expired (by a sweep, or found expired when used), since
   * the storage was created. A plain count, so that whoever exports metrics needs no hook.
   */
  get expired(): number {
    return this.#expired;
  }

  /** What the sessions held are charged against maxTotalBytes, and that budget. */
  get budget(): { usedBytes: number; maxTotalBytes: number } {
    return { usedBytes: this.#budget.used, maxTotalBytes: this.#budget.max };
  }

  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key);
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const entry = this.#read(id, expiry);
    if (!entry) return undefined;
    const { version, createTime, expireTime } = this.#meta(entry);
    return { version, createTime, expireTime, data: cloneJson(entry.data) };
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    const entry = this.#read(id, expiry);
    if (!entry) return undefined;
    return Object.hasOwn(entry.data, key)
      ? { found: true, value: cloneJson(entry.data[key]) }
      : { found: false };
  }
  /** What both reads do first: the live entry under `id`, its expiry slid. */
  #read(id: string, expiry: ReadOptions): Entry | undefined {
    throwIfCancelled(expiry.signal);
    assertSafeId(id);
    assertExpiry(expiry);
    const entry = this.#live(id, Date.now());
    if (entry) this.#slide(entry, expiry);
    return entry;
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    throwIfCancelled(options.signal);
    assertSafeId(id);
    assertExpiry(options);
    assertExpectedVersion(delta.expectedVersion);
    checkOpCount(0, delta.ops.length, options.limits);
    const idem = options.idempotency;
    if (idem === undefined) return this.#apply(id, delta, options, Date.now());
    // A create's retry comes with another id: its record is found by the key alone, in a
    // scope of its own (see Idempotency).
    if (options.mode === "create") {
      return this.#idempotent(idem, CREATES, (now) => this.#apply(id, delta, options, now));
    }
    return this.#idempotent(idem, id, (now) => this.#apply(id, delta, options, now));
  }

  #apply(id: string, delta: Delta, options: ApplyOptions, now: number): ApplyResult | undefined {
    const entry = this.#live(id, now);
    if (entry ? options.mode === "create" : options.mode === "existing") return undefined;
    const version = entry?.version ?? 0;
    const conflict = versionRefusal(delta.expectedVersion, version);
    if (conflict) throw refusalError(conflict);
    if (!entry) this.#assertRoomForOne(now);
    const counted = this.#counted(id, entry, delta.ops, options, now);
    const { bytes, cost, incremented } = counted;
    const data = merged(entry?.data, counted);
    this.#budget.used += cost - (entry?.cost ?? 0);
    const created = entry?.created ?? small(now - this.#epoch);
    const expires = small(expireAt(now, created + this.#epoch, options) - this.#epoch);
    if (expires < this.#earliestExpiry) this.#earliestExpiry = expires;
    if (entry) {
      // Updated in place: at a million sessions, a new entry per write is old-generation
      // garbage that every major GC then has to deal with.
      entry.data = data;
      entry.version = version + 1;
      entry.expires = expires;
      entry.bytes = bytes;
      entry.cost = cost;
      return this.#result(entry, incremented);
    }
    const next: Entry = { data, version: version + 1, created, expires, bytes, cost };
    this.#entries.set(id, next);
    return this.#result(next, incremented);
  }

  async regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    throwIfCancelled(options.signal);
    assertSafeId(oldId);
    assertSafeId(newId);
    assertExpiry(options);
    const idem = options.idempotency;
    if (idem === undefined) return this.#regenerate(oldId, newId, options, Date.now());
    // "missing" and "taken" are answered as they are, unrecorded.
    let unrecorded: RegenerateResult = "missing";
    const result = await this.#idempotent(idem, oldId, (now) => {
      const outcome = this.#regenerate(oldId, newId, options, now);
      if (typeof outcome !== "string") return outcome;
      unrecorded = outcome;
      return undefined;
    });
    return result ?? unrecorded;
  }

  /** One synchronous step: no other call can run between the checks and the move. */
  #regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
    now: number,
  ): RegenerateResult {
    const entry = this.#live(oldId, now);
    if (!entry) return "missing";
    if (this.#live(newId, now)) return "taken";
    const expires = small(expireAt(now, entry.created + this.#epoch, options) - this.#epoch);
    if (expires <= now - this.#epoch) {
      this.#drop(oldId);
      this.#expired++;
      return "missing";
    }
    // The id is part of what a session costs; a copy (keepOld) is charged whole.
    const cost = entry.cost - sessionCost(oldId) + sessionCost(newId);
    if (options.keepOld) {
      this.#assertRoomForOne(now);
      this.#assertBudgetFor(cost, now);
    }
    const moved: Entry = options.keepOld
      ? {
          data: cloneJson(entry.data),
          version: 1,
          created: entry.created,
          expires,
          bytes: entry.bytes,
          cost,
        }
      : entry;
    if (!options.keepOld) this.#drop(oldId);
    moved.version = 1;
    moved.expires = expires;
    moved.cost = cost;
    if (expires < this.#earliestExpiry) this.#earliestExpiry = expires;
    this.#entries.set(newId, moved);
    this.#budget.used += cost;
    return this.#meta(moved);
  }

  async touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined> {
    throwIfCancelled(options.signal);
    assertSafeId(id);
    assertExpiry(options);
    const touch = (now: number) => {
      const entry = this.#live(id, now);
      if (!entry) return undefined;
      this.#slide(entry, options);
      return this.#meta(entry);
    };
    const idem = options.idempotency;
    return idem === undefined ? touch(Date.now()) : this.#idempotent(idem, id, touch);
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<Replay | undefined> {
    throwIfCancelled(options.signal);
    assertSafeId(id);
    const idem = options.idempotency;
    if (idem === undefined) {
      this.#drop(id);
      return undefined;
    }
    return this.#idempotent(idem, id, () => {
      this.#drop(id);
      return {};
    });
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#entries.clear();
    this.#requests.clear();
    this.#owners.clear();
    this.#budget.used = 0;
  }

  /** Live request records held (expired ones not yet swept included). */
  get requestRecords(): number {
    return this.#requests.size;
  }

  /**
   * `write` (synchronous, so the look-up, the write and the record are one step) under a
   * request record of `scope` (a session id, or CREATES); see Idempotency. An undefined
   * result is not recorded.
   */
  #idempotent<T extends object>(
    idem: Idempotency,
    scope: string,
    write: (now: number) => T | undefined,
  ): Promise<(T & Replay) | undefined> {
    assertIdempotency(idem);
    const now = Date.now();
    const name = recordName(scope, idem.key);
    const held = this.#requests.get(name);
    if (held !== undefined) {
      if (isLive(held, now)) return Promise.resolve(replay<T>(held, idem));
      this.#dropRecord(name);
    }
    let result: T | undefined;
    try {
      result = write(now);
    } catch (err) {
      const refusal = refusalRecord(idem, now, err);
      if (refusal !== undefined) this.#keepRecord(name, scope, refusal);
      throw err;
    }
    if (result !== undefined) this.#keepRecord(name, scope, recordOf(idem, now, result));
    return Promise.resolve(result);
  }

  /** `key` is recordName(owner, Idempotency.key); one written again replaces the old. */
  #keepRecord(key: string, owner: string, record: RequestRecord): void {
    this.#dropRecord(key);
    const cost =
      RECORD_COST +
      (record.s?.length ?? 0) +
      (record.err?.[1].length ?? 0) +
      // A refusal's strings (a key) and numbers, as their JSON text: close enough a bound.
      (record.r === undefined ? 0 : JSON.stringify(record.r).length) +
      owner.length;
    this.#requests.set(key, { ...record, owner, cost });
    this.#budget.used += cost;
    let keys = this.#owners.get(owner);
    if (keys === undefined) {
      keys = [];
      this.#owners.set(owner, keys);
    }
    keys.push(key);
    // The oldest go first: a caller writing faster than the window cannot grow them.
    while (keys.length > MAX_REQUEST_RECORDS) this.#dropRecord(keys[0] as string);
  }

  #dropRecord(key: string): void {
    const held = this.#requests.get(key);
    if (held === undefined) return;
    this.#requests.delete(key);
    this.#budget.used -= held.cost;
    const keys = this.#owners.get(held.owner);
    if (keys === undefined) return;
    const at = keys.indexOf(key);
    if (at >= 0) keys.splice(at, 1);
    if (keys.length === 0) this.#owners.delete(held.owner);
  }

  /** Records are held in the order written; with one window, that is expiry order. */
  #sweepRecords(budget: number): void {
    const now = Date.now();
    let seen = 0;
    for (const [key, held] of this.#requests) {
      if (held.e > now || seen++ >= budget) break;
      this.#dropRecord(key);
    }
  }

  /**
   * Frees expired sessions. Each call resumes where the last stopped and inspects at most
   * `budget` entries, so the cost of a tick does not grow with the number of sessions.
   * With an infinite budget it inspects every entry once. Returns how many it freed.
   */
  sweep(budget = this.#sweepBatch): number {
    this.#sweepRecords(budget);
    const now = Date.now() - this.#epoch;
    const full = budget === Number.POSITIVE_INFINITY;
    if (full) this.#cursor = undefined;
    let earliest = Number.POSITIVE_INFINITY;
    // Deleting shrinks the map, so the bound is fixed before the loop starts.
    const limit = Math.min(budget, this.#entries.size);
    let freed = 0;
    let wrapped = false;
    for (let seen = 0; seen < limit; seen++) {
      this.#cursor ??= this.#entries.entries();
      let next = this.#cursor.next();
      if (next.done) {
        // The end of a pass: start the next one from the beginning, once per call.
        if (wrapped) break;
        wrapped = true;
        this.#cursor = this.#entries.entries();
        next = this.#cursor.next();
        if (next.done) break;
      }
      const [id, entry] = next.value;
      if (entry.expires <= now) {
        this.#drop(id);
        this.#expired++;
        freed++;
      } else if (entry.expires < earliest) earliest = entry.expires;
    }
    if (full) this.#earliestExpiry = earliest;
    return freed;
  }

  /** countDelta within the budget, freeing expired sessions first if that is what it takes. */
  #counted(
    id: string,
    entry: Entry | undefined,
    ops: readonly Op[],
    options: ApplyOptions,
    now: number,
  ): Counted {
    const first = countDelta(id, entry, ops, options.limits, this.#budget);
    // The entry itself may have just expired and been freed: then refuse, as before.
    if (
      first.ok ||
      first.refusal.kind !== "memoryFull" ||
      !this.#reclaim(now) ||
      this.#entries.get(id) !== entry
    ) {
      return accepted(first);
    }
    return accepted(countDelta(id, entry, ops, options.limits, this.#budget));
  }

  /**
   * A full sweep when it can free something: at most one per expiry, so a client hammering
   * a full storage does not turn every refused write into a walk over every session.
   * True when it freed any.
   */
  #reclaim(now: number): boolean {
    if (now - this.#epoch < this.#earliestExpiry) return false;
    return this.sweep(Number.POSITIVE_INFINITY) > 0;
  }

  /** maxTotalBytes for a session added whole (a regenerate's copy). */
  #assertBudgetFor(cost: number, now: number): void {
    if (this.#budget.used + cost <= this.#budget.max) return;
    this.#reclaim(now);
    if (this.#budget.used + cost > this.#budget.max) {
      throw refusalError(budgetRefusal(cost, this.#budget));
    }
  }

  /** Every removal goes through here, so that the budget gets the bytes back. */
  #drop(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    this.#budget.used -= entry.cost;
  }

  /** maxSessions, checked before a session is added. */
  #assertRoomForOne(now: number): void {
    if (this.#entries.size < this.#maxSessions) return;
    this.#reclaim(now);
    if (this.#entries.size >= this.#maxSessions) {
      const sessions = this.#entries.size;
      const refusal: Refusal = {
        kind: "tooManySessions",
        sessions,
        maxSessions: this.#maxSessions,
      };
      // Absent rather than undefined: the refusal is data a request record keeps.
      const where = this.#budget.names?.maxSessions;
      if (where !== undefined) refusal.where = where;
      throw refusalError(refusal);
    }
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry && entry.expires <= now - this.#epoch) {
      this.#drop(id);
      this.#expired++;
      return undefined;
    }
    return entry;
  }

  #slide(entry: Entry, expiry: Expiry): void {
    entry.expires = small(expireAt(Date.now(), entry.created + this.#epoch, expiry) - this.#epoch);
  }

  /** Spelled out, not `{ ...meta, incremented }`: see withExpiry in FileStorage. */
  #result(entry: Entry, incremented: Record<string, number>): ApplyResult {
    const epoch = this.#epoch;
    return {
      version: entry.version,
      createTime: entry.created + epoch,
      expireTime: entry.expires + epoch,
      incremented,
    };
  }

  #meta(entry: Entry): SessionMeta {
    return {
      version: entry.version,
      createTime: entry.created + this.#epoch,
      expireTime: entry.expires + this.#epoch,
    };
  }
}

function positive(option: string, value: number | undefined, infinite = false): number | undefined {
  if (value === undefined) return undefined;
  return integerOption(option, value, { min: 1, fallback: 0, infinite });
}
