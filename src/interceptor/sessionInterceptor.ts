import { ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "../common/Logger.js";
import { toStatus } from "../service/toStatus.js";
import type { Manager } from "../session/Manager.js";
import { bindSessionCall } from "./getSession.js";
import { assertValidMetadataKey, DEFAULT_METADATA_KEY } from "./metadataKey.js";
import { readSessionId } from "./readSessionId.js";
import { SessionCall } from "./SessionCall.js";

export interface SessionInterceptorOptions {
  /** Request and response metadata key of the session id. Default "x-session-id". */
  metadataKey?: string;
  /** Where failed commits are logged. Default: the Manager's logger. */
  logger?: Logger;
  /**
   * Which methods (by path, "/pkg.Service/Method") get a session. Others pass through
   * untouched: no id check, no getSession. Default: every method.
   */
  methods?: (path: string) => boolean;
}

/**
 * A grpc-js server interceptor (grpc-js >= 1.10) that gives every call a lazily loaded
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
  const logger = options.logger ?? manager.context.logger;
  const { methods } = options;
  return (method, call) => {
    if (methods !== undefined && !methods(method.path)) return new ServerInterceptingCall(call);
    const sc = new SessionCall(manager, key, logger, method.path, call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, next) => {
            try {
              sc.id = readSessionId(metadata, key);
            } catch (err) {
              // Reject before the handler or any storage sees the id: never call next.
              call.sendStatus(toStatus(err, logger, method.path));
              return;
            }
            bindSessionCall(metadata, sc);
            next(metadata);
          },
        }),
      sendMetadata: (metadata, next) => sc.sendMetadata(metadata, next),
      sendMessage: (message, next) => sc.sendMessage(message, next),
      sendStatus: (st, next) => sc.sendStatus(st, next),
    });
  };
}
