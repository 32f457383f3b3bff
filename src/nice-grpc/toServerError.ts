import { type CallContext, ServerError, type Status } from "nice-grpc-common";
import type { Logger } from "../core/Logger.js";
import { type StatusOptions, toStatus, type WireStatus } from "../grpc/toStatus.js";
import { STATUS_DETAILS_KEY } from "../protocol/ErrorInfo.js";

/**
 * What a handler threw, as nice-grpc reports errors: its own ServerError and AbortError
 * pass as they are (nice-grpc answers the latter with CANCELLED); everything else goes
 * through the one mapping, toStatus, so a SessionError keeps its status instead of
 * becoming UNKNOWN, and a bug becomes INTERNAL with its stack in the log only.
 */
export function toServerError(
  err: unknown,
  logger: Logger,
  method: string,
  trailer?: CallContext["trailer"],
  options?: StatusOptions,
): Error {
  if (err instanceof ServerError || isAbortError(err)) return err as Error;
  return fromWireStatus(toStatus(err, logger, method, options), trailer);
}

/**
 * nice-grpc's ServerError has no metadata: the status details (the error's reason) go in
 * the call's trailer, which nice-grpc sends with an error status too.
 */
export function fromWireStatus(st: WireStatus, trailer?: CallContext["trailer"]): ServerError {
  const details = st.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (trailer !== undefined && details instanceof Uint8Array) {
    trailer.set(STATUS_DETAILS_KEY, details);
  }
  // grpc-js's `status` and nice-grpc's `Status` are both the gRPC code numbers.
  return new ServerError(st.code as number as Status, st.details);
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}
