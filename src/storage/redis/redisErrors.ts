import { SessionError } from "../../common/SessionError.js";

/**
 * Redis replies that mean "not now, try again": a fail-over in progress, a node still
 * loading its data, a cluster re-sharding, a full memory, a script cache emptied by a
 * restart (ioredis reloads it on the next call).
 */
const TRANSIENT_REPLY =
  /^(READONLY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS|BUSY|OOM|MOVED|ASK|NOSCRIPT)\b/;

/**
 * What ioredis says when it cannot reach a node (its own errors carry no code). Anything
 * else thrown from inside ioredis (a RangeError from a call stack overflow, a TypeError)
 * is a bug, and reporting it as UNAVAILABLE would tell clients to retry into it.
 */
const UNREACHABLE =
  /Connection is closed|Stream isn't writeable|Cluster is disconnect|Cluster isn't ready|Node is disconnected|None of startup nodes|Too many Cluster redirections|Command timed out|Socket timeout|sentinel|same slot/i;

/** Maps anything ioredis throws to a SessionError; a bug in a script becomes `internal`. */
export function toSessionError(err: unknown): SessionError {
  if (err instanceof SessionError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  if (isUnreachable(e)) {
    return new SessionError("unavailable", `redis unavailable: ${e.message}`, { cause: e });
  }
  return new SessionError("internal", "internal error", { cause: e });
}

function isUnreachable(e: Error): boolean {
  if (e.name === "ReplyError") return TRANSIENT_REPLY.test(e.message);
  // Socket errors (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, TLS failures) carry a code;
  // ioredis' AbortError, MaxRetriesPerRequestError and ClusterAllFailedError are outages too.
  if (typeof (e as { code?: unknown }).code === "string") return true;
  if (/^(AbortError|MaxRetriesPerRequestError|ClusterAllFailedError|InterruptError)$/.test(e.name))
    return true;
  return UNREACHABLE.test(e.message);
}
