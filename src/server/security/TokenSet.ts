import { createHash, timingSafeEqual } from "node:crypto";

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** A tokens file that cannot be used; the message names the line, never its content. */
export class TokenFileError extends Error {
  override readonly name = "TokenFileError";
}

/** RFC 6750 b64token: what fits after "Bearer " in one header value. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MIN_TOKEN_LENGTH = 16;

interface Entry {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

/**
 * The callers a tokens file lets in. Only SHA-256 digests are kept, and a lookup compares
 * the presented token's digest with every entry in constant time, so neither the memory
 * of the process nor the time an answer takes tells anything about a token.
 */
export class TokenSet {
  readonly #entries: Entry[];

  private constructor(entries: Entry[]) {
    this.#entries = entries;
  }

  get size(): number {
    return this.#entries.length;
  }

  /**
   * Parses a tokens file: `TOKEN scope[,scope…]` per line, `#` to the end of a line is a
   * comment, blank lines are skipped. Throws TokenFileError at the first bad line.
   */
  static parse(text: string): TokenSet {
    const entries: Entry[] = [];
    const lines = text.split(/\r?\n/);
    for (const [index, rawLine] of lines.entries()) {
      const line = (rawLine.split("#", 1)[0] as string).trim();
      if (line === "") continue;
      const at = `line ${index + 1}`;
      const fields = line.split(/\s+/);
      if (fields.length !== 2) {
        throw new TokenFileError(
          `${at}: expected a token and its comma-separated scopes, such as "TOKEN read,write"`,
        );
      }
      const [token, scopeList] = fields as [string, string];
      if (!TOKEN.test(token) || token.length < MIN_TOKEN_LENGTH) {
        throw new TokenFileError(
          `${at}: a token must be at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (then = padding), e.g. from \`openssl rand -hex 32\``,
        );
      }
      const scopes = new Set<Scope>();
      for (const scope of scopeList.split(",")) {
        if (!(SCOPES as readonly string[]).includes(scope)) {
          throw new TokenFileError(`${at}: scopes are comma-separated read, write and admin`);
        }
        scopes.add(scope as Scope);
      }
      const digest = sha256(token);
      if (entries.some((entry) => entry.digest.equals(digest))) {
        throw new TokenFileError(`${at}: this token is already listed on an earlier line`);
      }
      entries.push({ digest, scopes });
    }
    if (entries.length === 0) {
      throw new TokenFileError("no token in it: every call would be refused");
    }
    return new TokenSet(entries);
  }

  /** The scopes of `token`, or undefined when it is not listed. */
  scopesOf(token: string): ReadonlySet<Scope> | undefined {
    return this.find(token)?.scopes;
  }

  /**
   * The entry of `token`: its scopes, and its SHA-256 digest (hex) as the caller's identity
   * (the same token is the same caller across reloads); undefined when it is not listed.
   */
  find(token: string): { scopes: ReadonlySet<Scope>; digest: string } | undefined {
    const digest = sha256(token);
    let found: Entry | undefined;
    // No early exit: every entry is compared whatever matched.
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, digest)) found = entry;
    }
    return found && { scopes: found.scopes, digest: found.digest.toString("hex") };
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
