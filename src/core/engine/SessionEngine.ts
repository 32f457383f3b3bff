import { checkOpCount } from "../Limits.js";
import { refusalError } from "../Refusal.js";
import { SessionError } from "../SessionError.js";
import { applyDelta, assertExpectedVersion, assertExpiry } from "../storage/applyOps.js";
import { throwIfCancelled } from "../storage/cancellation.js";
import type { CapabilityKey } from "../storage/capabilities.js";
import { assertIdempotency, recordOf, refusalRecord, replay } from "../storage/requestRecords.js";
import {
  type ApplyOptions,
  type ApplyResult,
  type CallSignal,
  type Delta,
  type DestroyOptions,
  type Expiry,
  expireAt,
  type Idempotency,
  type KeyRead,
  type ReadOptions,
  type RegenerateOptions,
  type RegenerateResult,
  type Replay,
  type SessionMeta,
  type SessionRecord,
  type Storage,
  type TouchOptions,
} from "../storage/Storage.js";
import { isSafeId } from "../storage/safeId.js";
import type {
  DocumentStore,
  Loaded,
  LockScope,
  RecordRef,
  SessionDoc,
  Write,
} from "./DocumentStore.js";

/** A round's outcome: `{ value }` when decided, AGAIN when a commit lost and it starts over. */
type Round<T> = { value: T } | typeof AGAIN;
const AGAIN = undefined;

const DEFAULT_CONFLICT_BUDGET_MS = 2000;
/** Longest pause between two rounds of a write that other processes keep beating. */
const MAX_PAUSE_MS = 16;

/**
 * The session rules of the Storage contract, written once, over any DocumentStore: modes,
 * expected versions, the delta and its limits (applyDelta), regenerate, request records
 * (look-up first, recorded in the same commit, refusals too) and expiry. The file storage
 * and the encrypted Redis layouts are DocumentStores under this engine; the memory overlay
 * and the plain Redis scripts are native fast paths of the same rules, and the differential
 * test holds all of them to SpecStorage.
 *
 * Each write is a round: load, decide, commit on the revision loaded. A commit that finds
 * the session changed (another process wrote it) starts the round over, with a jittered
 * pause, until the store's conflict budget is spent (aborted, WRITE_CONFLICT: nothing was
 * applied). A round never starts over after a commit that failed with an error: its
 * outcome may be unknown, and the error says so.
 */
export class SessionEngine<Revision = unknown> implements Storage {
  readonly store: DocumentStore<Revision>;

  constructor(store: DocumentStore<Revision>) {
    this.store = store;
  }

  async read(id: string, options: ReadOptions): Promise<SessionRecord | undefined> {
    assertId(id);
    assertExpiry(options);
    return this.store.read(id, options);
  }

