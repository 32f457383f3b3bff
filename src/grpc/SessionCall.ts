import {
  Metadata,
  type ServerInterceptingCallInterface,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../core/Logger.js";
import type { Manager } from "../core/session/Manager.js";
import type { Session } from "../core/session/Session.js";
import { CallCancellation, callAborted } from "../core/storage/cancellation.js";
import type { CallSignal } from "../core/storage/Storage.js";
import { bindSessionCall } from "./getSession.js";
import { type OpenedSession, openChecked } from "./openSession.js";
import { type InterceptingServerListener, PassThroughCall } from "./PassThroughCall.js";
import { toStatus } from "./toStatus.js";

type PartialStatus = Pick<StatusObject, "code" | "details"> & { metadata?: Metadata | null };

/** What every call of one interceptor shares. */
export interface SessionCallConfig {
  readonly manager: Manager;
  readonly key: string;
  readonly logger: Logger;
  /** Send storage failures' own messages to callers (StatusOptions); default false. */
  readonly exposeStorageErrors?: boolean | undefined;
}

/**
 * One intercepted call. It is the call the handler talks to and, towards the call below,
 * the listener of incoming events: overriding methods instead of handing grpc-js a
 * Responder and a listener made of closures keeps a call that never touches its session
 * down to this one object (the interceptor is on every call's path).
 *
 * No I/O and no Session until the handler asks for one (getSession). What a session is
 * for one call (the id read from metadata, commit, which id the caller must learn) is
 * openSession's OpenedSession, shared with every other adapter; this class only decides
 * when grpc-js's response events may leave.
 *
 * The rule for releasing responses, unary and streaming alike: response headers, every
 * message and an OK status each wait until the changes queued before them are committed.
 * So a client that has received something can read what the handler wrote before sending
 * it, from any instance. A non-OK status drops uncommitted changes (the call failed; in
 * particular a write refused for its expected_version must not be retried without it).
 * A commit that fails replaces the response with its mapped status; what the handler
 * sends afterwards is dropped.
 *
 * A new or replaced id rides in the response headers when it is known before they are
 * sent, and otherwise (a streaming handler that sent headers first, or regenerated later)
 * in the trailers, under the same key.
 */
export class SessionCall extends PassThroughCall implements InterceptingServerListener {
  readonly #config: SessionCallConfig;
  readonly #path: string;
  /** The handler side's listener. */
  #listener: InterceptingServerListener | undefined;
  /** Made once the request metadata passed the id check. */
  #handle: OpenedSession | undefined;
  /** The call was refused (malformed id) or a commit failed: nothing more goes through. */
  #over = false;
  /** Tail of the response events held back for a commit; undefined when none is. */
  #chain: Promise<void> | undefined;
  /** Set while a held-back message is released, so its implicit headers pass straight on. */
  #releasing = false;
  /** Aborted when the call is cancelled or its deadline passes; made with the Session. */
  #abort: CallCancellation | undefined;
  /** grpc-js answers a call past its deadline itself, without telling this object. */
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** The handler's status has been sent (a failed commit's status leaves the handler running). */
  #ended = false;
  /** Response metadata has gone to the call below. */
  #sentMetadata = false;
  /** The call below reported the call cancelled (or over): later incoming events are dropped. */
  #cancelled = false;

  constructor(config: SessionCallConfig, path: string, inner: ServerInterceptingCallInterface) {
    super(inner);
    this.#config = config;
    this.#path = path;
  }

  /** Where this call's failures are logged (the interceptor's logger). */
  get logger(): Logger {
    return this.#config.logger;
  }

  /**
   * The call's Session, created on first use, with a signal aborted when the call ends
   * early: a cancelled call, or one past its deadline, starts no further storage command.
   */
  open(): Session {
    // getSession finds this object only through metadata bound after the handle was made.
    return (this.#handle as OpenedSession).session;
  }

  #signal(): CallSignal {
    const abort = new CallCancellation();
    this.#abort = abort;
    const left = Number(this.getDeadline()) - Date.now();
    if (Number.isFinite(left)) {
      this.#deadlineTimer = setTimeout(() => abort.abort(callAborted("deadline_exceeded")), left);
      this.#deadlineTimer.unref();
    }
    return abort;
  }

  /** The Session, if the handler asked for one. */
  get #session(): Session | undefined {
    return this.#handle?.opened;
  }

  /** The call is over: nothing will abort it any more. */
  #settled(): void {
    clearTimeout(this.#deadlineTimer);
  }

  /** Every status leaves through here. */
  #end(st: PartialStatus): void {
    this.#settled();
    this.next.sendStatus(st);
  }

  /** Response metadata leaves for the call below. */
  #passMetadata(metadata: Metadata): void {
    this.#sentMetadata = true;
    this.next.sendMetadata(metadata);
  }

  /** A message leaves for the call below, after (empty) response metadata if none went yet. */
  #passMessage(message: unknown, callback: () => void): void {
    if (!this.#sentMetadata) this.sendMetadata(new Metadata());
    this.next.sendMessage(message, callback);
  }

  /** The handler's own status leaves: the handler is done, so nothing is left to abort. */
  #endHandled(st: PartialStatus): void {
    this.#ended = true;
    this.#end(st);
  }

  // --- incoming: this object listens to the call below ---

  override start(listener: InterceptingServerListener): void {
    this.#listener = listener;
    this.next.start(this);
  }

  onReceiveMetadata(metadata: Metadata): void {
    if (this.#cancelled) return;
    const { manager, key, logger, exposeStorageErrors } = this.#config;
    try {
      this.#handle = openChecked(manager, metadata, key, {
        logger,
        method: this.#path,
        signal: () => this.#signal(),
        exposeStorageErrors,
      });
    } catch (err) {
      // Refused before the handler or any storage sees the id; the handler never starts.
      this.#over = true;
      this.#end(toStatus(err, logger, this.#path, this.#config));
      return;
    }
    bindSessionCall(metadata, this);
    this.#listener?.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    if (!this.#over && !this.#cancelled) this.#listener?.onReceiveMessage(message);
  }

  onReceiveHalfClose(): void {
    if (!this.#over && !this.#cancelled) this.#listener?.onReceiveHalfClose();
  }

  onCancel(): void {
    this.#cancelled = true;
    this.#settled();
    // grpc-js reports every finished call as cancelled too. Once its status is out there is
    // nothing left to stop, and aborting on every call is costly (docs/bench/NOTES.md).
    if (this.#ended) {
      this.#listener?.onCancel();
      return;
    }
    const deadline = Number(this.getDeadline());
    const code = Date.now() >= deadline ? "deadline_exceeded" : "cancelled";
    this.#abort?.abort(callAborted(code));
    this.#listener?.onCancel();
  }

  // --- outgoing: the handler's responses, held back while a commit runs ---

  override sendMetadata(metadata: Metadata): void {
    const handle = this.#handle;
    const session = this.#session;
    if (handle === undefined || session === undefined || this.#releasing) {
      if (handle !== undefined) this.#putId(handle, metadata);
      this.#passMetadata(metadata);
      return;
    }
    if (this.#over) return;
    if (!session.isDirty && this.#chain === undefined) {
      this.#putId(handle, metadata);
      this.#passMetadata(metadata);
      return;
    }
    this.#enqueue(async () => {
      await handle.commit();
      this.#putId(handle, metadata);
      this.#passMetadata(metadata);
    });
  }

  override sendMessage(message: unknown, callback: () => void): void {
    const handle = this.#handle;
    const session = this.#session;
    if (
      handle === undefined ||
      session === undefined ||
      (!session.isDirty && this.#chain === undefined)
    ) {
      if (!this.#over) this.#passMessage(message, callback);
      return;
    }
    if (this.#over) return;
    this.#enqueue(async () => {
      await handle.commit();
      // Headers go first from inside #passMessage; they must not queue again.
      this.#releasing = true;
      try {
        this.#passMessage(message, callback);
      } finally {
        this.#releasing = false;
      }
    });
  }

  override sendStatus(st: PartialStatus): void {
    if (this.#over) return;
    const handle = this.#handle;
    const session = this.#session;
    if (handle === undefined || session === undefined) {
      this.#endHandled(st);
      return;
    }
    const ok = st.code === status.OK;
    if (!(ok && session.isDirty) && this.#chain === undefined && !handle.idDue) {
      this.#endHandled(st);
      return;
    }
    this.#enqueue(async () => {
      const reply = await handle.finish(ok);
      this.#over = true;
      this.#endHandled(withId(reply.error ?? st, reply.key, reply.sessionId));
    });
  }

  #putId(handle: OpenedSession, metadata: Metadata): void {
    const id = handle.newId();
    if (id !== undefined) metadata.set(handle.key, id);
  }

  /** Runs response steps one after another, in the order the handler produced them. */
  #enqueue(step: () => Promise<void>): void {
    const run = async () => {
      if (this.#over) return;
      try {
        await step();
      } catch (err) {
        this.#fail(err);
      }
    };
    const tail = this.#chain === undefined ? run() : this.#chain.then(run);
    this.#chain = tail;
    void tail.then(() => {
      if (this.#chain === tail) this.#chain = undefined;
    });
  }

  /** A commit failed before headers or a message went out: end the call with its status. */
  #fail(err: unknown): void {
    this.#over = true;
    const st = toStatus(err, this.#config.logger, this.#path, this.#config);
    const handle = this.#handle;
    // The handler hears 'cancelled' when the stream closes, as after any status.
    this.#end(handle === undefined ? st : withId(st, handle.key, handle.newId()));
  }
}

/** `st` with the id the caller must still learn added to its trailers. */
function withId(st: PartialStatus, key: string, id: string | undefined): PartialStatus {
  if (id === undefined) return st;
  const metadata = st.metadata ?? new Metadata();
  metadata.set(key, id);
  return { code: st.code, details: st.details, metadata };
}
