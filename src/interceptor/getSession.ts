import type { Metadata } from "@grpc/grpc-js";
import type { Session } from "../session/Session.js";
import type { SessionCall } from "./SessionCall.js";

/**
 * grpc-js has no per-call context; the request Metadata object the interceptor passes on
 * is the one the handler sees as `call.metadata`, so it is the key. (The interceptor's
 * own call object is not what the handler gets.)
 */
const calls = new WeakMap<Metadata, SessionCall>();

export function bindSessionCall(metadata: Metadata, sessionCall: SessionCall): void {
  calls.set(metadata, sessionCall);
}

/**
 * The session of a call that went through sessionInterceptor, loaded lazily: the first
 * read or commit is the first storage access. The same Session for every call of this
 * function during one RPC.
 */
export function getSession(call: { readonly metadata: Metadata }): Session {
  const sessionCall = calls.get(call.metadata);
  if (sessionCall === undefined) {
    throw new Error(
      "getSession(): this call did not pass through sessionInterceptor; add it to the Server's interceptors (and its methods filter)",
    );
  }
  return sessionCall.open();
}
