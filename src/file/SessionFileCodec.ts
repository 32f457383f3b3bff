import type { SessionData } from "../core/json.js";
import { type KeyRing, UnsealError } from "../core/storage/KeyRing.js";
import { parseRecords, type RequestRecord } from "../core/storage/requestRecords.js";

/** What a session file holds. Its expiry is not in here: it is the file's mtime. */
export interface StoredSession {
  version: number;
  createTime: number;
  data: SessionData;
  /** Request records (see Idempotency), by key. */
  requests?: Record<string, RequestRecord>;
  /**
   * A tombstone: no session, only `requests` kept for their window (after a destroy or a
   * regenerate, or a create's record). Reads as missing. Its version is 0.
   */
  gone?: boolean;
}

/** Why a file could not be decoded; the storage treats it as missing and moves it aside. */
export class CorruptFileError extends Error {
  override readonly name = "CorruptFileError";
}

const FORMAT = "sessiond-file/1";
// Sealed layout: MAGIC | KeyRing.seal() (key id | iv | tag | ciphertext of the plain layout).
const MAGIC = Buffer.from("SDG2");
// Before key rotation: MAGIC_V1 | iv | tag | ciphertext, opened by trying each key.
const MAGIC_V1 = Buffer.from("SDG1");

/**
 * Encodes sessions as JSON, optionally sealed with AES-256-GCM under a KeyRing (the first
 * key seals, every key opens). The id is bound into the authenticated data, so a sealed
 * file copied over another session's file fails to open instead of handing one caller
 * another caller's session.
 */
export class SessionFileCodec {
  readonly #keys: KeyRing | undefined;

  constructor(keys: KeyRing | undefined) {
    this.#keys = keys;
  }

  encode(id: string, session: StoredSession): Buffer {
    const plain = Buffer.from(
      JSON.stringify({
        format: FORMAT,
        version: session.version,
        createTime: session.createTime,
        data: session.data,
        requests: session.requests,
        gone: session.gone === true ? true : undefined,
      }),
      "utf8",
    );
    if (this.#keys === undefined) return plain;
    return Buffer.concat([MAGIC, this.#keys.seal(plain, aad(id))]);
  }

  /**
   * Whether a file that decodes was sealed under a key that no longer seals (an older key
   * of the ring, or the layout before key ids): the storage then seals it again, so that
   * after a rotation the old key is needed only until every session was read once.
   */
  sealedByOldKey(file: Buffer): boolean {
    if (this.#keys === undefined) return false;
    const head = file.subarray(0, MAGIC.length);
    if (head.equals(MAGIC_V1)) return true;
    return head.equals(MAGIC) && !this.#keys.sealedByPrimary(file.subarray(MAGIC.length));
  }

  /** Throws CorruptFileError with a reason fit for a log line. */
  decode(id: string, file: Buffer): StoredSession {
    const head = file.subarray(0, MAGIC.length);
    const sealed = head.equals(MAGIC) || head.equals(MAGIC_V1);
    if (this.#keys === undefined) {
      if (sealed) throw new CorruptFileError("the file is encrypted but no encryptionKey is set");
      return parse(file);
    }
    if (!sealed)
      throw new CorruptFileError("the file is not encrypted but an encryptionKey is set");
    let plain: Buffer;
    try {
      const body = file.subarray(MAGIC.length);
      plain = head.equals(MAGIC)
        ? this.#keys.open(body, aad(id))
        : this.#keys.openWithAny(body, aad(id));
    } catch (err) {
      if (!(err instanceof UnsealError)) throw err;
      throw new CorruptFileError(
        /truncated/.test(err.message)
          ? "the encrypted file is truncated"
          : `the file failed authentication (wrong encryptionKey, or the file was altered): ${err.message}`,
      );
    }
    return parse(plain);
  }
}

function aad(id: string): Buffer {
  return Buffer.from(`${FORMAT} ${id}`, "utf8");
}

function parse(text: Buffer): StoredSession {
  let value: unknown;
  try {
    value = JSON.parse(text.toString("utf8"));
  } catch {
    throw new CorruptFileError(
      text.length === 0 ? "the file is empty" : "the file is not valid JSON (truncated?)",
    );
  }
  const record = value as Partial<Record<string, unknown>> | null;
  if (typeof record !== "object" || record === null || record.format !== FORMAT) {
    throw new CorruptFileError(`the file is not in the ${FORMAT} format`);
  }
  const { version, createTime, data, requests } = record;
  const gone = record.gone === true;
  if (
    typeof version !== "number" ||
    !Number.isSafeInteger(version) ||
    version < (gone ? 0 : 1) ||
    typeof createTime !== "number" ||
    !Number.isFinite(createTime) ||
    typeof data !== "object" ||
    data === null ||
    Array.isArray(data)
  ) {
    throw new CorruptFileError("the file has a malformed version, createTime or data");
  }
  const session: StoredSession = { version, createTime, data: data as SessionData };
  const kept = parseRecords(requests);
  if (kept !== undefined) session.requests = kept;
  if (gone) session.gone = true;
  return session;
}
