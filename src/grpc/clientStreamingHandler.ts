import type { handleClientStreamingCall, ServerReadableStream } from "@grpc/grpc-js";
import { type HandlerOptions, singleResponse } from "./unaryHandler.js";

/**
 * Turns an async function into a grpc-js client-streaming handler (read the requests with
 * `for await (const msg of call)`); its result is the response, a throw the status.
 */
export function clientStreamingHandler<Req, Res>(
  fn: (call: ServerReadableStream<Req, Res>) => Promise<Res> | Res,
  options: HandlerOptions = {},
): handleClientStreamingCall<Req, Res> {
  return singleResponse(fn, options);
}
