import {
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../core/Logger.js";
import type { Manager } from "../core/session/Manager.js";
import type { Session } from "../core/session/Session.js";
import { callAborted } from "../core/storage/cancellation.js";
import { bindSessionCall } from "./getSession.js";
import { readSessionId } from "./readSessionId.js";
import { toStatus } from "./toStatus.js";

/** The handler-side listener grpc-js passes to start() (its type is not exported). */
type InterceptingServerListener = Parameters<ServerInterceptingCall["start"]>[0];
type PartialStatus = Pick<StatusObject, "code" | "details"> & { metadata?: Metadata | null };

/** What every call of one interceptor shares. */
export interface SessionCallConfig {
  readonly manager: Manager;
  readonly key: string;
  readonly logger: Logger;
}

/**
 * One intercepted call. It is the call the handler talks to and, towards the call below,
 * the listener of incoming events: overriding methods instead of handing grpc-js a
 * Responder and a listener made of closures keeps a call that never touches its session
 * down to this one object (the interceptor is on every call's path).
 *
 * No I/O and no Session until the handler asks for one (getSession).
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
export class SessionCall extends ServerInterceptingCall implements InterceptingServerListener {
  readonly #config: SessionCallConfig;
  readonly #path: string;
  /** The handler side's listener. */
  #listener: InterceptingServerListener | undefined;
  /** The caller's id as read from the request; undefined = no session yet. */
  #id: string | undefined;
  #session: Session | undefined;
  /** The id already delivered in response headers. */
  #sentId: string | undefined;
  /** The call was refused (malformed id) or a commit failed: nothing more goes through. */
  #over = false;
  /** Tail of the response events held back for a commit; undefined when none is. */
  #chain: Promise<void> | undefined;
  /** Set while a held-back message is released, so its implicit headers pass straight on. */
  #releasing = false;
  /** Aborted when the call is cancelled or its deadline passes; made with the Session. */
  #abort: AbortController | undefined;
  /** grpc-js answers a call past its deadline itself, without telling this object. */
  #deadlineTimer: NodeJS.Timeout | undefined;

  constructor(config: SessionCallConfig, path: string, inner: ServerInterceptingCallInterface) {
    super(inner);
    this.#config = config;
    this.#path = path;
  }

  /**
   * The call's Session, created on first use, with a signal aborted when the call ends
   * early: a cancelled call, or one past its deadline, starts no further storage command.
   */
  open(): Session {
    if (this.#session === undefined) {
      const abort = new AbortController();
      this.#abort = abort;
      const left = Number(this.getDeadline()) - Date.now();
      if (Number.isFinite(left)) {
        this.#deadlineTimer = setTimeout(() => abort.abort(callAborted("deadline_exceeded")), left);
        this.#deadlineTimer.unref();
      }
      this.#session = this.#config.manager.session(this.#id, { signal: abort.signal });
    }
    return this.#session;
  }

  /** The call is over: nothing will abort it any more. */
  #settled(): void {
    clearTimeout(this.#deadlineTimer);
  }

  /** Every status leaves through here. */
  #end(st: PartialStatus): void {
    this.#settled();
    super.sendStatus(st);
  }

  // --- incoming: this object listens to the call below ---

  override start(listener: InterceptingServerListener): void {
    this.#listener = listener;
    super.start(this);
  }

  onReceiveMetadata(metadata: Metadata): void {
    try {
      this.#id = readSessionId(metadata, this.#config.key);
    } catch (err) {
      // Refused before the handler or any storage sees the id; the handler never starts.
      this.#over = true;
      this.#end(toStatus(err, this.#config.logger, this.#path));
      return;
    }
    bindSessionCall(metadata, this);
    this.#listener?.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    if (!this.#over) this.#listener?.onReceiveMessage(message);
  }

  onReceiveHalfClose(): void {
    if (!this.#over) this.#listener?.onReceiveHalfClose();
  }

  onCancel(): void {
    this.#settled();
    const deadline = Number(this.getDeadline());
    const code = Date.now() >= deadline ? "deadline_exceeded" : "cancelled";
    this.#abort?.abort(callAborted(code));
    this.#listener?.onCancel();
  }

  // --- outgoing: the handler's responses, held back while a commit runs ---

  override sendMetadata(metadata: Metadata): void {
    const session = this.#session;
    if (session === undefined || this.#releasing) {
      if (session !== undefined) this.#putIdInHeaders(session, metadata);
      super.sendMetadata(metadata);
      return;
    }
    if (this.#over) return;
    if (!session.isDirty && this.#chain === undefined) {
      this.#putIdInHeaders(session, metadata);
      super.sendMetadata(metadata);
      return;
    }
    this.#enqueue(async () => {
      if (session.isDirty) await session.commit();
      this.#putIdInHeaders(session, metadata);
      super.sendMetadata(metadata);
    });
  }

  override sendMessage(message: unknown, callback: () => void): void {
    const session = this.#session;
    if (session === undefined || (!session.isDirty && this.#chain === undefined)) {
      if (!this.#over) super.sendMessage(message, callback);
      return;
    }
    if (this.#over) return;
    this.#enqueue(async () => {
      if (session.isDirty) await session.commit();
      // grpc-js sends headers first from inside sendMessage; they must not queue again.
      this.#releasing = true;
      try {
        super.sendMessage(message, callback);
      } finally {
        this.#releasing = false;
      }
    });
  }

  override sendStatus(st: PartialStatus): void {
    if (this.#over) return;
    const session = this.#session;
    if (session === undefined) {
      this.#end(st);
      return;
    }
    const commit = st.code === status.OK && session.isDirty;
    if (!commit && this.#chain === undefined && !this.#idUndelivered(session)) {
      this.#end(st);
      return;
    }
    this.#enqueue(async () => {
      let out = st;
      if (commit && session.isDirty) {
        try {
          await session.commit();
        } catch (err) {
          out = toStatus(err, this.#config.logger, this.#path);
        }
      }
      this.#over = true;
      this.#end(this.#withId(session, out));
    });
  }

  #putIdInHeaders(session: Session, metadata: Metadata): void {
    if (session.idIssued && session.id !== undefined) {
      metadata.set(this.#config.key, session.id);
      this.#sentId = session.id;
    }
  }

  #idUndelivered(session: Session): boolean {
    return session.idIssued && session.id !== this.#sentId;
  }

  #withId(session: Session, st: PartialStatus): PartialStatus {
    if (!this.#idUndelivered(session) || session.id === undefined) return st;
    const metadata = st.metadata ?? new Metadata();
    metadata.set(this.#config.key, session.id);
    return { code: st.code, details: st.details, metadata };
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
    const st = toStatus(err, this.#config.logger, this.#path);
    const session = this.#session;
    // The handler hears 'cancelled' when the stream closes, as after any status.
    this.#end(session === undefined ? st : this.#withId(session, st));
  }
}
