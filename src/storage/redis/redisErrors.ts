import { SessionError } from "../../common/SessionError.js";

/**
 * Redis replies that mean "not now, try again": a fail-over in progress, a node still
 * loading its data, a cluster re-sharding, a full memory, a script cache emptied by a
 * restart (ioredis reloads it on the next call). Everything that is not a reply
 * (refused connection, closed socket, timeout) is also a reachability problem.
 */
const TRANSIENT_REPLY =
  /^(READONLY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS|BUSY|OOM|MOVED|ASK|NOSCRIPT)\b/;

/** Maps anything ioredis throws to a SessionError; a bug in a script becomes `internal`. */
export function toSessionError(err: unknown): SessionError {
  if (err instanceof SessionError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  if (e.name === "ReplyError" && !TRANSIENT_REPLY.test(e.message)) {
    return new SessionError("internal", "internal error", { cause: e });
  }
  return new SessionError("unavailable", `redis unavailable: ${e.message}`, { cause: e });
}
