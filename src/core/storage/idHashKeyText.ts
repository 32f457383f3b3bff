import { randomBytes } from "node:crypto";
import { MIN_ID_HASH_KEY_BYTES } from "./HashedIdStorage.js";

/**
 * An id-hash key as kept in a file: hex (at least 64 digits) or base64 of at least 32
 * bytes, surrounding whitespace ignored. Undefined when the text is neither.
 */
export function parseIdHashKeyText(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^(?:[0-9a-fA-F]{2}){32,}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9+/_-]{43,}={0,2}$/.test(trimmed)) {
    const key = Buffer.from(trimmed, "base64");
    if (key.length >= MIN_ID_HASH_KEY_BYTES) return key;
  }
  return undefined;
}

/** A fresh key, as the hex line a key file holds (copy it to other instances as is). */
export function newIdHashKeyText(): string {
  return `${randomBytes(32).toString("hex")}\n`;
}
