import { Metadata, status } from "@grpc/grpc-js";
import { ERROR_DOMAIN, type ErrorReason } from "../core/ErrorReason.js";
import { isWellFormed, jsonValueProblem } from "../core/session/validate.js";
import type { SessionCallError } from "./SessionHandle.js";

/*
 * What the SDK refuses before sending, because it would not arrive as written: protobuf
 * encodes a string with a lone UTF-16 surrogate as U+FFFD (valid UTF-8, so no server can
 * tell), and a value that is not JSON (undefined, a Date, NaN) as something else or
 * nothing. The refusal is shaped like the server's: a ServiceError, INVALID_ARGUMENT, in
 * the library's words; no call is made.
 */

export function assertSendableKey(key: string): void {
  if (typeof key === "string" && !isWellFormed(key)) {
    throw refused("key contains a lone UTF-16 surrogate", "INVALID_KEY");
  }
}

export function assertSendableValue(key: string, value: unknown): void {
  assertSendableKey(key);
  const problem = jsonValueProblem(value);
  if (problem !== undefined) throw refused(`value of key "${key}" ${problem}`, "INVALID_VALUE");
}

export function assertSendableData(data: object): void {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw refused("setMap needs a plain object of key -> value", "INVALID_VALUE");
  }
  for (const key of Object.keys(data)) {
    assertSendableValue(key, (data as Record<string, unknown>)[key]);
  }
}

/** Refused before sending, shaped as the server would have refused it: reason included. */
function refused(details: string, reason: ErrorReason): SessionCallError {
  const errorInfo = { reason, domain: ERROR_DOMAIN, metadata: {} };
  return Object.assign(new Error(`${status.INVALID_ARGUMENT} INVALID_ARGUMENT: ${details}`), {
    code: status.INVALID_ARGUMENT,
    details,
    metadata: new Metadata(),
    reason,
    domain: ERROR_DOMAIN,
    errorInfo,
  });
}
