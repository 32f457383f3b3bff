import { createHash, timingSafeEqual } from "node:crypto";
import { MIN_TOKEN_LENGTH, BEARER_TOKEN as TOKEN } from "../../protocol/bearerToken.js";

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** A tokens file that cannot be used; the message names the line, never its content. */
export class TokenFileError extends Error {
  override readonly name = "TokenFileError";
}

interface Entry {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

/** A line that does not parse. `entry` is what it still says, when its token is well-formed. */
interface BadLine {
  error: string;
  entry: Entry | undefined;
}

/** Every line of a tokens file, good or bad (see TokenSet.scan). */
export interface TokenScan {
  good: TokenSet;
  /** The bad lines' messages ("line 3: …"), in file order; they never hold a token. */
  errors: string[];
  /** Every token the file names, on a good or a bad line, with the scopes all its lines agree on. */
  named: Map<string, ReadonlySet<Scope>>;
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

  /** No token: every call that needs one is refused. */
  static readonly EMPTY = new TokenSet([]);

  get size(): number {
    return this.#entries.length;
  }

  /**
   * Parses a tokens file: `TOKEN scope[,scope…]` per line, `#` to the end of a line is a
   * comment, blank lines are skipped. Throws TokenFileError at the first bad line, and
   * when no line holds a token.
   */
  static parse(text: string): TokenSet {
    const scan = TokenSet.scan(text);
    if (scan.errors.length > 0) throw new TokenFileError(scan.errors[0] as string);
    if (scan.good.size === 0) {
      throw new TokenFileError("no token in it: every call would be refused");
    }
    return scan.good;
  }

  /** Reads every line, bad ones included, for a reload that must decide what stays valid. */
  static scan(text: string): TokenScan {
    const good: Entry[] = [];
    const errors: string[] = [];
    const named = new Map<string, Set<Scope>>();
    const name = (entry: Entry) => {
      const key = entry.digest.toString("hex");
      const earlier = named.get(key);
      // A token listed twice gets only what both of its lines give it.
      named.set(
        key,
        earlier === undefined
          ? new Set(entry.scopes)
          : new Set([...earlier].filter((s) => entry.scopes.has(s))),
      );
    };
    for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
      const line = (rawLine.split("#", 1)[0] as string).trim();
      if (line === "") continue;
      const parsed = parseLine(line, `line ${index + 1}`);
      if ("error" in parsed) {
        errors.push(parsed.error);
        if (parsed.entry !== undefined) name(parsed.entry);
        continue;
      }
      if (named.has(parsed.digest.toString("hex"))) {
        errors.push(`line ${index + 1}: this token is already listed on an earlier line`);
      } else {
        good.push(parsed);
      }
      name(parsed);
    }
    return { good: new TokenSet(good), errors, named };
  }

  /**
   * What stays valid after a reload found bad lines (docs/security.md, "Tokens and
   * scopes"): a token stays only if it is in force now and the new file still names it,
   * on a good line or a bad one whose token is well-formed, and keeps only the scopes both
   * agree on. Nothing the operator removed, or added, takes effect before the file parses.
   */
  narrowedTo(scan: TokenScan): TokenSet {
    const kept: Entry[] = [];
    for (const entry of this.#entries) {
      const named = scan.named.get(entry.digest.toString("hex"));
      if (named === undefined) continue;
      const scopes = new Set([...entry.scopes].filter((s) => named.has(s)));
      if (scopes.size > 0) kept.push({ digest: entry.digest, scopes });
    }
    return new TokenSet(kept);
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

/**
 * One non-blank line: an entry, or the error and, when the first field is a well-formed
 * token, the entry with only the scopes the line spells correctly.
 */
function parseLine(line: string, at: string): Entry | BadLine {
  const fields = line.split(/\s+/);
  const token = fields[0] as string;
  const wellFormed = TOKEN.test(token) && token.length >= MIN_TOKEN_LENGTH;
  const known = fields
    .slice(1)
    .flatMap((field) => field.split(","))
    .filter((scope): scope is Scope => (SCOPES as readonly string[]).includes(scope));
  const bad = (error: string): BadLine => ({
    error: `${at}: ${error}`,
    entry: wellFormed ? { digest: sha256(token), scopes: new Set(known) } : undefined,
  });
  if (fields.length !== 2) {
    return bad('expected a token and its comma-separated scopes, such as "TOKEN read,write"');
  }
  if (!wellFormed) {
    return bad(
      `a token must be at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (then = padding), e.g. from \`openssl rand -hex 32\``,
    );
  }
  const scopes = new Set<Scope>();
  for (const scope of (fields[1] as string).split(",")) {
    if (!(SCOPES as readonly string[]).includes(scope)) {
      return bad("scopes are comma-separated read, write and admin");
    }
    scopes.add(scope as Scope);
  }
  return { digest: sha256(token), scopes };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
