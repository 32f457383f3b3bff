import { Metadata, status } from "@grpc/grpc-js";
import { ERROR_DOMAIN } from "../core/ErrorReason.js";
import type { Logger } from "../core/Logger.js";
import { type ErrorCode, SessionError } from "../core/SessionError.js";
import { STATUS_DETAILS_KEY } from "../protocol/ErrorInfo.js";
import { encodeStatusDetails } from "../protocol/encodeStatusDetails.js";
import { ServerError } from "./ServerError.js";

/**
 * What a failure becomes on the wire: a code and a message, never a stack; a failure with
 * a reason also carries it in `metadata` as a google.rpc.Status with an ErrorInfo (the
 * `grpc-status-details-bin` trailer), so clients branch on the reason, not the message.
 */
export interface WireStatus {
  code: status;
  details: string;
  metadata?: Metadata;
}

const codes: Record<ErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  aborted: status.ABORTED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  failed_precondition: status.FAILED_PRECONDITION,
  already_exists: status.ALREADY_EXISTS,
  unavailable: status.UNAVAILABLE,
  cancelled: status.CANCELLED,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
  internal: status.INTERNAL,
};

/** How toStatus words what it sends; every field is optional. */
export interface StatusOptions {
  /**
   * Send a storage failure's own message (UNAVAILABLE: "redis unavailable: connect
   * ECONNREFUSED 10.0.0.7:6379", a file storage's directory) to the caller. Default false:
   * the caller gets a generic message saying what its reason says (nothing applied, or
   * maybe applied) and the full one goes to the logger, so that storage addresses and
   * paths stay out of what callers, and their callers, see.
   */
  exposeStorageErrors?: boolean;
}

/** What a caller reads instead of a storage failure's own message (see StatusOptions). */
export const STORAGE_UNAVAILABLE_DETAILS: Readonly<Record<string, string>> = Object.freeze({
  STORAGE_UNAVAILABLE:
    "storage unavailable: nothing was applied, safe to retry (the server's log has the details)",
  WRITE_OUTCOME_UNKNOWN:
    "storage unavailable: the write may have been applied; retry with the same request_id (the server's log has the details)",
  none: "storage unavailable (the server's log has the details)",
});

/**
 * THE mapping from anything thrown to a gRPC status; the handler wrappers and the
 * interceptor all go through it. Typed errors keep their message (it was written for the
 * caller), except a storage failure's, which names the storage's address or path and is
 * replaced by a generic one unless `options.exposeStorageErrors`; anything else is a bug
 * whose details stay in the log, with the stack, and never reach the client.
 */
export function toStatus(
  err: unknown,
  logger?: Logger,
  method?: string,
  options?: StatusOptions,
): WireStatus {
  if (err instanceof ServerError) return { code: err.code, details: err.details };
  if (err instanceof SessionError && err.code !== "internal") {
    let details = err.message;
    // Operators need to see an unreachable storage; the other codes are the caller's doing.
    if (err.code === "unavailable") {
      logger?.warn("storage unavailable", { method, err: err.message });
      if (options?.exposeStorageErrors !== true) {
        details = (STORAGE_UNAVAILABLE_DETAILS[err.reason ?? "none"] ??
          STORAGE_UNAVAILABLE_DETAILS.none) as string;
      }
    }
    const code = codes[err.code];
    if (err.reason === undefined) return { code, details };
    const info = { reason: err.reason, domain: ERROR_DOMAIN, metadata: { ...err.metadata } };
    const metadata = new Metadata();
    metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(code, details, info));
    return { code, details, metadata };
  }
  logger?.error("internal error", { method, ...describe(err) });
  return { code: status.INTERNAL, details: "internal error" };
}

function describe(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { err: String(err) };
  const fields: Record<string, unknown> = { err: err.message, stack: err.stack };
  if (err.cause !== undefined) {
    fields.cause = err.cause instanceof Error ? err.cause.message : String(err.cause);
    if (err.cause instanceof Error) fields.causeStack = err.cause.stack;
  }
  return fields;
}
