import { SessionError } from "../../core/SessionError.js";

/**
 * Replies that prove the command was not executed and that a later try may succeed: a
 * fail-over or re-shard in progress, a node loading its data or running a long script,
 * a replica that was just demoted. sessiond retries these within the call's deadline.
 */
const NOT_EXECUTED_RETRY = /^(READONLY|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|BUSY|NOSCRIPT)\b/;
/** Replies that prove the command was not executed, where retrying at once would not help. */
const NOT_EXECUTED_FINAL = /^(OOM|NOREPLICAS|NOAUTH|WRONGPASS|NOPERM)\b/;

/**
 * What ioredis says when it cannot reach a node (its own errors carry no code). Anything
 * else thrown from inside ioredis (a RangeError from a call stack overflow, a TypeError)
 * is a bug, and reporting it as UNAVAILABLE would tell clients to retry into it.
 */
const UNREACHABLE =
  /Connection is closed|Stream isn't writeable|Node is disconnected|Command timed out|Socket timeout|sentinel/i;

/** What a failed try tells the retry loop in RedisConnection. */
export type Failure =
  | { kind: "moved" | "ask"; slot: number; address: string }
  /** Not executed; worth another try after a pause. */
  | { kind: "retry" }
  /** Not executed; final. */
  | { kind: "refused" }
  /** Sent, then no reply: it may have run. */
  | { kind: "unknown" }
  | { kind: "bug" };

export function classify(err: unknown): Failure {
  if (err instanceof NotSentError) return { kind: "refused" };
  if (err instanceof DeadlineError || err instanceof NotReplicatedError) return { kind: "unknown" };
  if (!(err instanceof Error)) return { kind: "bug" };
  if (err.name === "ReplyError") {
    const redirect = /^(MOVED|ASK) (\d+) (\S+)/.exec(err.message);
    if (redirect) {
      const slot = Number(redirect[2]);
      if (slot < 16384) {
        const kind = redirect[1] === "MOVED" ? "moved" : "ask";
        return { kind, slot, address: redirect[3] as string };
      }
    }
    if (NOT_EXECUTED_RETRY.test(err.message)) return { kind: "retry" };
    if (NOT_EXECUTED_FINAL.test(err.message)) return { kind: "refused" };
    return { kind: "bug" };
  }
  // ioredis refuses to queue a command while the socket is not writable: never sent.
  if (/Stream isn't writeable/.test(err.message)) return { kind: "refused" };
  // Socket errors (ECONNRESET, EPIPE, ...) carry a code; AbortError and friends are outages.
  if (typeof (err as { code?: unknown }).code === "string") return { kind: "unknown" };
  if (/^(AbortError|MaxRetriesPerRequestError|InterruptError)$/.test(err.name)) {
    return { kind: "unknown" };
  }
  return UNREACHABLE.test(err.message) ? { kind: "unknown" } : { kind: "bug" };
}

/** A command sessiond decided not to send (the node is known to be down): not applied. */
export class NotSentError extends Error {
  override readonly name = "NotSentError";
}

/** A call's deadline passed with its command sent and unanswered: it may have run. */
export class DeadlineError extends Error {
  override readonly name = "DeadlineError";
}

/** A write that ran on the master but that too few replicas confirmed. */
export class NotReplicatedError extends Error {
  override readonly name = "NotReplicatedError";
}

export const NOT_APPLIED = "not applied";
export const MAYBE_APPLIED = "may have been applied";

/**
 * The UNAVAILABLE a caller sees, saying what is down and, for a write, whether it was
 * applied: "not applied" only when sessiond knows the command never ran.
 */
export function unavailable(detail: string, applied: "no" | "maybe", write: boolean): SessionError {
  const suffix = write ? `; ${applied === "no" ? NOT_APPLIED : MAYBE_APPLIED}` : "";
  // A read that may have run changed nothing a retry could double.
  const reason = write && applied === "maybe" ? "WRITE_OUTCOME_UNKNOWN" : "STORAGE_UNAVAILABLE";
  return new SessionError("unavailable", `redis unavailable: ${detail}${suffix}`, { reason });
}

/** Maps anything ioredis throws to a SessionError; a bug in a script becomes `internal`. */
export function toSessionError(err: unknown, where = "", write = false): SessionError {
  if (err instanceof SessionError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const failure = classify(e);
  if (e instanceof NotReplicatedError) {
    // Applied on the master, unconfirmed by replicas: it may be lost in a fail-over.
    return new SessionError("unavailable", `redis unavailable: ${e.message}`, {
      cause: e,
      reason: "WRITE_OUTCOME_UNKNOWN",
    });
  }
  const on = where ? `${where}: ` : "";
  switch (failure.kind) {
    case "bug":
      return new SessionError("internal", "internal error", { cause: e });
    case "unknown": {
      const error = unavailable(`${on}${describe(e)}`, "maybe", write);
      return new SessionError(error.code, error.message, { cause: e, reason: error.reason });
    }
    default: {
      const error = unavailable(`${on}${describe(e)}`, "no", write);
      return new SessionError(error.code, error.message, { cause: e, reason: error.reason });
    }
  }
}

/**
 * ioredis' own words where they would mislead an operator: with retries off (sessiond
 * retries itself), a connection that closes under in-flight commands rejects them with
 * "Reached the max retries per request limit", which reads like a setting to raise, and
 * one not open refuses with "Stream isn't writeable and enableOfflineQueue options is
 * false", which reads like an option to turn on.
 */
function describe(e: Error): string {
  if (e.name === "MaxRetriesPerRequestError") {
    return "the connection closed while the command awaited its reply";
  }
  if (/Stream isn't writeable/.test(e.message)) return "the connection is not open";
  return e.message;
}
