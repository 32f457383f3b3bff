import { cloneJson, type JsonValue, type SessionData } from "../json.js";
import { checkOpCount } from "../Limits.js";
import { type Refusal, refusalError } from "../Refusal.js";
import { SessionError } from "../SessionError.js";
import type { SettingNames } from "../settingNames.js";
import { applyOps } from "../storage/applyOps.js";
import { throwIfCancelled } from "../storage/cancellation.js";
import { idInFamily } from "../storage/idFamily.js";
import type {
  ApplyOptions,
  ApplyResult,
  CallSignal,
  Idempotency,
  KeyRead,
  Op,
  ReadOptions,
  Replay,
  SessionMeta,
  SessionRecord,
} from "../storage/Storage.js";
import type { ManagerConfig } from "./Manager.js";
import { RequestId, type RequestStep } from "./requestId.js";
import { assertValidKey, storedValue } from "./validate.js";

export interface SessionInfo extends SessionMeta {
  id: string;
  /**
   * The absolute deadline (first creation + max lifetime) no activity can pass, or
   * undefined without a max lifetime. Regenerate carries it to the new id.
   */
  lifetimeEndTime?: number;
  /** Number of keys. */
  size: number;
}

export interface CommitOptions {
  /** Apply only if the session is at this version (0 = must not exist yet); else `aborted`. */
  expectedVersion?: number;
}

/** Refusals that will not change on retry: the queued changes are dropped. */
const REFUSALS = new Set([
  "already_exists",
  "aborted",
  "resource_exhausted",
  "failed_precondition",
  "invalid_argument",
]);

// Shared by every Session: what most calls never need is not allocated per call.
const NO_OPS: readonly Op[] = Object.freeze([]);
const IGNORE = () => undefined;
const NOT_FOUND: KeyRead = Object.freeze({ found: false });

/**
 * One caller's session for the span of one request. Not shared between requests.
 *
 * Lazy: nothing touches the storage until a read needs data or commit() has changes to
 * apply. Writes (set, setMap, remove, increment) queue ops locally and are visible to this
 * session's own reads at once; commit() sends them to the storage as one atomic delta.
 * removeAll, regenerate, touch and describe act on the storage immediately (after
 * committing what is queued).
 */
export class Session {
  readonly #ctx: ManagerConfig;
  #id: string | undefined;
  /** Whether the session exists in storage; undefined until something asked. */
  #exists: boolean | undefined;
  /** The stored session as last read whole (without this request's pending ops). */
  #record: SessionRecord | undefined;
  /**
   * Single keys read from storage, when the whole session was not needed. Created on first
   * use: a Session is built for every call.
   */
  #keys: Map<string, KeyRead> | undefined;
  #pending: Op[] = [];
  /** Ops a running commit is applying: still visible to this session's reads meanwhile. */
  #inflight: readonly Op[] = NO_OPS;
  /** The last commit started: commits of one Session run one after another. */
  #committing: Promise<unknown> | undefined;
  /** Commits started and not yet settled; 0 = the next one may start at once. */
  #commits = 0;
  #version: number | undefined;
  #idIssued = false;
  #requestId: RequestId | undefined;

  /** The call's cancellation: once aborted, no further storage command starts. */
  readonly #signal: CallSignal | undefined;
  /** What reads pass the storage: the expiry to slide and the signal. */
  readonly #readOptions: ReadOptions;

  constructor(ctx: ManagerConfig, id: string | undefined, signal?: CallSignal) {
    this.#ctx = ctx;
    this.#id = id;
    this.#signal = signal;
    this.#readOptions = signal === undefined ? ctx.expiry : { ...ctx.expiry, signal };
  }

