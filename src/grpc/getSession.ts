import type { Metadata } from "@grpc/grpc-js";
import type { Session } from "../core/session/Session.js";
import type { SessionCall } from "./SessionCall.js";

/**
 * grpc-js has no per-call context; the request Metadata object the interceptor passes on
 * is the one the handler sees as `call.metadata`, so the SessionCall rides on it, under a
 * symbol no one else holds. (The interceptor's own call object is not what the handler
 * gets.) Not a WeakMap keyed by the Metadata: one short-lived WeakMap entry per call made
 * every young-generation GC walk the ephemeron table, about a quarter of a no-op call's
 * CPU under load (bench: "no-op+session interceptor" row).
 */
const SESSION_CALL = Symbol("sessiond.sessionCall");

type Carrier = Metadata & { [SESSION_CALL]?: SessionCall };

export function bindSessionCall(metadata: Metadata, sessionCall: SessionCall): void {
  (metadata as Carrier)[SESSION_CALL] = sessionCall;
}

/**
 * The session of a call that went through sessionInterceptor, loaded lazily: the first
 * read or commit is the first storage access. The same Session for every call of this
 * function during one RPC.
 */
export function getSession(call: { readonly metadata: Metadata }): Session {
  const sessionCall = (call.metadata as Carrier)[SESSION_CALL];
  if (sessionCall === undefined) {
    throw new Error(
      "getSession(): this call did not pass through sessionInterceptor; add it to the Server's interceptors (and its methods filter)",
    );
  }
  return sessionCall.open();
}
