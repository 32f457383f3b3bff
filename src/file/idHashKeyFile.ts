import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../core/SessionError.js";
import { newIdHashKeyText, parseIdHashKeyText } from "../core/storage/idHashKeyText.js";
import { errorCode, fsError } from "./fsErrors.js";
import { SECRET_FILE_RULE } from "./permissionProblem.js";
import { TEMP_SUFFIX } from "./prepareDir.js";
import { readPrivateFileSync, UntrustedFileError } from "./readPrivateFile.js";

/** The file, inside the storage directory, holding the generated id-hash key. */
export const ID_HASH_KEY_FILE = ".id-hash-key";

/**
 * The id-hash key kept in `dir`: read when there, otherwise generated and created once,
 * atomically (a temp file linked into place, so two processes starting together end up
 * with the same key and a crash never leaves half a key). 0600, like the session files.
 */
export function fileIdHashKey(dir: string): Buffer {
  const path = join(dir, ID_HASH_KEY_FILE);
  const existing = readKey(path);
  if (existing) return existing;
  // Dot-prefixed with the temp suffix: a leftover from a crash is swept like other temps.
  const temp = join(dir, `.id-hash-key.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
  try {
    const fd = openSync(temp, "wx", 0o600);
    try {
      writeSync(fd, newIdHashKeyText());
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, path);
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
    }
  } catch (err) {
    throw fsError(err, "create the id-hash key file", dir);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  }
  const created = readKey(path);
  if (!created) throw unreadable(path);
  return created;
}

function readKey(path: string): Buffer | undefined {
  let text: string;
  try {
    // Like any key file: one another user could write would let them choose the key.
    text = readPrivateFileSync(path, SECRET_FILE_RULE).toString("utf8");
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    if (err instanceof UntrustedFileError) {
      throw new SessionError("unavailable", `the id-hash key file ${path} ${err.message}`, {
        reason: "STORAGE_UNAVAILABLE",
      });
    }
    throw fsError(err, "read the id-hash key file", path);
  }
  const key = parseIdHashKeyText(text);
  if (!key) throw unreadable(path);
  return key;
}

function unreadable(path: string): SessionError {
  return new SessionError(
    "unavailable",
    `the id-hash key file ${path} does not hold a key (hex or base64 of at least 32 bytes); restore it, or delete it to start over (every stored session is then lost)`,
    { reason: "STORAGE_UNAVAILABLE" },
  );
}
