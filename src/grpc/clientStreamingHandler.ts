import type { handleClientStreamingCall, ServerReadableStream } from "@grpc/grpc-js";
import { settle } from "./settle.js";
import { toStatus } from "./toStatus.js";
import type { HandlerOptions } from "./unaryHandler.js";

/**
 * Turns an async function into a grpc-js client-streaming handler (read the requests with
 * `for await (const msg of call)`); its result is the response, a throw the status.
 */
export function clientStreamingHandler<Req, Res>(
  fn: (call: ServerReadableStream<Req, Res>) => Promise<Res> | Res,
  options: HandlerOptions = {},
): handleClientStreamingCall<Req, Res> {
  const { logger } = options;
  return (call, callback) =>
    settle(
      fn,
      call,
      (response) => callback(null, response),
      (err) => callback(toStatus(err, logger, call.getPath()), null),
    );
}
