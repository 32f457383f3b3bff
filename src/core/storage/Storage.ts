import type { JsonValue, SessionData } from "../json.js";
import type { Limits } from "../Limits.js";
import type { CapabilityKey } from "./capabilities.js";

/**
 * One change to a session. A request's changes travel to the storage as one list of ops
 * (a Delta) and are applied atomically, in order: concurrent requests that touch
 * different keys never lose each other's writes.
 */
export type Op =
  /** A -0 anywhere in the value is stored (and read back) as 0: JSON has no -0. */
  | { type: "set"; key: string; value: JsonValue }
  | { type: "remove"; key: string }
  /**
   * Absent keys count as 0; a non-number value fails the whole delta (failed_precondition).
   * A result of -0 (0 + -0, say) is stored and answered (in `incremented`) as 0: JSON has
   * no -0, so the storages that keep JSON text could not keep it, and one answer for all.
   */
  | { type: "increment"; key: string; delta: number }
  /** Removes every key; ops after it in the same delta still apply. */
  | { type: "clear" };

export interface Delta {
  ops: readonly Op[];
  /** Apply only if the session is at this version (a missing session is at 0); else `aborted`. */
  expectedVersion?: number;
}

/** How long a session lives. Every storage computes expiry the same way; see expireAt(). */
export interface Expiry {
  /** Idle time to live, slid by every read and write. */
  ttlMs: number;
  /** Optional absolute lifetime counted from creation; sliding never passes it. */
  maxLifetimeMs?: number;
}

/**
 * What every storage call may carry. `signal`: the caller's cancellation (its deadline
 * too); once aborted, the storage starts no further command and rejects with
 * SessionError("cancelled" | "deadline_exceeded"), saying whether a command had been
 * sent already (see cancellation.ts).
 */
export interface CallOptions {
  signal?: CallSignal | undefined;
}

/**
 * A call's cancellation, as much of an AbortSignal as a storage reads (through the
 * helpers in cancellation.ts): an AbortSignal is one. The gRPC adapters pass a lighter
 * CallCancellation, because an AbortSignal per call is costly (docs/bench/NOTES.md).
 * A storage that hands the signal to an API wanting a real
 * AbortSignal (fetch, timers) converts it with toAbortSignal().
 */
export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** The expiry to slide, and the call's options. */
export interface ReadOptions extends Expiry, CallOptions {}

/**
 * - `existing`: apply only to a live session; a missing one is left missing and apply
 *   returns undefined.
 * - `create`: the id must be free; a fresh session is created. If the id is taken
 *   (a collision) nothing is written and apply returns undefined.
 * - `upsert`: create when missing (gsession's adopt-any-id behaviour, opt-in).
 */
export type ApplyMode = "existing" | "create" | "upsert";

export interface ApplyOptions extends Expiry, CallOptions {
  mode: ApplyMode;
  /** maxKeys and maxSessionBytes are checked on the merged result, before writing. */
  limits: Limits;
  idempotency?: Idempotency;
}

/**
 * Makes one write idempotent (a caller's `request_id`). The rules, decided here once
 * (SpecStorage is their executable form, the differential test holds every storage to it):
 *
 * **Scope.** A record belongs to one session id: the id the write addressed (apply, touch,
 * destroy; regenerate's OLD id). Only writes to that id find it; the same `key` on another
 * id is another record. (Why not one scope for the whole storage: a Redis Cluster cannot
 * look a key up across slots, and the Manager's keys never meet across sessions anyway.)
 * A `create` is the exception, since its retry comes with another (fresh) id: a create
 * keeps and looks up its record by `key` alone, among create records, a scope of their
 * own. So a later write to the session it created under the same key is another scope and
 * runs (recorded there): the two never answer for each other, so neither can be handed the
 * other's outcome, which is what REQUEST_ID_REUSED guards against. (Refusing it too would
 * need every create to write two scopes, two keys per script on Redis, for no safety.)
 *
 * **Look-up first.** After its own arguments are checked (invalid_argument, maxOps: those
 * refusals are never recorded), a write looks for a live record in its scope, before
 * anything else (before the session is even looked at):
 * - found, same `fingerprint`: nothing is written; the recorded outcome is returned again
 *   (with `replayed: true` and the record's `sealedId`), or the recorded refusal thrown again;
 * - found, other fingerprint: nothing is written; throws `already_exists` (REQUEST_ID_REUSED);
 * - none: the write runs.
 *
 * **What is recorded**, in the SAME atomic step as the write: a result (apply's, with its
 * `incremented`; regenerate's, touch's new meta; destroy's `{}`, even when there was
 * nothing to destroy) or a refusal that describes the stored state (`aborted`,
 * `resource_exhausted`, `failed_precondition`; a create's refusals among create records
 * only, there being no session). A write that changes nothing and returns undefined /
 * "missing" / "taken" records nothing: the caller tries again (another mode, another id)
 * under the same key.
 *
 * **Lifetime.** A record lives `windowMs` from when it was written, then behaves as absent.
 * It is stored where its session lives (same file, same Redis Cluster slot) and outlives
 * the session: a destroy, a regenerate away, an expiry or a later create under the same id
 * leave it answering for its window. A scope keeps at most MAX_REQUEST_RECORDS records,
 * dropping the oldest first, so no caller grows them without bound.
 *
 * A storage never sees the request id itself, only values derived from it, and stores no
 * session id in a record except sealed (`sealedId`, opaque to the storage).
 */
