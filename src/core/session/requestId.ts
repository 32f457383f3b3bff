import { createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";
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
  throw new SessionError("invalid_argument", `malformed request_id: ${why}`, {
    reason: "MALFORMED_REQUEST_ID",
  });
}

/** A fresh random request id: 128 bits from the CSPRNG, 22 base64url characters. */
export function newRequestId(): string {
  return randomBytes(16).toString("base64url");
}

const DOMAIN = "sessiond/request-id/v2";
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** Secrets shorter than this are refused: a record is only as hidden as its secret. */
export const MIN_REQUEST_ID_SECRET_BYTES = 32;

/** A secret kept elsewhere (e.g. derived from a key stored in Redis): loaded on first use. */
export interface RequestIdSecretLookup {
  load(): Promise<Buffer>;
}

/** Where a Manager's request-id secret comes from: the bytes, or a lookup. */
export type RequestIdSecretSource = Buffer | Uint8Array | RequestIdSecretLookup;

/** The three subkeys of a request-id secret: one per use, so none is ever used for two. */
interface RequestKeys {
  readonly name: Buffer;
  readonly fingerprint: Buffer;
  readonly seal: Buffer;
}

/**
 * A Manager's request-id secret, as the subkeys every RequestId uses. Record names,
 * fingerprints and seal keys are keyed with it, so whoever holds a storage dump and a
 * request id (a guessable one, say) can neither find its record nor open the session id
 * it sealed: for that they need the secret too.
 */
export class RequestIdSecret {
  #keys: RequestKeys | undefined;
  #loading: Promise<RequestKeys> | undefined;
  readonly #lookup: RequestIdSecretLookup | undefined;

  /** A Buffer shorter than MIN_REQUEST_ID_SECRET_BYTES throws RangeError (see Manager). */
  constructor(source: RequestIdSecretSource) {
    if (source instanceof Uint8Array) this.#keys = derive(checkSecret(Buffer.from(source)));
    else this.#lookup = source;
  }

  /** A fresh random secret: records then live and die with this object. */
  static random(): RequestIdSecret {
    return new RequestIdSecret(randomBytes(MIN_REQUEST_ID_SECRET_BYTES));
  }

  /** The subkeys; synchronous once known, so the usual write waits for nothing. */
  keys(): RequestKeys | Promise<RequestKeys> {
    if (this.#keys !== undefined) return this.#keys;
    const lookup = this.#lookup as RequestIdSecretLookup;
    this.#loading ??= lookup.load().then(
      (secret) => {
        try {
          this.#keys = derive(checkSecret(secret));
        } catch (err) {
          throw new SessionError("internal", "internal error", { cause: err });
        }
        return this.#keys;
      },
      (err: unknown) => {
        // Retried on the next write: the store holding the secret may be back by then.
        this.#loading = undefined;
        throw err;
      },
    );
    return this.#loading;
  }
}

function checkSecret(secret: Buffer): Buffer {
  if (!Buffer.isBuffer(secret) || secret.length < MIN_REQUEST_ID_SECRET_BYTES) {
    throw new RangeError(
      `the request-id secret must be at least ${MIN_REQUEST_ID_SECRET_BYTES} bytes, got ${Buffer.isBuffer(secret) ? secret.length : typeof secret}`,
    );
  }
  return secret;
}

function derive(secret: Buffer): RequestKeys {
  const sub = (info: string) =>
    Buffer.from(hkdfSync("sha256", secret, DOMAIN, info, 32) as ArrayBuffer);
  return { name: sub("record name"), fingerprint: sub("fingerprint"), seal: sub("seal") };
}

/** What one idempotent storage write carries, plus how to seal the id it issues. */
export interface RequestStep extends Idempotency {
  /** The family a session this step creates must have, so a retry finds its record. */
  readonly family: string;
  seal(sessionId: string): string;
  /** The session id a replayed outcome issued; internal error if the record is not ours. */
  unseal(sealed: string): string;
}

/** Who sent a request and what it is, beyond its body: both in the fingerprint. */
export interface RequestScope {
  /** What kind of request (e.g. the RPC's name). */
  scope: string;
  /** Who asked (undefined: one caller); a replay is answered to the same caller only. */
  caller: string | undefined;
}

/**
 * One request id of one Session. Every storage write the Session makes under it is a
 * numbered step (a retried request makes the same writes in the same order), and each
 * step gets its own record name, so a request that commits and then regenerates has both
 * answered again on retry. Nothing here is stored in clear: the storage sees only HMACs
 * under the Manager's request-id secret, and a session id issued by a step is sealed
 * under a key derived from that secret and the request id. The caller is part of the
 * fingerprint: another caller presenting the same id is refused (already_exists), never
 * handed the outcome.
 */
export class RequestId {
  readonly #id: string;
  readonly #windowMs: number;
  readonly #who: RequestScope;
  readonly #secret: RequestIdSecret;
  #step = 0;

  constructor(id: string, windowMs: number, who: RequestScope, secret: RequestIdSecret) {
    assertValidRequestId(id);
    this.#id = id;
    this.#windowMs = windowMs;
    this.#who = who;
    this.#secret = secret;
  }

  /**
   * The next step. `sessionId` is the id the caller addressed (undefined: none);
   * `body` what the write asks, as JSON-able data in a fixed order. The step's number is
   * taken at once, so steps are numbered in the order they are asked for.
   */
  next(
    kind: string,
    sessionId: string | undefined,
    body: unknown,
  ): Promise<RequestStep> | RequestStep {
    const step = this.#step++;
    const keys = this.#secret.keys();
    return keys instanceof Promise
      ? keys.then((k) => this.#stepOf(k, step, kind, sessionId, body))
      : this.#stepOf(keys, step, kind, sessionId, body);
  }

  #stepOf(
    keys: RequestKeys,
    step: number,
    kind: string,
    sessionId: string | undefined,
    body: unknown,
  ): RequestStep {
    const key = hmacHex(keys.name, `${this.#id}\0${step}`);
    const { scope, caller } = this.#who;
    const fingerprint = hmacHex(
      keys.fingerprint,
      JSON.stringify([scope, caller ?? null, kind, step, sessionId ?? "", body]),
    );
    const sealKey = Buffer.from(
      hkdfSync("sha256", keys.seal, DOMAIN, `seal\0${this.#id}\0${step}`, 32) as ArrayBuffer,
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

function hmacHex(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text, "utf8").digest("hex");
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
