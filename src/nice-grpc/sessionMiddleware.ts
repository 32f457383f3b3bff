import type { CallContext, ServerMiddleware, ServerMiddlewareCall } from "nice-grpc-common";
import type { Logger } from "../core/Logger.js";
import type { Manager } from "../core/session/Manager.js";
import type { Session } from "../core/session/Session.js";
import { type OpenedSession, openChecked } from "../grpc/openSession.js";
import type { SessionInterceptorOptions } from "../grpc/sessionInterceptor.js";
import type { StatusOptions } from "../grpc/toStatus.js";
import { assertValidMetadataKey, DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
import type { SessionCallContext, SessionContextExt } from "./SessionContext.js";
import { fromWireStatus, toServerError } from "./toServerError.js";

/** The interceptor's options, with the same meaning: one adapter is configured like the other. */
export type SessionMiddlewareOptions = SessionInterceptorOptions;

/**
 * A nice-grpc server middleware that gives every call `context.session`, as
 * sessionInterceptor does for grpc-js: the id is read from request metadata (a malformed
 * one is INVALID_ARGUMENT before the handler runs), the response and each streamed
 * message wait until the changes queued before them are committed, and a new id goes
 * back in the response header (in the trailer once the header is out).
 *
 *   createServer().use(sessionMiddleware(manager)).add(Definition, implementation)
 */
export function sessionMiddleware(
  manager: Manager,
  options: SessionMiddlewareOptions = {},
): ServerMiddleware<SessionContextExt> {
  const key = options.metadataKey ?? DEFAULT_METADATA_KEY;
  assertValidMetadataKey(key);
  const logger = options.logger ?? manager.context.logger;
  const { methods } = options;
  const statusOptions = { exposeStorageErrors: options.exposeStorageErrors };

  return async function* sessionMiddlewareCall<Request, Response>(
    call: ServerMiddlewareCall<Request, Response, SessionContextExt>,
    context: CallContext,
  ): AsyncGenerator<Response, Response | undefined, undefined> {
    const path = call.method.path;
    if (methods !== undefined && !methods(path)) {
      const next = leftOut(context, path);
      if (call.responseStream) {
        yield* call.next(call.request, next);
        return;
      }
      return yield* call.next(call.request, next);
    }
    let handle: OpenedSession;
    try {
      const metadata = { get: (name: string) => context.metadata.getAll(name) };
      handle = openChecked(manager, metadata, key, {
        logger,
        method: path,
        signal: context.signal,
        exposeStorageErrors: options.exposeStorageErrors,
      });
    } catch (err) {
      throw toServerError(err, logger, path, context.trailer, statusOptions);
    }
    const exchange = new Exchange(handle, context);
    const next = exchange.context();
    try {
      if (call.responseStream) {
        for await (const response of call.next(call.request, next)) {
          await exchange.beforeMessage();
          yield response;
          // nice-grpc sends the header with the first message it writes.
          exchange.headerSent = true;
        }
        await exchange.finish();
        return;
      }
      const response = yield* call.next(call.request, next);
      await exchange.finish();
      return response;
    } catch (err) {
      throw await exchange.fail(err, logger, path, statusOptions);
    }
  };
}

/**
 * One call's response side: when the header and each message may leave, and where the
 * new id goes. The session rules themselves are the OpenedSession's.
 */
class Exchange {
  /** Once true, a new id can only go in the trailer. */
  headerSent = false;
  readonly #handle: OpenedSession;
  readonly #context: CallContext;
  /** A sendHeader() waiting for its commit; a failure surfaces at the next response. */
  #pendingHeader: Promise<void> | undefined;

  constructor(handle: OpenedSession, context: CallContext) {
    this.#handle = handle;
    this.#context = context;
  }

  /** The context the handler gets: the server's, plus `session`, with a sendHeader that commits first. */
  context(): SessionCallContext {
    const handle = this.#handle;
    return {
      ...this.#context,
      get session(): Session {
        return handle.session;
      },
      sendHeader: () => this.#sendHeader(),
    };
  }

  /**
   * nice-grpc's sendHeader is synchronous, so the header cannot wait in place for a
   * commit; it is sent when the commit is done, and every later response waits for that.
   */
  #sendHeader(): void {
    if (this.headerSent || this.#pendingHeader !== undefined) return;
    if (!this.#handle.dirty) {
      this.#releaseHeader();
      return;
    }
    const pending = this.#handle.commit().then(() => this.#releaseHeader());
    pending.catch(() => {});
    this.#pendingHeader = pending;
  }

  #releaseHeader(): void {
    this.#putId(this.#context.header);
    this.headerSent = true;
    this.#context.sendHeader();
  }

  /** Before a streamed message: what was queued before it is committed; the header carries a new id. */
  async beforeMessage(): Promise<void> {
    await this.#pendingHeader;
    await this.#handle.commit();
    if (!this.headerSent) this.#putId(this.#context.header);
  }

  /** The handler succeeded: commit, and tell the caller of a new id. */
  async finish(): Promise<void> {
    await this.#pendingHeader;
    const reply = await this.#handle.finish(true);
    if (reply.error !== undefined) {
      this.#setId(this.#context.trailer, reply.sessionId);
      throw fromWireStatus(reply.error, this.#context.trailer);
    }
    this.#setId(this.headerSent ? this.#context.trailer : this.#context.header, reply.sessionId);
  }

  /** The call failed (the handler, or a commit): nothing more is committed; an id already created still reaches the caller. */
  async fail(err: unknown, logger: Logger, method: string, options: StatusOptions): Promise<Error> {
    // finish() has already mapped its own failure.
    const mapped = toServerError(err, logger, method, this.#context.trailer, options);
    // A header still waiting for its commit must not leave after the call ended.
    await this.#pendingHeader?.catch(() => {});
    const reply = await this.#handle.finish(false);
    this.#setId(this.#context.trailer, reply.sessionId);
    return mapped;
  }

  #putId(metadata: CallContext["header"]): void {
    this.#setId(metadata, this.#handle.newId());
  }

  #setId(metadata: CallContext["header"], id: string | undefined): void {
    if (id !== undefined) metadata.set(this.#handle.key, id);
  }
}

/** The context of a method the `methods` option leaves out: `session` says so. */
function leftOut(context: CallContext, path: string): SessionCallContext {
  return {
    ...context,
    get session(): Session {
      throw new Error(
        `context.session: ${path} is left out by sessionMiddleware's \`methods\` option; include the method there to give it a session`,
      );
    },
  };
}
