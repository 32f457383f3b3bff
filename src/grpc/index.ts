// `sessiond/grpc`: sessions inside your own grpc-js services. The interceptor, getSession,
// the handler wrappers every handler goes through, and the error-to-status mapping; and
// openSession, the framework-neutral core the interceptor and other adapters are built on.
export { DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
export { bidiStreamingHandler } from "./bidiStreamingHandler.js";
export { clientStreamingHandler } from "./clientStreamingHandler.js";
export { getSession } from "./getSession.js";
export type { OpenSessionOptions, RequestMetadata, SessionReply } from "./openSession.js";
export { OpenedSession, openSession } from "./openSession.js";
export { ServerError } from "./ServerError.js";
export { serverStreamingHandler } from "./serverStreamingHandler.js";
export type { SessionInterceptorOptions } from "./sessionInterceptor.js";
export { sessionInterceptor } from "./sessionInterceptor.js";
export type { StatusOptions, WireStatus } from "./toStatus.js";
export { STORAGE_UNAVAILABLE_DETAILS, toStatus } from "./toStatus.js";
export type { HandlerOptions } from "./unaryHandler.js";
export { unaryHandler } from "./unaryHandler.js";
