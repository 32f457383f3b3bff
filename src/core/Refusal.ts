import type { ErrorReason } from "./ErrorReason.js";
import { type ErrorCode, SessionError } from "./SessionError.js";
import { limitText } from "./settingNames.js";

/** What a value that an increment refuses holds (JSON's kinds, arrays and null apart). */
export type ValueKind = "string" | "boolean" | "object" | "array" | "null";

/**
 * Why a storage refused a write, as data: every storage (memory, file, the Redis scripts,
 * the spec) decides the same refusals, and refusalError alone words them, so a message
 * never has to be rebuilt from another storage's wording.
 */
export type Refusal =
  /** delta.expectedVersion did not match; a missing session is at 0. */
  | { kind: "version"; expected: number; actual: number }
  /**
   * An expected version other than 0 for a session that does not exist, as Session finds
   * it: worded apart from "version" on purpose (clients match "does not exist").
   */
  | { kind: "versionMissing"; expected: number }
  /** An increment of a key holding something other than a number. */
  | { kind: "notNumber"; key: string; holds: ValueKind }
  /** An increment whose result is not a finite double. */
  | { kind: "overflow"; key: string }
  /** `where`: where a deployer sets the limit (core/settingNames.ts), if known. */
  | { kind: "tooManyKeys"; keys: number; maxKeys: number; where?: string | undefined }
  | {
      kind: "tooManyBytes";
      bytes: number;
      maxSessionBytes: number;
      where?: string | undefined;
    }
  /** MemoryStorage's maxTotalBytes, after reclaiming expired sessions did not make room. */
  | {
      kind: "memoryFull";
      growth: number;
      used: number;
      maxTotalBytes: number;
      /** Where a deployer sets maxTotalBytes (see core/settingNames.ts), if known. */
      where?: string | undefined;
    }
  /** MemoryStorage's maxSessions; `where` as for memoryFull. */
  | { kind: "tooManySessions"; sessions: number; maxSessions: number; where?: string | undefined }
  /** A request_id presented with a different request within its window. */
  | { kind: "requestIdReused" };

/**
 * The error a refusal is thrown as. The texts are part of the wire contract (clients and
 * tests match them), so they change only here and only on purpose. The error carries the
 * refusal itself (what a request record keeps) and its reason, with the refusal's numbers
 * as metadata (never its key: clients branch on the reason, the message names the key).
 */
export function refusalError(refusal: Refusal): SessionError {
  const [code, reason, message, metadata] = worded(refusal);
  return new SessionError(code, message, { reason, metadata, refusal });
}

function worded(
  refusal: Refusal,
): [code: ErrorCode, reason: ErrorReason, message: string, metadata: Record<string, string>] {
  switch (refusal.kind) {
    case "version":
      return [
        "aborted",
        "VERSION_MISMATCH",
        `version mismatch: expected ${refusal.expected}, session is at ${refusal.actual}`,
        { expected: String(refusal.expected), actual: String(refusal.actual) },
      ];
    case "versionMissing":
      return [
        "aborted",
        "VERSION_MISMATCH",
        `version mismatch: expected ${refusal.expected}, but the session does not exist`,
        { expected: String(refusal.expected), actual: "0" },
      ];
    case "notNumber":
      return [
        "failed_precondition",
        "NOT_A_NUMBER",
        `cannot increment key "${refusal.key}": it holds a ${refusal.holds}, not a number`,
        { holds: refusal.holds },
      ];
    case "overflow":
      return [
        "failed_precondition",
        "INCREMENT_OVERFLOW",
        `incrementing key "${refusal.key}" would overflow`,
        {},
      ];
    case "tooManyKeys":
      return [
        "resource_exhausted",
        "TOO_MANY_KEYS",
        `session would hold ${refusal.keys} keys, over the limit ${limitText(refusal.where, "maxKeys", refusal.maxKeys)}`,
        { keys: String(refusal.keys), maxKeys: String(refusal.maxKeys) },
      ];
    case "tooManyBytes":
      return [
        "resource_exhausted",
        "SESSION_TOO_LARGE",
        `session would be ${refusal.bytes} bytes, over the limit ${limitText(refusal.where, "maxSessionBytes", refusal.maxSessionBytes)}`,
        { bytes: String(refusal.bytes), maxSessionBytes: String(refusal.maxSessionBytes) },
      ];
    case "memoryFull":
      return [
        "resource_exhausted",
        "MEMORY_FULL",
        `memory storage is full: this write needs ${refusal.growth} more bytes and ${refusal.used} of the budget maxTotalBytes=${refusal.maxTotalBytes} are taken${refusal.where === undefined ? "" : ` (${refusal.where})`}`,
        {
          growth: String(refusal.growth),
          used: String(refusal.used),
          maxTotalBytes: String(refusal.maxTotalBytes),
        },
      ];
    case "tooManySessions":
      return [
        "resource_exhausted",
        "TOO_MANY_SESSIONS",
        `memory storage holds ${refusal.sessions} sessions, the limit ${limitText(refusal.where, "maxSessions", refusal.maxSessions)}`,
        { sessions: String(refusal.sessions), maxSessions: String(refusal.maxSessions) },
      ];
    case "requestIdReused":
      return [
        "already_exists",
        "REQUEST_ID_REUSED",
        "request_id was already used for a different request within the window; nothing was applied",
        {},
      ];
  }
}
