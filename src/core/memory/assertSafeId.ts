import { SessionError } from "../SessionError.js";
import { isSafeId } from "../storage/safeId.js";

export function assertSafeId(id: string): void {
  if (!isSafeId(id)) {
    throw new SessionError(
      "invalid_argument",
      "memory storage refuses a session id outside [0-9A-Za-z_-]{1,128}",
      { reason: "MALFORMED_SESSION_ID" },
    );
  }
}
