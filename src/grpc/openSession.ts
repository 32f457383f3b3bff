import type { Logger } from "../core/Logger.js";
import type { Manager } from "../core/session/Manager.js";
import type { Session } from "../core/session/Session.js";
import type { CallSignal } from "../core/storage/Storage.js";
import { assertValidMetadataKey, DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
import { type RequestMetadata, readSessionId } from "./readSessionId.js";
import { toStatus, type WireStatus } from "./toStatus.js";

export type { RequestMetadata };

export interface OpenSessionOptions {
  /** Request and response metadata key of the session id. Default "x-session-id". */
  metadataKey?: string;
  /**
   * The call's cancellation. A function is called once, when the handler first uses the
   * session, so a call that never does pays for no AbortController or timer.
   */
  signal?: CallSignal | (() => CallSignal);
  /** Where a failed commit at finish() is logged. Default: the Manager's logger. */
  logger?: Logger;
  /** The method's path, for the log lines. */
  method?: string;
  /**
   * Send a failed commit's storage message (which names the storage's address or path) to
   * the caller. Default false: a generic one, the full text to `logger` (StatusOptions).
   */
  exposeStorageErrors?: boolean | undefined;
}

/** What the response must carry once the handler is done. */
export interface SessionReply {
  /** The session id the caller does not know yet, to set under `key`; undefined if none. */
  readonly sessionId: string | undefined;
  /** The metadata key it goes under. */
  readonly key: string;
  /** Set when the commit failed: the call must end with this status instead of OK. */
  readonly error: WireStatus | undefined;
}

/**
 * One call's session, framework-neutral: the id was read and checked when this was made;
 * the Session itself is created on first use of `session`.
 *
 * The rules every adapter follows: before response headers, each message and an OK
 * status, `commit()` (what was queued before them is durable when they arrive); `newId()`
 * goes into whichever of headers or trailers leaves next; the end of the call is
 * `finish(ok)`. A call that fails drops its uncommitted changes.
 */
export class OpenedSession {
  readonly #manager: Manager;
  readonly #id: string | undefined;
  readonly #key: string;
  readonly #signal: CallSignal | (() => CallSignal) | undefined;
  readonly #logger: Logger;
  readonly #method: string | undefined;
  readonly #exposeStorageErrors: boolean | undefined;
  #session: Session | undefined;
  /** The id the caller has already been sent. */
  #sentId: string | undefined;

  /** Use openSession(). */
  constructor(manager: Manager, id: string | undefined, key: string, options: OpenSessionOptions) {
    this.#manager = manager;
    this.#id = id;
    this.#key = key;
    this.#signal = options.signal;
    this.#logger = options.logger ?? manager.context.logger;
    this.#method = options.method;
    this.#exposeStorageErrors = options.exposeStorageErrors;
  }

  /** The metadata key of the id. */
  get key(): string {
    return this.#key;
  }

  /** The call's Session, created (without I/O) on first use; the same one after that. */
  get session(): Session {
    if (this.#session === undefined) {
      const signal = typeof this.#signal === "function" ? this.#signal() : this.#signal;
      this.#session = this.#manager.session(this.#id, { signal });
    }
    return this.#session;
  }

  /** The Session if the handler asked for it; undefined means nothing to commit or send. */
  get opened(): Session | undefined {
    return this.#session;
  }

  /** True while the handler's session holds changes not yet committed. */
  get dirty(): boolean {
    return this.#session?.isDirty === true;
  }

  /** True when the caller must still be told of a new or replaced id. */
  get idDue(): boolean {
    const session = this.#session;
    return session?.idIssued === true && session.id !== this.#sentId;
  }

  /** Commits what is queued, if anything; rejects with the commit's SessionError. */
  async commit(): Promise<void> {
    if (this.#session?.isDirty) await this.#session.commit();
  }

  /**
   * The id to put in the metadata about to leave, once: the next call returns undefined
   * unless the id changed again (regenerate).
   */
  newId(): string | undefined {
    if (!this.idDue) return undefined;
    this.#sentId = this.#session?.id;
    return this.#sentId;
  }

  /**
   * The end of the call. `ok`: the handler succeeded, so what it queued is committed
   * now; otherwise it is dropped. Either way the reply says which id the caller must
   * still learn, and, when the commit failed, the status to send instead of OK.
   */
  async finish(ok: boolean): Promise<SessionReply> {
    let error: WireStatus | undefined;
    if (ok) {
      try {
        await this.commit();
      } catch (err) {
        error = toStatus(err, this.#logger, this.#method, {
          exposeStorageErrors: this.#exposeStorageErrors,
        });
      }
    }
    return { sessionId: this.newId(), key: this.#key, error };
  }
}

/**
 * The session of one call, for any framework: reads the caller's id from `metadata` (the
 * metadata key, else a cookie of that name) and throws SessionError("invalid_argument")
 * for a malformed one, before any storage sees it. No I/O until the handler uses
 * `session`.
 *
 *   const handle = openSession(manager, call.metadata);
 *   … handler uses handle.session …
 *   const { sessionId, key, error } = await handle.finish(true);
 */
export function openSession(
  manager: Manager,
  metadata: RequestMetadata,
  options: OpenSessionOptions = {},
): OpenedSession {
  const key = options.metadataKey ?? DEFAULT_METADATA_KEY;
  if (options.metadataKey !== undefined) assertValidMetadataKey(key);
  return openChecked(manager, metadata, key, options);
}

/** openSession for a key already checked once (the interceptor checks it at creation). */
export function openChecked(
  manager: Manager,
  metadata: RequestMetadata,
  key: string,
  options: OpenSessionOptions,
): OpenedSession {
  return new OpenedSession(manager, readSessionId(metadata, key), key, options);
}