  async readKey(id: string, key: string, options: ReadOptions): Promise<KeyRead | undefined> {
    assertId(id);
    assertExpiry(options);
    this.store.assertKey?.(key);
    if (this.store.readKey) return this.store.readKey(id, key, options);
    const record = await this.store.read(id, options);
    if (record === undefined) return undefined;
    // read() hands out a copy: its values are the caller's.
    return Object.hasOwn(record.data, key)
      ? { found: true, value: record.data[key] }
      : { found: false };
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    // Malformed arguments and maxOps are refused before anything is read, and never recorded.
    assertId(id);
    assertExpiry(options);
    assertExpectedVersion(delta.expectedVersion);
    checkOpCount(0, delta.ops.length, options.limits);
    if (this.store.assertKey) {
      for (const op of delta.ops) if (op.type !== "clear") this.store.assertKey(op.key);
    }
    const idem = options.idempotency;
    assertIdempotency(idem);
    const { mode, signal } = options;
    // A create's retry comes with another id: its record is found by the key alone.
    const ref = idem && { key: idem.key, create: mode === "create" };
    const scope = { ids: [id], createRecord: ref?.create ? ref.key : undefined };
    return this.#exclusive(scope, signal, async () => {
      const loaded = await this.store.load(id, { record: ref, expiry: options, signal });
      if (idem && loaded.record) return { value: replay<ApplyResult>(loaded.record, idem) };
      const current = live(loaded, options);
      if (current ? mode === "create" : mode === "existing") return { value: undefined };
      const version = current?.version ?? 0;
      const outcome = applyDelta(current?.data ?? {}, version, delta, options.limits);
      if (!outcome.ok) return this.#refuse(id, loaded, ref, idem, outcome.refusal, signal);
      const createTime = current?.createTime ?? loaded.now;
      const expireTime = expireAt(loaded.now, createTime, options);
      const result: ApplyResult = {
        version: version + 1,
        createTime,
        expireTime,
        incremented: outcome.incremented,
      };
      const doc: SessionDoc = { version: version + 1, createTime, expireTime, data: outcome.data };
      const write: Write<Revision> = {
        id,
        revision: loaded.revision,
        change: { kind: "put", doc },
        record: recorded(ref, idem, loaded.now, result),
      };
      return (await this.store.commit([write], signal)) ? { value: result } : AGAIN;
    });
  }

  async regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    assertId(oldId);
    assertId(newId);
    assertExpiry(options);
    const idem = options.idempotency;
    assertIdempotency(idem);
    const { signal } = options;
    // The record lives with the OLD session; "missing" and "taken" are not recorded.
    const ref = idem && { key: idem.key, create: false };
    const ids = oldId === newId ? [oldId] : [oldId, newId].sort();
    return this.#exclusive({ ids }, signal, async (): Promise<Round<RegenerateResult>> => {
      const from = await this.store.load(oldId, { record: ref, expiry: options, signal });
      if (idem && from.record) return { value: replay<SessionMeta>(from.record, idem) };
      // The old id first (see RegenerateResult): a missing one is "missing", into itself too.
      const current = live(from, options);
      if (current === undefined) return { value: "missing" };
      if (oldId === newId) return { value: "taken" };
      const to = await this.store.load(newId, { expiry: options, signal });
      if (live(to, options) !== undefined) return { value: "taken" };
      // The creation time moves with the data: an absolute lifetime is never renewed.
      const { createTime, data } = current;
      const expireTime = expireAt(from.now, createTime, options);
      const result: SessionMeta = { version: 1, createTime, expireTime };
      const writes: Write<Revision>[] = [
        { id: newId, revision: to.revision, change: { kind: "put", doc: { ...result, data } } },
        {
          id: oldId,
          revision: from.revision,
          change: options.keepOld ? { kind: "keep" } : { kind: "remove" },
          record: recorded(ref, idem, from.now, result),
        },
      ];
      return (await this.store.commit(writes, signal)) ? { value: result } : AGAIN;
    });
  }

  async touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined> {
    assertId(id);
    assertExpiry(options);
    const idem = options.idempotency;
    assertIdempotency(idem);
    const { signal } = options;
    if (idem === undefined) return this.store.slide(id, options);
    const ref = { key: idem.key, create: false };
    return this.#exclusive({ ids: [id] }, signal, async () => {
      const loaded = await this.store.load(id, { record: ref, expiry: options, signal });
      if (loaded.record) return { value: replay<SessionMeta>(loaded.record, idem) };
      const current = live(loaded, options);
      if (current === undefined) return { value: undefined };
      const expireTime = expireAt(loaded.now, current.createTime, options);
      const result: SessionMeta = {
        version: current.version,
        createTime: current.createTime,
        expireTime,
      };
      const write: Write<Revision> = {
        id,
        revision: loaded.revision,
        change: { kind: "slide", expireTime },
        record: recorded(ref, idem, loaded.now, result),
      };
      return (await this.store.commit([write], signal)) ? { value: result } : AGAIN;
    });
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<Replay | undefined> {
    assertId(id);
    const idem = options.idempotency;
    assertIdempotency(idem);
    const { signal } = options;
    if (idem === undefined) {
      throwIfCancelled(signal);
      await this.store.remove(id, signal);
      return undefined;
    }
    const ref = { key: idem.key, create: false };
    return this.#exclusive({ ids: [id] }, signal, async () => {
      const loaded = await this.store.load(id, { record: ref, signal });
      if (loaded.record) return { value: replay<object>(loaded.record, idem) };
      // Recorded even when there was nothing to destroy: the record outlives the session.
      const write: Write<Revision> = {
        id,
        revision: loaded.revision,
        change: { kind: "remove" },
        record: recorded(ref, idem, loaded.now, {}),
      };
      return (await this.store.commit([write], signal)) ? { value: {} } : AGAIN;
    });
  }

  ping(): Promise<void> {
    return this.store.ping();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.store.capability?.(key);
  }

  /**
   * A refusal of the state loaded: recorded (when the write has a request id) in a commit
   * on the same revision, then thrown. If that commit finds the session changed, the round
   * starts over: the change may be the first attempt of this very request, whose outcome
   * the retry must replay. A record that cannot be written (the store failing) is not
   * worth failing the call for: the refusal is true of the state either way.
   */
  async #refuse(
    id: string,
    loaded: Loaded<Revision>,
    ref: RecordRef | undefined,
    idem: Idempotency | undefined,
    refusal: Parameters<typeof refusalError>[0],
    signal: CallSignal | undefined,
  ): Promise<Round<never>> {
    const err = refusalError(refusal);
    const record = idem && refusalRecord(idem, loaded.now, err);
    if (ref === undefined || record === undefined) throw err;
    const write: Write<Revision> = {
      id,
      revision: loaded.revision,
      change: { kind: "keep" },
      record: { ref, record },
    };
    let committed: boolean;
    try {
      committed = await this.store.commit([write], signal);
    } catch {
      throw err;
    }
    if (!committed) return AGAIN;
    throw err;
  }

  /** Rounds of `round` under the store's exclusion, until one decides. */
  #exclusive<T>(
    scope: LockScope,
    signal: CallSignal | undefined,
    round: () => Promise<Round<T>>,
  ): Promise<T> {
    const run = () => this.#rounds(signal, round);
    return this.store.exclusive ? this.store.exclusive(scope, run) : run();
  }

  async #rounds<T>(signal: CallSignal | undefined, round: () => Promise<Round<T>>): Promise<T> {
    const deadline = Date.now() + (this.store.conflictBudgetMs ?? DEFAULT_CONFLICT_BUDGET_MS);
    for (let attempt = 1; ; attempt++) {
      // Each round reads and then commits: a cancelled call starts no further round.
      throwIfCancelled(signal);
      const outcome = await round();
      if (outcome !== AGAIN) return outcome.value;
      // Jittered, growing pause: writers in other processes that collided spread out.
      const pause = Math.random() * Math.min(MAX_PAUSE_MS, 2 ** attempt);
      if (Date.now() + pause >= deadline) {
        throw new SessionError(
          "aborted",
          `concurrent writes to this session from other instances won ${attempt} times in a row; nothing was applied, retry`,
          { reason: "WRITE_CONFLICT" },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * Ids arrive validated by Session, but backends build file names and keys from them: one
 * outside the safe alphabet is refused here, before any backend sees it (defence in depth).
 */
function assertId(id: string): void {
  if (!isSafeId(id)) {
    throw new SessionError(
      "invalid_argument",
      "storage refuses a session id outside [0-9A-Za-z_-]{1,128}",
      { reason: "MALFORMED_SESSION_ID" },
    );
  }
}

/**
 * The loaded session if it is live under this call's expiry: the store drops what its own
 * expiry says is gone, and an absolute lifetime counted from the (sealed) creation time
 * ends it too, whatever the stored expiry says (a file's mtime can be moved by anyone who
 * can write to its directory).
 */
function live(loaded: Loaded<unknown>, expiry: Expiry): SessionDoc | undefined {
  const session = loaded.session;
  const max = expiry.maxLifetimeMs;
  if (session === undefined || max === undefined) return session;
  return session.createTime + max > loaded.now ? session : undefined;
}

/** The record of `result` a write keeps with its change, when it has a request id. */
function recorded(
  ref: RecordRef | undefined,
  idem: Idempotency | undefined,
  now: number,
  result: object,
): Write["record"] {
  return ref && idem && { ref, record: recordOf(idem, now, result) };
}
