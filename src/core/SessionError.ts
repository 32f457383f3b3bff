import type { ErrorReason } from "./ErrorReason.js";
import type { Refusal } from "./Refusal.js";

/**
 * Why an operation failed, in words the transport can map to a status code.
 * The session and storage layers never import gRPC; the service layer maps these
 * one-to-one onto grpc status codes (see src/grpc/toStatus.ts).
 */
export type ErrorCode =
  | "invalid_argument" // malformed id, key or value; a limit on the shape of one input
  | "not_found" // the session does not exist (Touch, Describe, Regenerate)
  | "aborted" // expected_version did not match; nothing was applied
  | "resource_exhausted" // a size limit would be exceeded; nothing was applied
  | "failed_precondition" // the operation does not fit the stored data (increment of a string)
  | "already_exists" // a request_id reused for a different request; nothing was applied
  | "unavailable" // the storage cannot be reached right now; safe to retry
  | "cancelled" // the caller gave up (see core/storage/cancellation.ts)
  | "deadline_exceeded" // the caller's deadline passed
  | "internal"; // a bug or an unexpected failure; the message is generic

export interface SessionErrorOptions {
  cause?: unknown;
  /** Which failure this is, for clients to branch on (see ERROR_REASONS). */
  reason?: ErrorReason | undefined;
  /** Numbers and enum words about it (never an id, key or value); sent with the reason. */
  metadata?: Readonly<Record<string, string>> | undefined;
  /** The storage refusal this error words, as data: what a request record keeps. */
  refusal?: Refusal | undefined;
}

export class SessionError extends Error {
  override readonly name = "SessionError";
  readonly reason: ErrorReason | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly refusal: Refusal | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: SessionErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = options.reason;
    this.metadata = options.metadata ?? {};
    this.refusal = options.refusal;
  }

  /** Wraps anything thrown into a SessionError; unknown failures become `internal`. */
  static from(err: unknown): SessionError {
    if (err instanceof SessionError) return err;
    return new SessionError("internal", "internal error", { cause: err });
  }
}
