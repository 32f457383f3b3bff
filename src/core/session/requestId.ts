import { createHash, hkdfSync, randomBytes } from "node:crypto";
import { SessionError } from "../SessionError.js";
import { ID_FAMILY_LENGTH } from "../storage/idFamily.js";
import { openWith, sealWith } from "../storage/KeyRing.js";
import type { Idempotency } from "../storage/Storage.js";
import { isValidSessionId } from "./ids.js";

/** Ten minutes: long enough for any client's retries, short enough to keep few records. */
export const DEFAULT_REQUEST_ID_WINDOW_MS = 10 * 60 * 1000;

/**
 * 16 to 128 characters of [0-9A-Za-z._:~-]. The lower bound is there because whoever
 * presents an id within the window is handed its outcome (a new session id included):
 * ids must be unguessable, and 16 characters is the least a random 96-bit id takes.
 */
const REQUEST_ID = /^[0-9A-Za-z._:~-]{16,128}$/;

export function assertValidRequestId(id: unknown): asserts id is string {
  if (typeof id === "string" && REQUEST_ID.test(id)) return;
  const why =
    typeof id !== "string"
      ? "must be a string"
      : id.length < 16 || id.length > 128
        ? `must be 16 to 128 characters, got ${id.length}`
        : "must contain only the characters [0-9A-Za-z._:~-]";
  throw new SessionError("invalid_argument", `malformed request_id: ${why}`);
}

/** A fresh random request id: 128 bits from the CSPRNG, 22 base64url characters. */
export function newRequestId(): string {
  return randomBytes(16).toString("base64url");
}

const DOMAIN = "sessiond/request-id/v1";
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** What one idempotent storage write carries, plus how to seal the id it issues. */
export interface RequestStep extends Idempotency {
  /** The family a session this step creates must have, so a retry finds its record. */
  readonly family: string;
  seal(sessionId: string): string;
  /** The session id a replayed outcome issued; internal error if the record is not ours. */
  unseal(sealed: string): string;
}

/**
 * One request id of one Session. Every storage write the Session makes under it is a
 * numbered step (a retried request makes the same writes in the same order), and each
 * step gets its own record name, so a request that commits and then regenerates has both
 * answered again on retry. Nothing here is stored: the storage sees only hashes, and a
 * session id issued by a step is sealed under a key derived from the request id.
 */
export class RequestId {
  readonly #id: string;
  readonly #windowMs: number;
  readonly #scope: string;
  #step = 0;

  constructor(id: string, windowMs: number, scope: string) {
    assertValidRequestId(id);
    this.#id = id;
    this.#windowMs = windowMs;
    this.#scope = scope;
  }

  /**
   * The next step. `sessionId` is the id the caller addressed (undefined: none);
   * `body` what the write asks, as JSON-able data in a fixed order.
   */
  next(kind: string, sessionId: string | undefined, body: unknown): RequestStep {
    const step = this.#step++;
    const key = sha256Hex(`${DOMAIN}\0key\0${this.#id}\0${step}`);
    const fingerprint = sha256Hex(
      JSON.stringify([DOMAIN, this.#scope, kind, step, sessionId ?? "", body]),
    );
    const sealKey = Buffer.from(
      hkdfSync("sha256", this.#id, DOMAIN, `seal ${step}`, 32) as ArrayBuffer,
    );
    const aad = Buffer.from(key, "latin1");
    return {
      key,
      fingerprint,
      windowMs: this.#windowMs,
      family: familyOf(key),
      seal: (sessionId) => seal(sealKey, aad, sessionId),
      unseal: (sealed) => unseal(sealKey, aad, sealed),
    };
  }
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** ID_FAMILY_LENGTH characters of [0-9a-z] drawn from the key's hash, without modulo bias. */
function familyOf(key: string): string {
  let out = "";
  let seed = key;
  while (out.length < ID_FAMILY_LENGTH) {
    for (const byte of createHash("sha256").update(`family\0${seed}`).digest()) {
      if (byte >= 252) continue;
      out += ALPHABET[byte % 36];
      if (out.length === ID_FAMILY_LENGTH) break;
    }
    seed = out + seed;
  }
  return out;
}

/** AES-256-GCM, base64url of iv | tag | ciphertext. */
function seal(key: Buffer, aad: Buffer, sessionId: string): string {
  return sealWith(key, Buffer.from(sessionId, "utf8"), aad).toString("base64url");
}

function unseal(key: Buffer, aad: Buffer, sealed: string): string {
  try {
    const id = openWith(key, Buffer.from(sealed, "base64url"), aad).toString("utf8");
    if (isValidSessionId(id)) return id;
  } catch {
    // Falls through: a record that does not open is a bug or tampering, not the caller's.
  }
  throw new SessionError("internal", "internal error", {
    cause: new Error("a request record's session id does not unseal"),
  });
}
