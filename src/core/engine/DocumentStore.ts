import type { SessionData } from "../json.js";
import type { CapabilityKey } from "../storage/capabilities.js";
import type { RequestRecord } from "../storage/requestRecords.js";
import type {
  CallSignal,
  Expiry,
  KeyRead,
  ReadOptions,
  SessionMeta,
  SessionRecord,
} from "../storage/Storage.js";

/**
 * The primitive under SessionEngine: a store of session documents that can load one with a
 * revision and commit on an unchanged revision. It knows nothing of modes, versions,
 * limits, increments, regenerate or request-record rules: SessionEngine decides those
 * once, for every backend built on this (the file storage, the encrypted Redis layouts, a
 * third party's). A backend decides only where things live and how they are encoded.
 *
 * What a backend promises (the conformance suite and the differential test, run on an
 * engine over it, check the outcome):
 * - `load` is one consistent snapshot of the session and of the request record asked for.
 * - `commit` applies all its writes or none, and only if every id still holds what its
 *   revision saw (the record asked for included); otherwise it writes nothing and returns
 *   false, and the engine starts the round over. A backend whose `exclusive` keeps every
 *   other writer out (the file storage in one process) may ignore revisions, except where
 *   another process can step in (a file created meanwhile).
 * - Removing a session (commit's "remove", or remove()) keeps its live request records:
 *   they answer retries for their window even after the session is gone.
 * - A request record is kept where its scope lives: with the session it names, or, for a
 *   create (`create: true`), found by its key alone.
 * - An expired session is never returned; `now` is the backend's clock (Redis' own for a
 *   Redis backend, so instances with skewed clocks agree), read at the load.
 */
export interface DocumentStore<Revision = unknown> {
  /** The session under `id` and, when asked, the live request record `record` names. */
  load(id: string, options: LoadOptions): Promise<Loaded<Revision>>;
  /** All of `writes`, atomically, if nothing they were loaded from changed; else false. */
  commit(writes: readonly Write<Revision>[], signal?: CallSignal): Promise<boolean>;
  /** The read path: the live session with its expiry slid (see Storage.read). */
  read(id: string, options: ReadOptions): Promise<SessionRecord | undefined>;
  /** One key; without it the engine reads the whole session. */
  readKey?(id: string, key: string, options: ReadOptions): Promise<KeyRead | undefined>;
  /** Slides a live session's expiry to expireAt(now, createTime, expiry); undefined: missing. */
  slide(
    id: string,
    options: Expiry & { signal?: CallSignal | undefined },
  ): Promise<SessionMeta | undefined>;
  /** Deletes the session under `id` (nothing when there is none), keeping its records. */
  remove(id: string, signal?: CallSignal): Promise<void>;
  /**
   * Runs `fn` with writers of this process to the same names kept out (a keyed lock), so
   * that only other processes can make a commit fail. Without it, rounds simply retry.
   */
  exclusive?<T>(scope: LockScope, fn: () => Promise<T>): Promise<T>;
  /** Refuses a key the backend cannot store (invalid_argument), before anything is read. */
  assertKey?(key: string): void;
  /**
   * How long a write keeps starting over while other processes' commits win, in ms,
   * before it is refused (aborted, WRITE_CONFLICT). Default 2000.
   */
  readonly conflictBudgetMs?: number;
  ping(): Promise<void>;
  close(): Promise<void>;
  capability?<T>(key: CapabilityKey<T>): T | undefined;
}

export interface LoadOptions {
  /** The request record to look up with the session (its live one only). */
  record?: RecordRef | undefined;
  /**
   * The call's expiry, when it has one. The engine treats a session past its absolute
   * lifetime as gone whatever the backend returns; a backend whose stored expiry can be
   * moved by others (a file's mtime) may also retire such a session here, as its reads do.
   */
  expiry?: Expiry | undefined;
  signal?: CallSignal | undefined;
}

/** Names a request record: by its key, in the scope of the loaded id or among creates. */
export interface RecordRef {
  key: string;
  /** A create's record: found by `key` alone, whatever the id (see Idempotency). */
  create: boolean;
}

/** A session as a document: what the engine reads and writes whole. */
export interface SessionDoc {
  version: number;
  createTime: number;
  expireTime: number;
  data: SessionData;
}

export interface Loaded<Revision = unknown> {
  /** Opaque to the engine: handed back with each write on this id. */
  revision: Revision;
  /** The backend's clock at the load, ms since the epoch. */
  now: number;
  /** The live session; undefined when there is none (missing, expired, only records). */
  session: SessionDoc | undefined;
  /** The live record asked for, if there is one. */
  record: RequestRecord | undefined;
}

/** What one write does to the session under its id. */
export type SessionChange =
  /** Stores this document (creating the session, or replacing the one loaded). */
  | { kind: "put"; doc: SessionDoc }
  /** Keeps the data and version, with a new expiry. */
  | { kind: "slide"; expireTime: number }
  /** Removes the session (its records stay); `expired`: because its lifetime ran out. */
  | { kind: "remove"; expired?: boolean }
  /** Leaves the session as it is (the write only adds a record). */
  | { kind: "keep" };

export interface Write<Revision = unknown> {
  id: string;
  /** What load() returned for `id` in this round. */
  revision: Revision;
  change: SessionChange;
  /** A request record to keep, in the scope `ref` names, with the change. */
  record?: { ref: RecordRef; record: RequestRecord } | undefined;
}

/** The names a write holds while it runs (see DocumentStore.exclusive). */
export interface LockScope {
  /** Session ids, in the order to take them (sorted: two writers never deadlock). */
  ids: readonly string[];
  /** A create's request-record key, when the write has one (its scope is its own). */
  createRecord?: string | undefined;
}
