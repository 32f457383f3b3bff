import type { handleServerStreamingCall, ServerWritableStream } from "@grpc/grpc-js";
import { settle } from "./settle.js";
import { toStatus } from "./toStatus.js";
import { type HandlerOptions, handlerLogger } from "./unaryHandler.js";

/**
 * Turns an async function into a grpc-js server-streaming handler: the stream ends with
 * OK when the function resolves, and with the mapped status when it throws, so a failure
 * after an `await` never leaves the client hanging.
 */
export function serverStreamingHandler<Req, Res>(
  fn: (call: ServerWritableStream<Req, Res>) => Promise<void> | void,
  options: HandlerOptions = {},
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const fail = (err: unknown) => {
      // grpc-js turns an 'error' event into the call's status after pending writes.
      call.emit("error", toStatus(err, handlerLogger(options, call), call.getPath(), options));
    };
    settle(fn, call, () => call.end(), fail);
  };
}
