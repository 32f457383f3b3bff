import { ConfigError } from "../ConfigError.js";

/**
 * An AES-256 key: exactly 32 bytes. Text forms (hex, base64) are the caller's to decode —
 * `Buffer.from(hex, "hex")` — so that one parser decides what text is a key (the server's,
 * in server/parsers.ts), and a key that works in one place works in every other.
 */
export function encryptionKeyBytes(key: Uint8Array, option = "encryptionKey"): Buffer {
  if (!(key instanceof Uint8Array)) {
    throw new ConfigError(
      `must be a 32-byte Buffer (decode text first, e.g. Buffer.from(hex, "hex")), got ${typeof key}`,
      option,
    );
  }
  if (key.length !== 32) {
    throw new ConfigError(`must be 32 bytes, got ${key.length} bytes`, option);
  }
  return Buffer.from(key);
}
