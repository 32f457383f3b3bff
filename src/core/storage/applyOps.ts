import { assignKey, type JsonValue, jsonByteLength, ownValue, type SessionData } from "../json.js";
import { checkSessionSize, type Limits } from "../Limits.js";
import { SessionError } from "../SessionError.js";
import type { Expiry, Op } from "./Storage.js";

export interface Applied {
  data: SessionData;
  incremented: Record<string, number>;
}

/**
 * Applies ops to a copy of `data`, in order. Storages that hold a session as one value
 * (memory, file) use this under their per-session lock; Session uses it to show a request
 * its own pending changes. With `limits`, the result is checked before it is returned, so
 * a caller that writes only what this returns never writes a partial or oversize session.
 */
export function applyOps(data: SessionData, ops: readonly Op[], limits?: Limits): Applied {
  const out: SessionData = { ...data };
  const incremented: Record<string, number> = {};
  for (const op of ops) {
    switch (op.type) {
      case "set":
        assignKey(out, op.key, op.value);
        break;
      case "remove":
        delete out[op.key];
        break;
      case "clear":
        for (const key of Object.keys(out)) delete out[key];
        break;
      case "increment": {
        const next = incrementValue(ownValue(out, op.key), op.key, op.delta);
        assignKey(out, op.key, next);
        assignKey(incremented, op.key, next);
        break;
      }
    }
  }
  if (limits) checkSessionSize(Object.keys(out).length, sessionBytes(out), limits);
  return { data: out, incremented };
}

export function incrementValue(current: JsonValue | undefined, key: string, delta: number): number {
  const base = current === undefined ? 0 : current;
  if (typeof base !== "number") {
    throw new SessionError(
      "failed_precondition",
      `cannot increment key "${key}": it holds a ${Array.isArray(base) ? "array" : base === null ? "null" : typeof base}, not a number`,
    );
  }
  const next = base + delta;
  if (!Number.isFinite(next)) {
    throw new SessionError("failed_precondition", `incrementing key "${key}" would overflow`);
  }
  return next;
}

/** The size the maxSessionBytes limit counts: key bytes plus value JSON bytes. */
export function sessionBytes(data: SessionData): number {
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    total += Buffer.byteLength(key, "utf8") + jsonByteLength(value);
  }
  return total;
}

/**
 * Storages check what they compute expiry and versions from: a NaN TTL would make a
 * session that never expires, a fractional expected version one that never matches.
 */
export function assertExpiry(expiry: Expiry): void {
  if (!Number.isSafeInteger(expiry.ttlMs) || expiry.ttlMs <= 0) {
    throw new SessionError(
      "invalid_argument",
      `ttlMs must be a positive integer, got ${expiry.ttlMs}`,
    );
  }
  const max = expiry.maxLifetimeMs;
  if (max !== undefined && (!Number.isSafeInteger(max) || max <= 0)) {
    throw new SessionError(
      "invalid_argument",
      `maxLifetimeMs must be a positive integer, got ${max}`,
    );
  }
}

export function assertExpectedVersion(expected: number | undefined): void {
  if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
    throw new SessionError(
      "invalid_argument",
      `expected version must be a non-negative integer, got ${expected}`,
    );
  }
}
