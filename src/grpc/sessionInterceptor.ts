import {
  type Metadata,
  type Responder,
  ServerInterceptingCall,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import type { Logger } from "../core/Logger.js";
import type { Manager } from "../core/session/Manager.js";
import { assertValidMetadataKey, DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
import { defaultLogger } from "./defaultLogger.js";
import { markExcluded } from "./getSession.js";
import { asInterceptingCall } from "./PassThroughCall.js";
import { SessionCall } from "./SessionCall.js";

export interface SessionInterceptorOptions {
  /** Request and response metadata key of the session id. Default "x-session-id". */
  metadataKey?: string;
  /**
   * Where failed commits and unexpected errors are logged, and the handler wrappers under
   * this interceptor log theirs. Default: the Manager's logger; when the Manager has none,
   * JSON lines on stderr (an `internal error` answered to a caller must leave a trace).
   */
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
    logger: options.logger ?? manager.logger ?? defaultLogger(),
    exposeStorageErrors: options.exposeStorageErrors,
  };
  const { methods } = options;
  const leftOut = methods === undefined ? undefined : leftOutResponder(config.logger);
  return (method, call) =>
    leftOut === undefined || (methods as (path: string) => boolean)(method.path)
      ? asInterceptingCall(new SessionCall(config, method.path, call))
      : new ServerInterceptingCall(call, leftOut);
}

/**
 * For methods the filter leaves out: only marks the metadata (with the interceptor's
 * logger, for the handler wrappers), so getSession there can say why it has no session.
 * One object per interceptor, no closure per call.
 */
function leftOutResponder(logger: Logger): Responder {
  const marking = {
    onReceiveMetadata(metadata: Metadata, pass: (metadata: Metadata) => void): void {
      markExcluded(metadata, logger);
      pass(metadata);
    },
  };
  return {
    start(next) {
      next(marking);
    },
  };
}
