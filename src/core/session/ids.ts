import { randomBytes } from "node:crypto";
import { SessionError } from "../SessionError.js";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
const ALPHABET_CODES = Buffer.from(ALPHABET, "latin1");
export const ID_LENGTH = 32;
const ID_PATTERN = /^[0-9a-z]{32}$/;

/**
 * 32 characters of [0-9a-z] from the CSPRNG, about 165 bits. Bytes >= 252 are discarded
 * (rejection sampling) because 256 is not a multiple of 36: `byte % 36` would favour the
 * first four characters.
 */
export function newSessionId(): string {
  // Characters go into a byte buffer and become one flat string at the end: appending to a
  // string builds a rope of ~20 cons cells, which a Map key keeps alive (~30 B per session).
  const out = Buffer.allocUnsafe(ID_LENGTH);
  let length = 0;
  while (length < ID_LENGTH) {
    for (const byte of randomBytes(ID_LENGTH * 2)) {
      if (byte >= 252) continue;
      out[length++] = ALPHABET_CODES[byte % 36];
      if (length === ID_LENGTH) break;
    }
  }
  return out.toString("latin1");
}

export function isValidSessionId(id: unknown): id is string {
  return typeof id === "string" && ID_PATTERN.test(id);
}

/**
 * Throws invalid_argument for anything that is not a well-formed id; never echoes it whole.
 * `from` says where the id came from ('metadata "x-session-id"', 'cookie "sid"'), so that
 * whoever reads the refusal knows which of the client's headers to look at.
 */
export function assertValidSessionId(id: unknown, from?: string): asserts id is string {
  if (isValidSessionId(id)) return;
  const why =
    typeof id !== "string"
      ? "must be a string"
      : id.length !== ID_LENGTH
        ? `must be ${ID_LENGTH} characters, got ${id.length}`
        : "must contain only the characters [0-9a-z]";
  const source = from === undefined ? "" : ` in ${from}`;
  throw new SessionError("invalid_argument", `malformed session id${source}: ${why}`, {
    reason: "MALFORMED_SESSION_ID",
  });
}
