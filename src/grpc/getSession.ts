import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "../core/Logger.js";
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
/** Set by the interceptor on calls its `methods` option leaves out, for getSession's error. */
const EXCLUDED = Symbol("sessiond.excluded");

type Carrier = Metadata & { [SESSION_CALL]?: SessionCall; [EXCLUDED]?: Logger };

export function bindSessionCall(metadata: Metadata, sessionCall: SessionCall): void {
  (metadata as Carrier)[SESSION_CALL] = sessionCall;
}

/** `logger`: the interceptor's, for the handler wrappers of the methods left out too. */
export function markExcluded(metadata: Metadata, logger: Logger): void {
  (metadata as Carrier)[EXCLUDED] = logger;
}

/**
 * The logger of the sessionInterceptor a call went through (its methods left out
 * included), or undefined for a call that went through none: the handler wrappers log
 * there when given no logger of their own.
 */
export function interceptorLogger(call: { readonly metadata?: Metadata }): Logger | undefined {
  const carrier = call?.metadata as Carrier | undefined;
  return carrier?.[SESSION_CALL]?.logger ?? carrier?.[EXCLUDED];
}

/**
 * The session of a call that went through sessionInterceptor, loaded lazily: the first
 * read or commit is the first storage access. The same Session for every call of this
 * function during one RPC. Anything else throws an Error that says what it was given
 * and what to do instead.
 */
export function getSession(call: { readonly metadata: Metadata }): Session {
  const sessionCall = (call?.metadata as Carrier | undefined)?.[SESSION_CALL];
  if (sessionCall === undefined) throw new Error(`getSession(): ${whyNoSession(call)}`);
  return sessionCall.open();
}

const INSTALL =
  "add sessionInterceptor(manager) to the grpc-js Server's interceptors: new Server({ interceptors: [sessionInterceptor(manager)] })";

/** What getSession was handed instead of a grpc-js call that went through the interceptor. */
function whyNoSession(given: unknown): string {
  if (given === undefined || given === null) {
    return `was given ${given}, not a call; pass the handler's call object (in NestJS, the third argument of a @GrpcMethod handler)`;
  }
  if (typeof given !== "object") {
    return `was given a ${typeof given}, not a call; pass the handler's call object`;
  }
  const x = given as Record<PropertyKey, unknown>;
  const metadata = x.metadata as Record<PropertyKey, unknown> | undefined | null;
  if (isNiceGrpcContext(x)) {
    return "session" in x
      ? "this is a nice-grpc CallContext that sessiond/nice-grpc's middleware already gave a session: read context.session"
      : "this looks like a nice-grpc CallContext: use sessiond/nice-grpc's middleware (createServer().use(sessionMiddleware(manager))) and read context.session";
  }
  if (isGrpcJsMetadata(x)) {
    return "was given a Metadata, not a call; pass the call (or { metadata }) whose metadata this is";
  }
  if (metadata === undefined || metadata === null || typeof metadata !== "object") {
    return `was given an object without request metadata (keys: ${Object.keys(x).slice(0, 8).join(", ") || "none"}), not a grpc-js call; pass the handler's call object`;
  }
  if (!isGrpcJsMetadata(metadata)) {
    return "the metadata of what it was given is not a grpc-js Metadata; pass the grpc-js handler's call object (sessiond/grpc serves grpc-js servers; nice-grpc has sessiond/nice-grpc)";
  }
  const path = typeof x.getPath === "function" ? ` ${String((x.getPath as () => string)())}` : "";
  if (metadata[EXCLUDED] !== undefined) {
    return `this call${path} did not pass through sessionInterceptor: its \`methods\` option leaves this method out; include the method there to give it a session`;
  }
  return `this call${path} did not pass through sessionInterceptor; ${INSTALL}`;
}

function isGrpcJsMetadata(x: Record<PropertyKey, unknown>): boolean {
  return typeof x.getMap === "function" && typeof x.get === "function";
}

function isNiceGrpcContext(x: Record<PropertyKey, unknown>): boolean {
  const metadata = x.metadata as Record<PropertyKey, unknown> | undefined | null;
  return (
    typeof x.signal === "object" &&
    x.signal !== null &&
    "aborted" in x.signal &&
    typeof metadata?.getAll === "function" &&
    typeof metadata?.getMap !== "function"
  );
}
