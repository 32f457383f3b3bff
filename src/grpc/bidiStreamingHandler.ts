import type { handleBidiStreamingCall, ServerDuplexStream } from "@grpc/grpc-js";
import { settle } from "./settle.js";
import { toStatus } from "./toStatus.js";
import { type HandlerOptions, handlerLogger } from "./unaryHandler.js";

/**
 * Turns an async function into a grpc-js bidirectional-streaming handler: the call ends
 * with OK when the function resolves and with the mapped status when it throws. Read the
 * requests with `for await (const msg of call)`.
 */
export function bidiStreamingHandler<Req, Res>(
  fn: (call: ServerDuplexStream<Req, Res>) => Promise<void> | void,
  options: HandlerOptions = {},
): handleBidiStreamingCall<Req, Res> {
  return (call) => {
    const fail = (err: unknown) => {
      call.emit("error", toStatus(err, handlerLogger(options, call), call.getPath(), options));
    };
    // A plain `for await` over a Duplex destroys it when the requests end, after which the
    // call can no longer send its status and the client waits for its deadline.
    Object.defineProperty(call, Symbol.asyncIterator, {
      value: () => call.iterator({ destroyOnReturn: false }),
    });
    settle(fn, call, () => call.end(), fail);
  };
}
