import { ServerError, type Status } from "nice-grpc-common";
import type { Logger } from "../core/Logger.js";
import { toStatus, type WireStatus } from "../grpc/toStatus.js";

/**
 * What a handler threw, as nice-grpc reports errors: its own ServerError and AbortError
 * pass as they are (nice-grpc answers the latter with CANCELLED); everything else goes
 * through the one mapping, toStatus, so a SessionError keeps its status instead of
 * becoming UNKNOWN, and a bug becomes INTERNAL with its stack in the log only.
 */
export function toServerError(err: unknown, logger: Logger, method: string): Error {
  if (err instanceof ServerError || isAbortError(err)) return err as Error;
  return fromWireStatus(toStatus(err, logger, method));
}

export function fromWireStatus(st: WireStatus): ServerError {
  // grpc-js's `status` and nice-grpc's `Status` are both the gRPC code numbers.
  return new ServerError(st.code as number as Status, st.details);
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}