  /** `options` with this call's signal, after checking it: the one gate before storage. */
  #call<T extends object>(options: T): T {
    const signal = this.#signal;
    if (signal === undefined) return options;
    throwIfCancelled(signal);
    return { ...options, signal };
  }

  /** The current id: the caller's, or a new one once a write created the session. */
  get id(): string | undefined {
    return this.#id;
  }

  /** True once this request created the session or replaced its id: the caller must learn it. */
  get idIssued(): boolean {
    return this.#idIssued;
  }

  /**
   * Makes this Session's writes idempotent under `id` (a caller's request_id: 16 to 128
   * characters of [0-9A-Za-z._:~-], unguessable). Settable once, before the first write.
   * Each storage write that follows (commit, regenerate, touch, removeAll) is a numbered
   * step of the request: a retry of the same request with the same id, within the
   * Manager's requestIdWindowMs, gets each step's first outcome again and applies nothing
   * twice; the same id with a different request is refused (already_exists). `scope`
   * (e.g. the RPC's name) is part of what makes two requests the same, and so is `caller`
   * (who sent it, e.g. a digest of their token): a replay is answered to the caller that
   * made the first request only, any other gets already_exists and no outcome. Leave it
   * out when every caller is one (an unauthenticated server).
   */
  setRequestId(id: string, options: { scope?: string; caller?: string | undefined } = {}): void {
    if (this.#requestId !== undefined) {
      throw new SessionError("invalid_argument", "a request id is already set for this session");
    }
    this.#requestId = new RequestId(
      id,
      this.#ctx.requestIdWindowMs,
      { scope: options.scope ?? "", caller: options.caller },
      this.#ctx.requestIdSecret,
    );
  }

  /** True while there are changes not yet committed. */
  get isDirty(): boolean {
    return this.#pending.length > 0 || this.#inflight.length > 0;
  }

  /** The stored version as last seen by this request; undefined before any storage access. */
  get version(): number | undefined {
    return this.#version;
  }

  async get<T extends JsonValue | undefined = undefined>(
    key: string,
    def?: T,
  ): Promise<JsonValue | T> {
    const read = await this.#readKey(key);
    return read.found ? cloneJson(read.value as JsonValue) : (def as T);
  }

  async contains(key: string): Promise<boolean> {
    return (await this.#readKey(key)).found;
  }

  async data(): Promise<SessionData> {
    return cloneJson(await this.#view());
  }

  async size(): Promise<number> {
    return Object.keys(await this.#view()).length;
  }

  /** Queues a write. The value is copied now: mutating it afterwards changes nothing. */
  set(key: string, value: JsonValue): void {
    this.#assertRoomFor(1);
    assertValidKey(key, this.#ctx.limits, this.#ctx.settingNames);
    const stored = storedValue(value, key, this.#ctx.limits, this.#ctx.settingNames);
    this.#pending.push({ type: "set", key, value: stored });
  }

  /** Merges keys into the session. Every entry is checked first: a bad one queues nothing. */
  setMap(data: Record<string, JsonValue>): void {
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new SessionError("invalid_argument", "setMap needs a plain object of key -> value", {
        reason: "INVALID_VALUE",
      });
    }
    // Counted before any per-key work: the caller decides how many keys there are.
    const keys = Object.keys(data);
    this.#assertRoomFor(keys.length);
    const ops: Op[] = [];
    for (const key of keys) {
      assertValidKey(key, this.#ctx.limits, this.#ctx.settingNames);
      ops.push({
        type: "set",
        key,
        value: storedValue(data[key], key, this.#ctx.limits, this.#ctx.settingNames),
      });
    }
    this.#queue(ops);
  }

  remove(...keys: string[]): void {
    this.removeKeys(keys);
  }

  /** remove() for a list of any length (a spread of a long list overflows the call stack). */
  removeKeys(keys: readonly string[]): void {
    this.#assertRoomFor(keys.length);
    for (const key of keys) assertValidKey(key, this.#ctx.limits, this.#ctx.settingNames);
    const ops: Op[] = [];
    for (const key of keys) ops.push({ type: "remove", key });
    this.#queue(ops);
  }

  /** Adds `delta` to a numeric key (absent = 0). The stored result is known after commit(). */
  increment(key: string, delta = 1): void {
    this.#assertRoomFor(1);
    assertValidKey(key, this.#ctx.limits, this.#ctx.settingNames);
    if (!Number.isFinite(delta)) {
      throw new SessionError("invalid_argument", `increment of key "${key}" needs a finite delta`, {
        reason: "INVALID_VALUE",
      });
    }
    this.#pending.push({ type: "increment", key, delta });
  }

  /**
   * Applies queued changes as one atomic delta. Creates the session when needed: under a
   * fresh id unless the Manager adopts unknown ids. Returns undefined when nothing was
   * queued, or when the changes only remove keys from a session that does not exist.
   *
   * When the storage refuses the delta for good (aborted, resource_exhausted,
   * failed_precondition, invalid_argument) nothing was applied and the queued changes are
   * dropped, so a later commit is not stuck on them; after any other failure (unavailable,
   * internal) they stay queued and a later commit retries them.
   */
  commit(options: CommitOptions = {}): Promise<ApplyResult | undefined> {
    // The usual case, no commit running, starts at once: no extra promise, no extra tick.
    const previous = this.#commits === 0 ? undefined : this.#committing;
    this.#commits++;
    let run: Promise<ApplyResult | undefined>;
    if (previous === undefined) run = this.#commitNow(options);
    else {
      // After the previous one, whether it applied or was refused.
      const start = () => this.#commitNow(options);
      run = previous.then(start, start);
    }
    this.#committing = run;
    return run;
  }

  /** Every way out of here settles one commit: each decrements #commits once. */
  async #commitNow(options: CommitOptions): Promise<ApplyResult | undefined> {
    if (this.#pending.length === 0) {
      this.#commits--;
      return undefined;
    }
    const ops = this.#pending;
    this.#pending = [];
    this.#inflight = ops;
    try {
      const result = await this.#applyOps(ops, options.expectedVersion);
      if (result === undefined) this.#exists = false;
      else this.#afterWrite(result.version);
      return result;
    } catch (err) {
      if (!(err instanceof SessionError && REFUSALS.has(err.code))) {
        this.#pending = ops.concat(this.#pending);
      }
      // Whatever made the storage refuse (another writer, say) is worth reading afresh.
      this.#forgetReads();
      throw namedLimit(err, this.#ctx.settingNames);
    } finally {
      this.#inflight = NO_OPS;
      this.#commits--;
    }
  }

  async #applyOps(
    ops: readonly Op[],
    expectedVersion: number | undefined,
  ): Promise<ApplyResult | undefined> {
    const { storage, applyOptions, adoptUnknownIds } = this.#ctx;
    const next = this.#requestId?.next("apply", this.#id, [ops, expectedVersion ?? null]);
    const step = next instanceof Promise ? await next : next;
    // Removing keys from a session that does not exist changes nothing: stay lazy.
    const removesOnly = onlyRemoves(ops);
    if (this.#id !== undefined && (adoptUnknownIds || this.#exists !== false)) {
      const mode = adoptUnknownIds && !removesOnly ? "upsert" : "existing";
      const delta = { ops, expectedVersion };
      const options = withIdempotency(applyOptions[mode], step);
      const result = await storage.apply(this.#id, delta, this.#call(options));
      if (result !== undefined) {
        // A record of this step's create (found where the storage keeps records by key).
        if (step !== undefined) this.#adoptReplayedId(result, step);
        return result;
      }
    }
    if (expectedVersion !== undefined && expectedVersion !== 0) {
      throw refusalError({ kind: "versionMissing", expected: expectedVersion });
    }
    if (removesOnly) return undefined;
    return this.#create(ops, step);
  }

  /**
   * Alias of commit(), in gsession's words: what a request does when it ends.
   * @deprecated Use commit(): every other close() in sessiond releases resources, this one
   * writes. Kept so existing callers keep working; it does exactly what commit() does.
   */
  close(): Promise<ApplyResult | undefined> {
    return this.commit();
  }

  /** Hard-deletes the session (logout). Queued changes are dropped. Idempotent. */
  async removeAll(): Promise<void> {
    if (this.#commits > 0) await this.#committing?.then(IGNORE, IGNORE);
    this.#pending = [];
    this.#forgetReads();
    const next = this.#requestId?.next("removeAll", this.#id, null);
    const step = next instanceof Promise ? await next : next;
    if (this.#id !== undefined) {
      await this.#ctx.storage.destroy(
        this.#id,
        this.#call(step === undefined ? {} : { idempotency: idempotencyOf(step) }),
      );
    }
    this.#exists = false;
    this.#version = undefined;
  }

  /**
   * Moves the data to a fresh id, so an id known before (say) login is worthless after it.
   * One atomic storage step: a concurrent write to the old id either moves with the data
   * or finds the old id gone. The old id is destroyed unless keepOld. The new session
   * starts at version 1 and keeps the creation time, so an absolute lifetime still counts
   * from the first creation.
   */
  async regenerate(options: { keepOld?: boolean } = {}): Promise<string> {
    await this.commit();
    const oldId = this.#id;
    const keepOld = options.keepOld === true;
    const next = this.#requestId?.next("regenerate", oldId, { keepOld });
    const step = next instanceof Promise ? await next : next;
    if (oldId === undefined || this.#exists === false) {
      throw new SessionError("not_found", "no session to regenerate", {
        reason: "SESSION_NOT_FOUND",
      });
    }
    const { storage, expiry } = this.#ctx;
    for (let attempt = 0; attempt < 3; attempt++) {
      let newId = idInFamily(oldId, this.#ctx.generateId());
      const result = await storage.regenerate(
        oldId,
        newId,
        this.#call({
          ttlMs: expiry.ttlMs,
          maxLifetimeMs: expiry.maxLifetimeMs,
          keepOld,
          idempotency: step === undefined ? undefined : idempotencyOf(step, step.seal(newId)),
        }),
      );
      if (result === "taken") continue;
      if (result === "missing") {
        this.#exists = false;
        this.#forgetReads();
        throw new SessionError("not_found", "no session to regenerate", {
          reason: "SESSION_NOT_FOUND",
        });
      }
      // A replay: the id the first attempt moved the session to.
      if (result.replayed && step !== undefined && result.sealedId !== undefined) {
        newId = step.unseal(result.sealedId);
      }
      this.#id = newId;
      this.#idIssued = true;
      this.#afterWrite(result.version);
      return newId;
    }
    throw new SessionError(
      "internal",
      "could not allocate an unused session id (is the id generator constant?)",
    );
  }

  /** Slides the expiry without changing data; not_found when there is no session. */
  async touch(): Promise<SessionMeta> {
    await this.commit();
    const next = this.#requestId?.next("touch", this.#id, null);
    const step = next instanceof Promise ? await next : next;
    const { expiry } = this.#ctx;
    const meta =
      this.#id === undefined || this.#exists === false
        ? undefined
        : await this.#ctx.storage.touch(
            this.#id,
            this.#call(
              step === undefined ? expiry : { ...expiry, idempotency: idempotencyOf(step) },
            ),
          );
    if (meta === undefined) {
      this.#exists = false;
      throw new SessionError("not_found", "no session to touch", {
        reason: "SESSION_NOT_FOUND",
      });
    }
    this.#exists = true;
    this.#version = meta.version;
    return meta;
  }

  /** Id, version, size and times; not_found when there is no session. */
  async describe(): Promise<SessionInfo> {
    await this.commit();
    const record = await this.#load();
    if (record === undefined || this.#id === undefined) {
      throw new SessionError("not_found", "no session to describe", {
        reason: "SESSION_NOT_FOUND",
      });
    }
    const { version, createTime, expireTime, data } = record;
    const lifetime = this.#ctx.expiry.maxLifetimeMs;
    return {
      id: this.#id,
      version,
      createTime,
      expireTime,
      lifetimeEndTime: lifetime === undefined ? undefined : createTime + lifetime,
      size: Object.keys(data).length,
    };
  }

  /** The session as this request sees it: stored data plus pending ops. Not a copy. */
  async #view(): Promise<SessionData> {
    const record = await this.#load();
    const base = record?.data ?? {};
    const ops = this.#unapplied();
    return ops.length === 0 ? base : applyOps(base, ops).data;
  }

  /** This request's changes not yet in storage, oldest first. */
  #unapplied(): readonly Op[] {
    return this.#inflight.length === 0 ? this.#pending : this.#inflight.concat(this.#pending);
  }

  async #readKey(key: string): Promise<KeyRead> {
    assertValidKey(key, this.#ctx.limits, this.#ctx.settingNames);
    if (this.#pending.length === 0 && this.#inflight.length === 0) {
      return (await this.#loadKey(key)) ?? NOT_FOUND;
    }
    const ops = this.#unapplied().filter((op) => op.type === "clear" || op.key === key);
    const base = ops.some((op) => op.type === "clear") ? undefined : await this.#loadKey(key);
    if (ops.length === 0) return base ?? { found: false };
    const start: SessionData = base?.found ? { [key]: base.value as JsonValue } : {};
    const after = applyOps(start, ops).data;
    return Object.hasOwn(after, key) ? { found: true, value: after[key] } : { found: false };
  }

  async #load(): Promise<SessionRecord | undefined> {
    if (this.#id === undefined || this.#exists === false) return undefined;
    if (this.#record === undefined) {
      throwIfCancelled(this.#signal);
      const record = await this.#ctx.storage.read(this.#id, this.#readOptions);
      this.#exists = record !== undefined;
      this.#record = record;
      this.#version = record?.version;
    }
    return this.#record;
  }

  async #loadKey(key: string): Promise<KeyRead | undefined> {
    if (this.#id === undefined || this.#exists === false) return undefined;
    if (this.#record !== undefined) {
      const { data } = this.#record;
      return Object.hasOwn(data, key) ? { found: true, value: data[key] } : { found: false };
    }
    let read = this.#keys?.get(key);
    if (read === undefined) {
      throwIfCancelled(this.#signal);
      read = await this.#ctx.storage.readKey(this.#id, key, this.#readOptions);
      this.#exists = read !== undefined;
      if (read !== undefined) {
        this.#keys ??= new Map();
        this.#keys.set(key, read);
      }
    }
    return read;
  }

  /** Creates a session under a fresh id, retrying on the (astronomically rare) collision. */
  async #create(ops: readonly Op[], step: RequestStep | undefined): Promise<ApplyResult> {
    const { storage, applyOptions } = this.#ctx;
    for (let attempt = 0; attempt < 3; attempt++) {
      // Under a request id the family comes from it, so a retry's record is in the same
      // Redis Cluster slot as the first attempt's.
      const fresh = this.#ctx.generateId();
      const id = step === undefined ? fresh : idInFamily(step.family, fresh);
      const options =
        step === undefined
          ? applyOptions.create
          : { ...applyOptions.create, idempotency: idempotencyOf(step, step.seal(id)) };
      const result = await storage.apply(id, { ops }, this.#call(options));
      if (result !== undefined) {
        this.#id = id;
        this.#idIssued = true;
        if (step !== undefined) this.#adoptReplayedId(result, step);
        return result;
      }
    }
    throw new SessionError(
      "internal",
      "could not allocate an unused session id (is the id generator constant?)",
    );
  }

  /** A replayed create or regenerate names the session the first attempt issued. */
  #adoptReplayedId(result: Replay, step: RequestStep): void {
    if (!result.replayed || result.sealedId === undefined) return;
    this.#id = step.unseal(result.sealedId);
    this.#idIssued = true;
  }

  /** maxOps bounds what one commit asks of the storage; checked before anything is queued. */
  #assertRoomFor(adding: number): void {
    checkOpCount(this.#pending.length, adding, this.#ctx.limits, this.#ctx.settingNames);
  }

  #queue(ops: readonly Op[]): void {
    for (const op of ops) this.#pending.push(op);
  }

  #afterWrite(version: number): void {
    this.#exists = true;
    this.#version = version;
    // Other requests may have written too: the next read goes to the storage again.
    this.#forgetReads();
  }

  #forgetReads(): void {
    this.#record = undefined;
    this.#keys?.clear();
  }
}

function onlyRemoves(ops: readonly Op[]): boolean {
  for (const op of ops) if (op.type !== "remove" && op.type !== "clear") return false;
  return true;
}

/** What a storage is handed of a step: plain data, no functions. */
function idempotencyOf(step: RequestStep, sealedId?: string): Idempotency {
  const idem: Idempotency = {
    key: step.key,
    fingerprint: step.fingerprint,
    windowMs: step.windowMs,
  };
  if (sealedId !== undefined) idem.sealedId = sealedId;
  return idem;
}

function withIdempotency(
  options: Readonly<ApplyOptions>,
  step: RequestStep | undefined,
): Readonly<ApplyOptions> {
  return step === undefined ? options : { ...options, idempotency: idempotencyOf(step) };
}

/**
 * A storage's maxKeys / maxSessionBytes refusal, worded again with where a deployer sets
 * the limit (ManagerOptions.settingNames): storages word refusals with the option names,
 * and their request records keep those words, so the names are added only here, on the
 * way to the caller. Anything else is returned as it is.
 */
function namedLimit(err: unknown, names: SettingNames | undefined): unknown {
  if (names === undefined || !(err instanceof SessionError)) return err;
  const refusal = err.refusal;
  const option =
    refusal?.kind === "tooManyKeys"
      ? "maxKeys"
      : refusal?.kind === "tooManyBytes"
        ? "maxSessionBytes"
        : undefined;
  const where = option === undefined ? undefined : names[option];
  if (refusal === undefined || where === undefined) return err;
  return refusalError({ ...refusal, where } as Refusal);
}
