import { SessionError } from "./SessionError.js";

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
  /** An increment of a key holding something other than a number. */
  | { kind: "notNumber"; key: string; holds: ValueKind }
  /** An increment whose result is not a finite double. */
  | { kind: "overflow"; key: string }
  | { kind: "tooManyKeys"; keys: number; maxKeys: number }
  | { kind: "tooManyBytes"; bytes: number; maxSessionBytes: number }
  /** MemoryStorage's maxTotalBytes, after reclaiming expired sessions did not make room. */
  | {
      kind: "memoryFull";
      growth: number;
      used: number;
      maxTotalBytes: number;
      /** Where a deployer sets maxTotalBytes (see core/settingNames.ts), if known. */
      where?: string | undefined;
    }
  /** MemoryStorage's maxSessions. */
  | { kind: "tooManySessions"; sessions: number; maxSessions: number };

/**
 * The error a refusal is thrown as. The texts are part of the wire contract (clients and
 * tests match them), so they change only here and only on purpose.
 */
export function refusalError(refusal: Refusal): SessionError {
  switch (refusal.kind) {
    case "version":
      return new SessionError(
        "aborted",
        `version mismatch: expected ${refusal.expected}, session is at ${refusal.actual}`,
      );
    case "notNumber":
      return new SessionError(
        "failed_precondition",
        `cannot increment key "${refusal.key}": it holds a ${refusal.holds}, not a number`,
      );
    case "overflow":
      return new SessionError(
        "failed_precondition",
        `incrementing key "${refusal.key}" would overflow`,
      );
    case "tooManyKeys":
      return new SessionError(
        "resource_exhausted",
        `session would hold ${refusal.keys} keys, over the limit maxKeys=${refusal.maxKeys}`,
      );
    case "tooManyBytes":
      return new SessionError(
        "resource_exhausted",
        `session would be ${refusal.bytes} bytes, over the limit maxSessionBytes=${refusal.maxSessionBytes}`,
      );
    case "memoryFull":
      return new SessionError(
        "resource_exhausted",
        `memory storage is full: this write needs ${refusal.growth} more bytes and ${refusal.used} of the budget maxTotalBytes=${refusal.maxTotalBytes} are taken${refusal.where === undefined ? "" : ` (${refusal.where})`}`,
      );
    case "tooManySessions":
      return new SessionError(
        "resource_exhausted",
        `memory storage holds ${refusal.sessions} sessions, the limit maxSessions=${refusal.maxSessions}`,
      );
  }
}
