import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { SessionData } from "../../common/json.js";
import { parseRecords, type RequestRecord } from "../requestRecords.js";

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
// Encrypted layout: MAGIC | iv (12) | GCM tag (16) | ciphertext of the plain JSON layout.
const MAGIC = Buffer.from("SDG1");
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + IV_BYTES + TAG_BYTES;

/**
 * Encodes sessions as JSON, optionally sealed with AES-256-GCM. The id is bound into the
 * authenticated data, so a sealed file copied over another session's file fails to open
 * instead of handing one caller another caller's session.
 */
export class SessionFileCodec {
  readonly #key: Buffer | undefined;

  constructor(key: Buffer | undefined) {
    this.#key = key;
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
    if (this.#key === undefined) return plain;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(aad(id));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), sealed]);
  }

  /** Throws CorruptFileError with a reason fit for a log line. */
  decode(id: string, file: Buffer): StoredSession {
    const sealed = file.subarray(0, MAGIC.length).equals(MAGIC);
    if (this.#key === undefined) {
      if (sealed) throw new CorruptFileError("the file is encrypted but no encryptionKey is set");
      return parse(file);
    }
    if (!sealed)
      throw new CorruptFileError("the file is not encrypted but an encryptionKey is set");
    if (file.length < HEADER_BYTES) throw new CorruptFileError("the encrypted file is truncated");
    const iv = file.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
    const tag = file.subarray(MAGIC.length + IV_BYTES, HEADER_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, iv);
      decipher.setAAD(aad(id));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(file.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      throw new CorruptFileError(
        "the file failed authentication (wrong encryptionKey, or the file was altered)",
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