export interface Idempotency {
  /** 64 hex chars: SHA-256 derived from the request id. The record's name. */
  key: string;
  /** 64 hex chars: SHA-256 of what was asked (operation, session, body). */
  fingerprint: string;
  /** How long the record answers retries, in ms. */
  windowMs: number;
  /**
   * Opaque text stored with the record and handed back on replay: the id a create or
   * regenerate issued, encrypted under a key only the request id's holder can derive.
   */
  sealedId?: string;
}

/** At most this many live request records per session; the oldest is dropped first. */
export const MAX_REQUEST_RECORDS = 64;

/** Marks a result answered from a request record instead of a write. */
export interface Replay {
  /** True when nothing was written: this is the outcome recorded by the first attempt. */
  replayed?: boolean;
  /** The first attempt's Idempotency.sealedId, when it had one. */
  sealedId?: string;
}

export interface TouchOptions extends Expiry, CallOptions {
  idempotency?: Idempotency;
}

export interface DestroyOptions extends CallOptions {
  idempotency?: Idempotency;
}

export interface SessionMeta {
  /** Grows by one with every applied delta; 1 after creation. */
  version: number;
  /** Milliseconds since the epoch. */
  createTime: number;
  expireTime: number;
}

export interface SessionRecord extends SessionMeta {
  data: SessionData;
}

export interface ApplyResult extends SessionMeta, Replay {
  /** The value each incremented key holds after the delta. */
  incremented: Record<string, number>;
}

export interface RegenerateOptions extends Expiry, CallOptions {
  /** Leave the old session in place (a copy) instead of destroying it. */
  keepOld: boolean;
  /** The record lives with the OLD session (its file / slot), and survives its destroy. */
  idempotency?: Idempotency;
}

/**
 * What regenerate() did: the new session's meta, or why nothing changed — `missing` (no
 * live session under the old id) or `taken` (the new id is in use: pick another).
 * The old id is checked first, so regenerating a missing id into itself is `missing`, and a
 * live one into itself `taken` (by itself): "missing" is the answer that is true whatever
 * the new id, and the one a caller acts on (there is nothing to move), where "taken" would
 * send it looking for another id for a session that does not exist.
 */
export type RegenerateResult = (SessionMeta & Replay) | "missing" | "taken";

/** One key read from a live session. */
export interface KeyRead {
  found: boolean;
  value?: JsonValue;
}

/**
 * Where sessions live. A handful of methods; everything else (laziness, ids, fixation
 * safety, limits on single inputs) is built above it by Session and Manager.
 *
 * Rules every implementation follows (the conformance suite in `sessiond/testing`
 * checks them):
 * - Ids arrive validated, but a storage that builds paths or keys from them must still
 *   refuse anything outside [0-9A-Za-z_-] (defence in depth).
 * - Reads of a live session slide its expiry without rewriting its data.
 * - An expired session behaves exactly like a missing one, and is eventually freed
 *   even if never read again.
 * - Values go in and come out as copies; a caller can never mutate stored state.
 * - Failures to reach the backing store throw SessionError("unavailable") promptly.
 * - A call whose signal is aborted sends nothing more to the backing store.
 */
export interface Storage {
  /** The whole session (sliding its expiry), or undefined when missing or expired. */
  read(id: string, options: ReadOptions): Promise<SessionRecord | undefined>;
  /** One key (sliding the session's expiry), or undefined when the session is missing. */
  readKey(id: string, key: string, options: ReadOptions): Promise<KeyRead | undefined>;
  /** Applies a delta atomically; see ApplyMode for when it returns undefined. */
  apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined>;
  /**
   * Moves a live session to `newId` in one atomic step: its data, at version 1, keeping
   * its creation time (so an absolute lifetime is never renewed), expiry recomputed. The
   * old id is destroyed in the same step unless keepOld. A write to the old id either
   * lands before the move (and moves with it) or finds the old id missing; of concurrent
   * regenerates of one session exactly one moves it. `newId` shares the old id's family
   * (see idFamily.ts), so both keys of a Redis Cluster live in one slot.
   */
  regenerate(oldId: string, newId: string, options: RegenerateOptions): Promise<RegenerateResult>;
  /** Slides the expiry; undefined when the session is missing. */
  touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined>;
  /**
   * Hard delete. Idempotent. With `idempotency`, the record outlives the session (a
   * tombstone) for its window; the result says whether it was a replay.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: storages written before request ids return void
  destroy(id: string, options?: DestroyOptions): Promise<Replay | undefined | void>;
  /** Resolves when the backing store answers; rejects with `unavailable` when it does not. */
  ping(): Promise<void>;
  /** Stops timers and connections. The storage is unusable afterwards. */
  close(): Promise<void>;
  /**
   * Optional: what this storage offers beyond the contract under `key` (see capabilities.ts:
   * shards down, counts and budgets, a request-id secret…), or undefined. A storage that
   * wraps another extends StorageDecorator, which passes every lookup it does not answer
   * itself on to the wrapped storage. Ask through capabilityOf().
   */
  capability?<T>(key: CapabilityKey<T>): T | undefined;
}

/** When a session touched at `now` expires. */
export function expireAt(now: number, createTime: number, expiry: Expiry): number {
  const idle = now + expiry.ttlMs;
  return expiry.maxLifetimeMs === undefined
    ? idle
    : Math.min(idle, createTime + expiry.maxLifetimeMs);
}
