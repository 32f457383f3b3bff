import type { handleUnaryCall, Metadata, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type { Logger } from "../core/Logger.js";
import { defaultLogger } from "./defaultLogger.js";
import { interceptorLogger } from "./getSession.js";
import { settle } from "./settle.js";
import { type StatusOptions, toStatus } from "./toStatus.js";

export interface HandlerOptions extends StatusOptions {
  /**
   * Where unexpected errors are logged with their stack, and a storage failure's full
   * message (callers get a generic one: see StatusOptions). Default: the logger of the
   * sessionInterceptor the call went through (its Manager's), else JSON lines on stderr;
   * `silentLogger` logs nowhere.
   */
  logger?: Logger;
}

/** Where a wrapper logs `call`'s failure: its own logger, the interceptor's, or stderr. */
export function handlerLogger(
  options: HandlerOptions,
  call: { readonly metadata?: Metadata },
): Logger {
  return options.logger ?? interceptorLogger(call) ?? defaultLogger();
}

/**
 * Turns an async function into a grpc-js unary handler. grpc-js ignores the promise an
 * async handler returns, so without this a throw after an `await` leaves the client
 * waiting for its deadline; here every outcome becomes exactly one response or status.
 */
export function unaryHandler<Req, Res>(
  fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
  options: HandlerOptions = {},
): handleUnaryCall<Req, Res> {
  return singleResponse(fn, options);
}

/**
 * The handler of a call answered by one response (unary, client streaming): `fn`'s result
 * is the response, its throw the status.
 */
export function singleResponse<
  Call extends { getPath(): string; readonly metadata?: Metadata },
  Res,
>(
  fn: (call: Call) => Promise<Res> | Res,
  options: HandlerOptions,
): (call: Call, callback: sendUnaryData<Res>) => void {
  return (call, callback) =>
    settle(
      fn,
      call,
      (response) => callback(null, response),
      (err) => callback(toStatus(err, handlerLogger(options, call), call.getPath(), options), null),
    );
}
