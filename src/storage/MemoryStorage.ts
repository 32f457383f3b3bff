import {
  assignKey,
  cloneJson,
  type JsonValue,
  jsonByteLength,
  type SessionData,
} from "../common/json.js";
import { checkOpCount, checkSessionSize, type Limits } from "../common/Limits.js";
import { SessionError } from "../common/SessionError.js";
import { type Applied, assertExpectedVersion, assertExpiry, incrementValue } from "./applyOps.js";
import {
  type ApplyOptions,
  type ApplyResult,
  type Delta,
  type Expiry,
  expireAt,
  type KeyRead,
  type Op,
  type RegenerateOptions,
  type RegenerateResult,
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

/**
 * One session. Times are milliseconds since the storage's epoch (its creation), not since
 * 1970: such offsets stay small integers for the first ~24 days (V8 Smis, stored inline)
 * where epoch times would each need a boxed double, 32 bytes a session at a million
 * sessions. Beyond that V8 moves the fields to doubles by itself; nothing else changes.
 */
interface Entry {
  data: SessionData;
  version: number;
  created: number;
  expires: number;
  /** sessionBytes(data), kept so a write costs what it changes, not the session's size. */
  bytes: number;
}

/**
 * The same number, as a small integer when it is one: arithmetic on Date.now() yields a
 * double even when the result is whole, and a double stored in a field is boxed.
 */
function small(n: number): number {
  return n >= 0 && n <= 0x3fff_ffff ? n | 0 : n;
}

/** Sessions up to this many keys are re-laid out after growing (see compact()). */
const COMPACT_KEYS = 32;

/** Single process, fastest, not persistent. Values are copied in and out, never shared. */
export class MemoryStorage implements Storage {
  readonly #entries = new Map<string, Entry>();
  readonly #maxSessions: number;
  readonly #sweepBatch: number;
  readonly #timer: NodeJS.Timeout;
  readonly #epoch = Date.now();
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
    const { version, createTime, expireTime } = this.#meta(entry);
    return { version, createTime, expireTime, data: cloneJson(entry.data) };
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
    checkOpCount(0, delta.ops.length, options.limits);
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
    if (!entry) this.#assertRoomForOne();
    const { data, bytes, incremented } = applyCounted(entry, delta.ops, options.limits);
    const created = entry?.created ?? small(now - this.#epoch);
    const expires = small(expireAt(now, created + this.#epoch, options) - this.#epoch);
    if (entry) {
      // Updated in place: at a million sessions, a new entry per write is old-generation
      // garbage that every major GC then has to deal with.
      entry.data = data;
      entry.version = version + 1;
      entry.expires = expires;
      entry.bytes = bytes;
      return this.#result(entry, incremented);
    }
    const next: Entry = { data, version: version + 1, created, expires, bytes };
    this.#entries.set(id, next);
    return this.#result(next, incremented);
  }

  async regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    assertSafeId(oldId);
    assertSafeId(newId);
    assertExpiry(options);
    // One synchronous step: no other call can run between the checks and the move.
    const now = Date.now();
    const entry = this.#live(oldId, now);
    if (!entry) return "missing";
    if (this.#live(newId, now)) return "taken";
    const expires = small(expireAt(now, entry.created + this.#epoch, options) - this.#epoch);
    if (expires <= now - this.#epoch) {
      this.#entries.delete(oldId);
      return "missing";
    }
    if (options.keepOld) this.#assertRoomForOne();
    const moved: Entry = options.keepOld
      ? {
          data: cloneJson(entry.data),
          version: 1,
          created: entry.created,
          expires,
          bytes: entry.bytes,
        }
      : entry;
    moved.version = 1;
    moved.expires = expires;
    if (!options.keepOld) this.#entries.delete(oldId);
    this.#entries.set(newId, moved);
    return this.#meta(moved);
  }

  async touch(id: string, expiry: Expiry): Promise<SessionMeta | undefined> {
    assertSafeId(id);
    assertExpiry(expiry);
    const entry = this.#live(id, Date.now());
    if (!entry) return undefined;
    this.#slide(entry, expiry);
    return this.#meta(entry);
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
    const now = Date.now() - this.#epoch;
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
      if (entry.expires <= now) {
        this.#entries.delete(id);
        freed++;
      }
    }
    return freed;
  }

  /** maxSessions, checked before a session is added. */
  #assertRoomForOne(): void {
    if (this.#entries.size < this.#maxSessions) return;
    this.sweep(Number.POSITIVE_INFINITY);
    if (this.#entries.size >= this.#maxSessions) {
      throw new SessionError(
        "resource_exhausted",
        `memory storage holds ${this.#entries.size} sessions, the limit maxSessions=${this.#maxSessions}`,
      );
    }
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry && entry.expires <= now - this.#epoch) {
      this.#entries.delete(id);
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

interface Counted extends Applied {
  bytes: number;
}

/**
 * applyOps for one stored entry, keeping its byte size up to date by what each op changes
 * (sizing only the values it touches), so a write to a large session does not re-measure
 * every value; keys are counted only when some were added. Checks the limits on the result
 * before returning; values are copied in.
 *
 * The entry's data object is changed in place (copying it cost 17 us per write to a
 * 200-key session, a third of a whole gRPC call): nothing outside holds it, since reads
 * hand out copies, and this runs synchronously, so no reader sees a half-applied delta.
 * Every change to it is logged first and undone when an op or a limit refuses the delta,
 * so a refused delta leaves the entry exactly as it was.
 */
function applyCounted(entry: Entry | undefined, ops: readonly Op[], limits: Limits): Counted {
  // No closures in here: tsx compiles with keepNames, which re-names every closure each
  // time it is created, and this runs on every write.
  const original = entry?.data;
  let data: SessionData = original ?? {};
  let bytes = entry?.bytes ?? 0;
  let grew = false;
  /** (key, its value before, or undefined when it was absent), for changes to `original`. */
  const undo: [string, JsonValue | undefined][] = [];
  const incremented: Record<string, number> = {};
  try {
    for (const op of ops) {
      if (op.type === "clear") {
        // The original stays untouched from here on: later ops go to the new object.
        data = {};
        bytes = 0;
        continue;
      }
      const key = op.key;
      const had = Object.hasOwn(data, key);
      let value: JsonValue | undefined;
      if (op.type === "set") value = cloneJson(op.value);
      else if (op.type === "increment") {
        const next = incrementValue(had ? data[key] : undefined, key, op.delta);
        assignKey(incremented, key, next);
        value = next;
      }
      if (!had && value === undefined) continue;
      if (data === original) undo.push([key, had ? data[key] : undefined]);
      if (had) bytes -= entryBytes(key, data[key] as JsonValue);
      if (value === undefined) {
        delete data[key];
        continue;
      }
      if (!had) grew = true;
      bytes += entryBytes(key, value);
      assignKey(data, key, value);
    }
    // Without added keys the count cannot have grown past a limit it was already within.
    const keys = grew ? Object.keys(data).length : 0;
    checkSessionSize(keys, bytes, limits);
    return { data: grew && keys <= COMPACT_KEYS ? compact(data) : data, bytes, incremented };
  } catch (err) {
    if (original !== undefined) undoChanges(original, undo);
    throw err;
  }
}

function undoChanges(data: SessionData, undo: [string, JsonValue | undefined][]): void {
  for (let i = undo.length - 1; i >= 0; i--) {
    const [key, before] = undo[i] as [string, JsonValue | undefined];
    if (before === undefined) delete data[key];
    else assignKey(data, key, before);
  }
}

/** What one key adds to sessionBytes(): its UTF-8 bytes and its value's JSON bytes. */
function entryBytes(key: string, value: JsonValue): number {
  return Buffer.byteLength(key, "utf8") + jsonByteLength(value);
}

/**
 * The same data in fresh objects. Keys added one by one to an object spill into a separate
 * property array (a spread copy keeps that layout); objects built by JSON.parse hold their
 * properties inline, 32 bytes less for a typical session. Values are JSON already (the
 * storage contract), so the text round trip changes nothing. Only done when a small
 * session gained keys.
 */
function compact(data: SessionData): SessionData {
  return JSON.parse(JSON.stringify(data)) as SessionData;
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
