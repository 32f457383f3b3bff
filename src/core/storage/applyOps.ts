import { assignKey, type JsonValue, jsonByteLength, ownValue, type SessionData } from "../json.js";
import { type Limits, sizeRefusal } from "../Limits.js";
import { type Refusal, refusalError, type ValueKind } from "../Refusal.js";
import { SessionError } from "../SessionError.js";
import type { Delta, Expiry, Op } from "./Storage.js";

export interface Applied {
  data: SessionData;
  incremented: Record<string, number>;
}

/** What a write decides: its result, or the refusal (thrown by the caller as refusalError). */
export type Outcome<T> = ({ ok: true } & T) | { ok: false; refusal: Refusal };

/** The outcome's result, or its refusal thrown: the one place a refusal becomes an error. */
export function accepted<T extends object>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw refusalError(outcome.refusal);
  return outcome;
}

/**
 * A delta against a session held as one value (a file, an encrypted Redis storage's
 * decrypted document): the expected-version check, then the ops on a copy of `data`, then the
 * limits on the result, so a caller that writes only what this accepts never writes a
 * partial or oversize session. A missing session is `{}` at version 0.
 */
export function applyDelta(
  data: SessionData,
  version: number,
  delta: Delta,
  limits: Limits,
): Outcome<Applied> {
  const conflict = versionRefusal(delta.expectedVersion, version);
  if (conflict) return { ok: false, refusal: conflict };
  return tryApplyOps(data, delta.ops, limits);
}

/**
 * Applies ops to a copy of `data`, in order; with `limits`, the result is checked
 * against them too.
 */
export function tryApplyOps(
  data: SessionData,
  ops: readonly Op[],
  limits?: Limits,
): Outcome<Applied> {
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
        const next = increment(ownValue(out, op.key), op.key, op.delta);
        if (typeof next !== "number") return { ok: false, refusal: next };
        assignKey(out, op.key, next);
        assignKey(incremented, op.key, next);
        break;
      }
    }
  }
  const refusal = limits && sizeRefusal(Object.keys(out).length, sessionBytes(out), limits);
  if (refusal) return { ok: false, refusal };
  return { ok: true, data: out, incremented };
}

/**
 * tryApplyOps with the refusal thrown: the exported form for storage authors, and what
 * Session calls without limits to show a request its own pending changes.
 */
export function applyOps(data: SessionData, ops: readonly Op[], limits?: Limits): Applied {
  const { data: out, incremented } = accepted(tryApplyOps(data, ops, limits));
  return { data: out, incremented };
}

/** The refusal of a delta expecting `expected` by a session at `actual`, if it is one. */
export function versionRefusal(expected: number | undefined, actual: number): Refusal | undefined {
  if (expected === undefined || expected === actual) return undefined;
  return { kind: "version", expected, actual };
}

/** An increment's result: the new number, or why it is refused. Absent counts as 0. */
export function increment(
  current: JsonValue | undefined,
  key: string,
  delta: number,
): number | Refusal {
  const base = current === undefined ? 0 : current;
  if (typeof base !== "number") return { kind: "notNumber", key, holds: kindOf(base) };
  const next = base + delta;
  if (!Number.isFinite(next)) return { kind: "overflow", key };
  // -0 (from -0 + -0) is 0: JSON has no -0, and every storage answers alike (see Op).
  return next === 0 ? 0 : next;
}

function kindOf(value: JsonValue): ValueKind {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value as ValueKind;
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
