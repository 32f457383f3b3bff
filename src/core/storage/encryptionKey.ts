import { SessionError } from "../SessionError.js";

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/**
 * An AES-256 key: a 32-byte Buffer, or a string holding 64 hex characters, 44 base64
 * characters, or exactly 32 bytes of UTF-8 text (in that order of preference).
 */
export function parseEncryptionKey(key: Buffer | Uint8Array | string): Buffer {
  let bytes: Buffer;
  if (typeof key === "string") {
    if (HEX_KEY.test(key)) bytes = Buffer.from(key, "hex");
    else if (BASE64_KEY.test(key)) bytes = Buffer.from(key, "base64");
    else bytes = Buffer.from(key, "utf8");
  } else if (key instanceof Uint8Array) {
    bytes = Buffer.from(key);
  } else {
    throw new SessionError("invalid_argument", "encryptionKey must be a Buffer or a string");
  }
  if (bytes.length !== 32) {
    throw new SessionError(
      "invalid_argument",
      `encryptionKey must be 32 bytes (a 32-byte Buffer, 64 hex characters, 44 base64 characters or a 32-byte string), got ${bytes.length} bytes`,
    );
  }
  return bytes;
}
