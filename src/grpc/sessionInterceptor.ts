import {
  type Metadata,
  type Responder,
  ServerInterceptingCall,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import type { Logger } from "../core/Logger.js";
import type { Manager } from "../core/session/Manager.js";
import { assertValidMetadataKey, DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
import { markExcluded } from "./getSession.js";
import { SessionCall } from "./SessionCall.js";

export interface SessionInterceptorOptions {
  /** Request and response metadata key of the session id. Default "x-session-id". */
  metadataKey?: string;
  /** Where failed commits are logged. Default: the Manager's logger. */
  logger?: Logger;
  /**
   * Which methods (by path, "/pkg.Service/Method") get a session. Others pass through
   * untouched: no id check, no session (getSession there throws, naming this option).
   * Default: every method.
   */
  methods?: (path: string) => boolean;
  /**
   * Send a storage failure's own message (which names the storage's address or path) to
   * callers. Default false: callers get a generic "storage unavailable" one, and the full
   * text goes to `logger` (see StatusOptions in toStatus.ts).
   */
  exposeStorageErrors?: boolean;
}

/**
 * A grpc-js server interceptor (grpc-js 1.13 or newer: older ones send a new id only in
 * trailers) that gives every call a lazily loaded
 * Session, reachable from handlers with getSession(call). See SessionCall for when
 * changes are committed and where a new id is returned.
 *
 *   new Server({ interceptors: [sessionInterceptor(manager)] })
 */
export function sessionInterceptor(
  manager: Manager,
  options: SessionInterceptorOptions = {},
): ServerInterceptor {
  const key = options.metadataKey ?? DEFAULT_METADATA_KEY;
  assertValidMetadataKey(key);
  const config = {
    manager,
    key,
    logger: options.logger ?? manager.context.logger,
    exposeStorageErrors: options.exposeStorageErrors,
  };
  const { methods } = options;
  return (method, call) =>
    methods === undefined || methods(method.path)
      ? new SessionCall(config, method.path, call)
      : new ServerInterceptingCall(call, LEFT_OUT);
}

/**
 * For methods the filter leaves out: only marks the metadata, so getSession there can say
 * why it has no session. One shared object, no closure per call.
 */
const MARKING_LISTENER = {
  onReceiveMetadata(metadata: Metadata, pass: (metadata: Metadata) => void): void {
    markExcluded(metadata);
    pass(metadata);
  },
};
const LEFT_OUT: Responder = {
  start(next) {
    next(MARKING_LISTENER);
  },
};
