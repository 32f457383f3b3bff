/** Parsers of the at-rest secrets: the id-hash key file and the encryption keys. */
import { parseIdHashKeyText } from "../core/storage/idHashKeyText.js";
import { SECRET_FILE_RULE } from "../file/permissionProblem.js";
import { readPrivateFileSync, UntrustedFileError } from "../file/readPrivateFile.js";
import { parseKey32, ValueError } from "./parsers.js";

function readSecretFile(raw: string, what: string): string {
  const path = raw.trim();
  try {
    return readPrivateFileSync(path, SECRET_FILE_RULE).toString("utf8");
  } catch (err) {
    if (err instanceof UntrustedFileError) {
      throw new ValueError(
        `a file holding ${what} that no other user can change, but ${path} ${err.message}`,
      );
    }
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ValueError(`a readable file holding ${what} (reading it failed: ${code})`);
  }
}

/** A file holding one key of at least 32 bytes, hex or base64 (`openssl rand -hex 32`). */
export function parseIdHashKeyFile(raw: string): Buffer {
  const key = parseIdHashKeyText(readSecretFile(raw, "the id-hash key"));
  if (!key) {
    throw new ValueError(
      "a file holding one key of at least 32 bytes as hex or base64 (e.g. from `openssl rand -hex 32`)",
    );
  }
  return key;
}

/** Comma-separated 32-byte keys (hex or base64), the one that encrypts first. */
export function parseKeyList(raw: string): Buffer[] {
  const items = raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  if (items.length === 0) throw new ValueError("a comma-separated list of 32-byte keys");
  return items.map((item, i) => parseKeyAt(item, `in every position (key ${i + 1} is not)`));
}

/** A file of 32-byte keys, one a line, the one that encrypts first; `#` starts a comment. */
export function parseKeyFile(raw: string): Buffer[] {
  const lines = readSecretFile(raw, "encryption keys")
    .split("\n")
    .map((line, i) => ({ text: line.replace(/#.*$/, "").trim(), line: i + 1 }))
    .filter(({ text }) => text !== "");
  if (lines.length === 0) {
    throw new ValueError("a file of 32-byte keys, one a line (it holds none)");
  }
  return lines.map(({ text, line }) => parseKeyAt(text, `on every line (line ${line} is not)`));
}

/** One key of a list, its refusal saying which entry failed. */
function parseKeyAt(text: string, where: string): Buffer {
  try {
    return parseKey32(text);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    throw new ValueError(`${err.message} ${where}`);
  }
}
