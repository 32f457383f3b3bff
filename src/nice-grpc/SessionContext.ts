import type { CallContext } from "nice-grpc-common";
import type { Session } from "../core/session/Session.js";

/** What sessionMiddleware adds to every call's context. */
export interface SessionContextExt {
  /**
   * The caller's Session, created on first use (no storage I/O until the handler reads or
   * writes). Committed before the response leaves; the handler never has to.
   */
  readonly session: Session;
}

/**
 * The context handlers behind sessionMiddleware get:
 * `ServiceImplementation<typeof Definition, SessionContextExt>` types them with it.
 */
export type SessionCallContext = CallContext & SessionContextExt;
