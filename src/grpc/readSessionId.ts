import { SessionError } from "../core/SessionError.js";
import { assertValidSessionId } from "../core/session/ids.js";

/**
 * Request metadata as every Node gRPC framework can hand it over: grpc-js's `Metadata`
 * (NestJS passes that one) fits as it is; nice-grpc's is `{ get: (k) => md.getAll(k) }`.
 * Structural, so reading an id loads no gRPC library.
 */
export interface RequestMetadata {
  get(key: string): readonly (string | Uint8Array)[];
}

/**
 * The caller's session id: the metadata entry `key`, or when that is absent, the cookie
 * named `key` in a `cookie` entry. undefined = the caller has no session yet. A malformed
 * id throws invalid_argument naming which carried it ('malformed session id in cookie
 * "x-session-id": …'). An empty cookie counts as absent, because that is how HTTP
 * clears a cookie; an empty metadata entry is malformed, as the Manager says.
 *
 * Two cookies with that name are refused like two metadata entries: a browser sends both
 * when another site on a parent domain or path sets one too (cookie tossing), and taking
 * either would let that site choose the session its victim uses.
 */
export function readSessionId(metadata: RequestMetadata, key: string): string | undefined {
  const values = metadata.get(key);
  if (values.length === 1) {
    const id = values[0];
    assertValidSessionId(id, `metadata "${key}"`);
    return id;
  }
  if (values.length > 1) {
    throw new SessionError("invalid_argument", `more than one "${key}" metadata entry`, {
      reason: "MALFORMED_SESSION_ID",
    });
  }
  const cookies = metadata.get("cookie");
  if (cookies.length === 0) return undefined;
  const found = cookieValues(cookies, key);
  if (found.length > 1) {
    throw new SessionError("invalid_argument", `more than one "${key}" cookie`, {
      reason: "MALFORMED_SESSION_ID",
    });
  }
  const id = found[0];
  if (id === undefined || id === "") return undefined;
  assertValidSessionId(id, `cookie "${key}"`);
  return id;
}

/** The values of every cookie named `name` across all `cookie` entries ("a=1; b=2"). */
function cookieValues(entries: readonly (string | Uint8Array)[], name: string): string[] {
  const values: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== "string") continue;
    for (const pair of entry.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
      const value = pair.slice(eq + 1).trim();
      // RFC 6265 allows a cookie value in double quotes.
      values.push(
        value.length >= 2 && value.startsWith('"') && value.endsWith('"')
          ? value.slice(1, -1)
          : value,
      );
    }
  }
  return values;
}
