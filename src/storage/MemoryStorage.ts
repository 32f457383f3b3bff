import { cloneJson, type SessionData } from "../common/json.js";
import { SessionError } from "../common/SessionError.js";
import { applyOps, assertExpectedVersion, assertExpiry } from "./applyOps.js";
import {
  type ApplyOptions,
  type ApplyResult,
  type Delta,
  type Expiry,
  expireAt,
  type KeyRead,
  type SessionMeta,
  type SessionRecord,
  type Storage,
} from "./Storage.js";

export interface MemoryStorageOptions {
  /** Refuse to create sessions beyond this many live ones (resource_exhausted). Default: no bound. */
  maxSessions?: number;
  /** How often expired sessions are looked for. Default 1 s. */
  sweepIntervalMs?: number;
  /** Most entries one sweep tick inspects, so a tick stays short however many sessions live. */
  sweepBatch?: number;
}

interface Entry {
  data: SessionData;
  version: number;
  createTime: number;
  expireTime: number;
}

/** Single process, fastest, not persistent. Values are copied in and out, never shared. */
export class MemoryStorage implements Storage {
  readonly #entries = new Map<string, Entry>();
  readonly #maxSessions: number;
  readonly #sweepBatch: number;
  readonly #timer: NodeJS.Timeout;
  #cursor: Iterator<[string, Entry]> | undefined;

  constructor(options: MemoryStorageOptions = {}) {
    this.#maxSessions = positive("maxSessions", options.maxSessions) ?? Number.POSITIVE_INFINITY;
    this.#sweepBatch = positive("sweepBatch", options.sweepBatch) ?? 10_000;
    const interval = positive("sweepIntervalMs", options.sweepIntervalMs) ?? 1000;
    this.#timer = setInterval(() => this.sweep(), interval);
    this.#timer.unref();
  }

  /** Live sessions held (expired ones not yet swept included). */
  get size(): number {
    return this.#entries.size;
  }

  async read(id: string, expiry: Expiry): Promise<SessionRecord | undefined> {
    assertSafeId(id);
    assertExpiry(expiry);
    const entry = this.#live(id, Date.now());
    if (!entry) return undefined;
    this.#slide(entry, expiry);
    return { ...meta(entry), data: cloneJson(entry.data) };
  }

  async readKey(id: string, key: string, expiry: Expiry): Promise<KeyRead | undefined> {
    assertSafeId(id);
    assertExpiry(expiry);
    const entry = this.#live(id, Date.now());
    if (!entry) return undefined;
    this.#slide(entry, expiry);
    return Object.hasOwn(entry.data, key)
      ? { found: true, value: cloneJson(entry.data[key]) }
      : { found: false };
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    assertSafeId(id);
    assertExpiry(options);
    assertExpectedVersion(delta.expectedVersion);
    const now = Date.now();
    const entry = this.#live(id, now);
    if (entry ? options.mode === "create" : options.mode === "existing") return undefined;
    const version = entry?.version ?? 0;
    if (delta.expectedVersion !== undefined && delta.expectedVersion !== version) {
      throw new SessionError(
        "aborted",
        `version mismatch: expected ${delta.expectedVersion}, session is at ${version}`,
      );
    }
    if (!entry && this.#entries.size >= this.#maxSessions) {
      this.sweep(Number.POSITIVE_INFINITY);
      if (this.#entries.size >= this.#maxSessions) {
        throw new SessionError(
          "resource_exhausted",
          `memory storage holds ${this.#entries.size} sessions, the limit maxSessions=${this.#maxSessions}`,
        );
      }
    }
    const ops = delta.ops.map((op) =>
      op.type === "set" ? { ...op, value: cloneJson(op.value) } : op,
    );
    const { data, incremented } = applyOps(entry?.data ?? {}, ops, options.limits);
    const createTime = entry?.createTime ?? now;
    const next: Entry = {
      data,
      version: version + 1,
      createTime,
      expireTime: expireAt(now, createTime, options),
    };
    this.#entries.set(id, next);
    return { ...meta(next), incremented };
  }

  async touch(id: string, expiry: Expiry): Promise<SessionMeta | undefined> {
    assertSafeId(id);
    assertExpiry(expiry);
    const entry = this.#live(id, Date.now());
    if (!entry) return undefined;
    this.#slide(entry, expiry);
    return meta(entry);
  }

  async destroy(id: string): Promise<void> {
    assertSafeId(id);
    this.#entries.delete(id);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#entries.clear();
  }

  /**
   * Frees expired sessions. Each call resumes where the last stopped and inspects at most
   * `budget` entries, so the cost of a tick does not grow with the number of sessions.
   * With an infinite budget it inspects every entry once. Returns how many it freed.
   */
  sweep(budget = this.#sweepBatch): number {
    const now = Date.now();
    if (budget === Number.POSITIVE_INFINITY) this.#cursor = undefined;
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
      if (entry.expireTime <= now) {
        this.#entries.delete(id);
        freed++;
      }
    }
    return freed;
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry && entry.expireTime <= now) {
      this.#entries.delete(id);
      return undefined;
    }
    return entry;
  }

  #slide(entry: Entry, expiry: Expiry): void {
    entry.expireTime = expireAt(Date.now(), entry.createTime, expiry);
  }
}

/** The contract's charset rule, kept here too so every storage refuses the same ids. */
const SAFE_ID = /^[0-9A-Za-z_-]{1,128}$/;

function assertSafeId(id: string): void {
  if (typeof id !== "string" || !SAFE_ID.test(id)) {
    throw new SessionError(
      "invalid_argument",
      "memory storage refuses a session id outside [0-9A-Za-z_-]{1,128}",
    );
  }
}

function positive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new SessionError("invalid_argument", `${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function meta(entry: Entry): SessionMeta {
  return { version: entry.version, createTime: entry.createTime, expireTime: entry.expireTime };
}
