import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { ConfigError } from "../ConfigError.js";
import { encryptionKeyBytes } from "./encryptionKey.js";

const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** kid | iv | tag, in front of every ciphertext. */
export const SEALED_OVERHEAD = KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

/** Why sealed bytes did not open; storages turn it into a log line and an internal error. */
export class UnsealError extends Error {
  override readonly name = "UnsealError";
}

/**
 * AES-256-GCM keys for encryption at rest, for rotation: the first key seals, every key
 * opens. Each ciphertext starts with the id of the key that sealed it (the first 4 bytes
 * of the key's SHA-256), so opening takes one decryption, not one per key.
 *
 * Sealed layout: kid (4) | iv (12) | GCM tag (16) | ciphertext. `aad` binds the ciphertext
 * to where it is stored (a session, a key): the same bytes stored anywhere else fail.
 */
export class KeyRing {
  readonly #primary: { id: Buffer; key: Buffer };
  readonly #byId = new Map<string, Buffer>();

  constructor(keys: readonly Uint8Array[]) {
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new ConfigError("at least one key is needed", "encryptionKeys");
    }
    const parsed = keys.map((key, i) => encryptionKeyBytes(key, `encryptionKeys[${i}]`));
    for (const key of parsed) {
      const id = keyId(key);
      const hex = id.toString("hex");
      const seen = this.#byId.get(hex);
      if (seen && !seen.equals(key)) {
        // 1 in 4 billion for two random keys; refuse rather than try both.
        throw new ConfigError("two keys share a key id", "encryptionKeys");
      }
      this.#byId.set(hex, key);
    }
    const first = parsed[0] as Buffer;
    this.#primary = { id: keyId(first), key: first };
  }

  /** Hex id of the key that seals (for logs: it names a key without revealing it). */
  get primaryId(): string {
    return this.#primary.id.toString("hex");
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Whether `sealed` (as seal() made it) is under the key that seals now: rotation is done for it. */
  sealedByPrimary(sealed: Buffer): boolean {
    return sealed.subarray(0, KEY_ID_BYTES).equals(this.#primary.id);
  }

  seal(plain: Buffer, aad: Buffer): Buffer {
    return Buffer.concat([this.#primary.id, sealWith(this.#primary.key, plain, aad)]);
  }

  /** Throws UnsealError with a reason fit for a log line. */
  open(sealed: Buffer, aad: Buffer): Buffer {
    if (sealed.length < SEALED_OVERHEAD) throw new UnsealError("the ciphertext is truncated");
    const kid = sealed.subarray(0, KEY_ID_BYTES).toString("hex");
    const key = this.#byId.get(kid);
    if (key === undefined) {
      throw new UnsealError(
        `sealed under key id ${kid}, which is not among the configured encryption keys`,
      );
    }
    return openWith(key, sealed.subarray(KEY_ID_BYTES), aad);
  }

  /** For data sealed before key ids existed: each key in turn. */
  openWithAny(ivTagBody: Buffer, aad: Buffer): Buffer {
    for (const key of this.#byId.values()) {
      try {
        return openWith(key, ivTagBody, aad);
      } catch {
        // next key
      }
    }
    throw new UnsealError(
      "the ciphertext failed authentication (wrong encryption key, or it was altered or moved)",
    );
  }
}

/** AES-256-GCM under one key: iv (12) | GCM tag (16) | ciphertext, bound to `aad`. */
export function sealWith(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Opens what sealWith() made; throws UnsealError. */
export function openWith(key: Buffer, ivTagBody: Buffer, aad: Buffer): Buffer {
  if (ivTagBody.length < IV_BYTES + TAG_BYTES) throw new UnsealError("the ciphertext is truncated");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, ivTagBody.subarray(0, IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(ivTagBody.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([
      decipher.update(ivTagBody.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new UnsealError(
      "the ciphertext failed authentication (wrong encryption key, or it was altered or moved)",
    );
  }
}

/** The first 4 bytes of the key's SHA-256: names a key, reveals nothing usable about it. */
export function keyId(key: Buffer): Buffer {
  return createHash("sha256").update(key).digest().subarray(0, KEY_ID_BYTES);
}
