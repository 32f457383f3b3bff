import {
  Metadata,
  type ServerInterceptingCallInterface,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../common/Logger.js";
import { toStatus } from "../service/toStatus.js";
import type { Manager } from "../session/Manager.js";
import type { Session } from "../session/Session.js";

type PartialStatus = Pick<StatusObject, "code" | "details"> & { metadata?: Metadata | null };

/**
 * One intercepted call's session plumbing. Created per call, but it does no I/O and
 * builds no Session until the handler asks for one (getSession): a call that never
 * touches its session passes every event straight through.
 *
 * The rule for releasing responses, unary and streaming alike: response headers, every
 * message and an OK status each wait until the changes queued before them are committed.
 * So a client that has received something can read what the handler wrote before sending
 * it, from any instance. A non-OK status drops uncommitted changes (the call failed;
 * in particular a write refused for its expected_version must not be retried without it).
 * A commit that fails replaces the response with its mapped status.
 *
 * A new or replaced id rides in the response headers when it is known before they are
 * sent, and otherwise (a streaming handler that sent headers first, or regenerated later)
 * in the trailers, under the same key.
 */
export class SessionCall {
  /** The caller's id as read from the request; undefined = no session yet. */
  id: string | undefined;
  #session: Session | undefined;
  /** The id already delivered in response headers. */
  #sentId: string | undefined;
  #failed = false;
  /** Tail of the response events held back for a commit; undefined when none is. */
  #chain: Promise<void> | undefined;

  constructor(
    private readonly manager: Manager,
    private readonly key: string,
    private readonly logger: Logger,
    private readonly path: string,
    /** The call below this interceptor: what a failure is reported on. */
    private readonly inner: ServerInterceptingCallInterface,
  ) {}

  open(): Session {
    this.#session ??= this.manager.session(this.id);
    return this.#session;
  }

  sendMetadata(metadata: Metadata, next: (metadata: Metadata) => void): void {
    const session = this.#session;
    if (session === undefined) {
      next(metadata);
      return;
    }
    if (this.#failed) return;
    if (!session.isDirty && this.#chain === undefined) {
      this.#putIdInHeaders(session, metadata);
      next(metadata);
      return;
    }
    this.#enqueue(async () => {
      if (session.isDirty) await session.commit();
      this.#putIdInHeaders(session, metadata);
      next(metadata);
    });
  }

  sendMessage(message: unknown, next: (message: unknown) => void): void {
    const session = this.#session;
    if (session === undefined || (!session.isDirty && this.#chain === undefined)) {
      if (!this.#failed) next(message);
      return;
    }
    if (this.#failed) return;
    this.#enqueue(async () => {
      if (session.isDirty) await session.commit();
      next(message);
    });
  }

  sendStatus(st: PartialStatus, next: (st: PartialStatus) => void): void {
    const session = this.#session;
    if (this.#failed) return;
    if (session === undefined) {
      next(st);
      return;
    }
    const commit = st.code === status.OK && session.isDirty;
    if (!commit && this.#chain === undefined && !this.#idUndelivered(session)) {
      next(st);
      return;
    }
    this.#enqueue(async () => {
      let out = st;
      if (commit && session.isDirty) {
        try {
          await session.commit();
        } catch (err) {
          out = toStatus(err, this.logger, this.path);
        }
      }
      next(this.#withId(session, out));
    });
  }

  #putIdInHeaders(session: Session, metadata: Metadata): void {
    if (session.idIssued && session.id !== undefined) {
      metadata.set(this.key, session.id);
      this.#sentId = session.id;
    }
  }

  #idUndelivered(session: Session): boolean {
    return session.idIssued && session.id !== this.#sentId;
  }

  #withId(session: Session, st: PartialStatus): PartialStatus {
    if (!this.#idUndelivered(session) || session.id === undefined) return st;
    const metadata = st.metadata ?? new Metadata();
    metadata.set(this.key, session.id);
    return { ...st, metadata };
  }

  /** Runs response steps one after another, in the order grpc-js handed them to us. */
  #enqueue(step: () => Promise<void>): void {
    const run = async () => {
      if (this.#failed) return;
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

  /** A commit failed before headers or a message: end the call here; drop what follows. */
  #fail(err: unknown): void {
    this.#failed = true;
    const st = toStatus(err, this.logger, this.path);
    const session = this.#session;
    this.inner.sendStatus(session === undefined ? st : this.#withId(session, st));
  }
}
