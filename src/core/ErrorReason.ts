import type { ErrorCode } from "./SessionError.js";

/**
 * The domain of every google.rpc.ErrorInfo sessiond sends: with the reason it names one
 * kind of failure for good. Unversioned on purpose: a reason keeps its meaning across
 * versions of the API, and a new meaning gets a new reason.
 */
export const ERROR_DOMAIN = "sessiond";

/**
 * THE table of reasons: every failure a client may need to tell apart, its status code
 * and what it means. Clients branch on `reason` (sent in the status details as a
 * google.rpc.ErrorInfo, see src/protocol/statusDetails.ts), never on the message, whose
 * words may be withheld or reworded. A reason once published is never renamed or reused;
 * the table in docs/clients.md lists the same rows (a test keeps them equal).
 *
 * The metadata a reason carries holds numbers and enum words only: never a session id, a
 * key or a value.
 */
export const ERROR_REASONS = {
  VERSION_MISMATCH: {
    code: "aborted",
    meaning:
      "expected_version did not match (metadata: expected, actual; actual is 0 when the session does not exist); nothing was applied",
  },
  NOT_A_NUMBER: {
    code: "failed_precondition",
    meaning: "an increment of a key that holds something other than a number (metadata: holds)",
  },
  INCREMENT_OVERFLOW: {
    code: "failed_precondition",
    meaning: "an increment whose result is not a finite number; nothing was applied",
  },
  TOO_MANY_KEYS: {
    code: "resource_exhausted",
    meaning: "the session would hold more than maxKeys keys (metadata: keys, maxKeys)",
  },
  SESSION_TOO_LARGE: {
    code: "resource_exhausted",
    meaning: "the session would be larger than maxSessionBytes (metadata: bytes, maxSessionBytes)",
  },
  VALUE_TOO_LARGE: {
    code: "resource_exhausted",
    meaning: "one value is larger than maxValueBytes (metadata: bytes, maxValueBytes)",
  },
  TOO_MANY_OPS: {
    code: "resource_exhausted",
    meaning: "one commit would carry more than maxOps operations (metadata: ops, maxOps)",
  },
  MEMORY_FULL: {
    code: "resource_exhausted",
    meaning:
      "the memory storage's byte budget is taken (metadata: growth, used, maxTotalBytes); retry later",
  },
  TOO_MANY_SESSIONS: {
    code: "resource_exhausted",
    meaning: "the memory storage holds maxSessions sessions (metadata: sessions, maxSessions)",
  },
  DISK_FULL: {
    code: "resource_exhausted",
    meaning: "the file storage's disk budget or the disk itself is full; retry later",
  },
  KEY_TOO_LONG: {
    code: "invalid_argument",
    meaning: "a key is longer than maxKeyBytes (metadata: bytes, maxKeyBytes)",
  },
  INVALID_KEY: {
    code: "invalid_argument",
    meaning: "a key is empty or not well-formed UTF-16",
  },
  INVALID_VALUE: {
    code: "invalid_argument",
    meaning: "a value is not plain JSON (or nests too deeply)",
  },
  INVALID_REQUEST: {
    code: "invalid_argument",
    meaning:
      "the request message is not acceptable (an unknown field, a missing value, no keys, an out-of-range expected_version)",
  },
  MALFORMED_SESSION_ID: {
    code: "invalid_argument",
    meaning: "the session id sent is not one sessiond could have issued, or was sent twice",
  },
  MALFORMED_REQUEST_ID: {
    code: "invalid_argument",
    meaning: "the request_id is not 16 to 128 characters of [0-9A-Za-z._:~-]",
  },
  REQUEST_ID_REUSED: {
    code: "already_exists",
    meaning:
      "the request_id was used for a different request within the window; nothing was applied",
  },
  SESSION_NOT_FOUND: {
    code: "not_found",
    meaning: "Touch, Describe or Regenerate found no session",
  },
  WRITE_CONFLICT: {
    code: "aborted",
    meaning:
      "concurrent writes to the session from other instances kept winning (encrypted Redis); nothing was applied: retry",
  },
  STORAGE_UNAVAILABLE: {
    code: "unavailable",
    meaning:
      "the storage cannot be reached; nothing was applied (a read, or a write known not to have run): safe to retry",
  },
  WRITE_OUTCOME_UNKNOWN: {
    code: "unavailable",
    meaning:
      "the storage failed after the write was sent: it may have been applied; retry with the same request_id",
  },
} as const satisfies Record<string, { code: ErrorCode; meaning: string }>;

/** One reason of ERROR_REASONS. */
export type ErrorReason = keyof typeof ERROR_REASONS;

/** Whether `value` is a reason sessiond sends (for records read back from storage). */
export function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === "string" && Object.hasOwn(ERROR_REASONS, value);
}
