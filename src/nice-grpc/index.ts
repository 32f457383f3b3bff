// `sessiond/nice-grpc`: sessions inside nice-grpc services, as `context.session`. It
// imports nice-grpc-common (an optional peer) and sessiond/grpc's session rules and status
// mapping, never nice-grpc itself.
export type { SessionCallContext, SessionContextExt } from "./SessionContext.js";
export type { SessionMiddlewareOptions } from "./sessionMiddleware.js";
export { sessionMiddleware } from "./sessionMiddleware.js";
export { toServerError } from "./toServerError.js";
