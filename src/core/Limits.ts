import { integerOption } from "./integerOption.js";
import { type Refusal, refusalError } from "./Refusal.js";
import { SessionError } from "./SessionError.js";
import type { SettingNames } from "./settingNames.js";

/** Bounds on what one session may hold, and on what one commit may ask of the storage. Sizes are UTF-8 bytes of the JSON text. */
export interface Limits {
  /** Longest key, in bytes. Exceeding it is invalid_argument. */
  maxKeyBytes: number;
  /** Largest single value, as JSON. Exceeding it is resource_exhausted. */
  maxValueBytes: number;
  /** Most keys in one session. Exceeding it is resource_exhausted. */
  maxKeys: number;
  /** Largest session: sum over keys of key bytes + value JSON bytes. resource_exhausted. */
  maxSessionBytes: number;
  /**
   * Most operations (sets, removes, increments, clears) one commit may carry, checked as they
   * are queued: a request can never make the storage do work beyond this. resource_exhausted.
   */
  maxOps: number;
}

export const defaultLimits: Limits = Object.freeze({
  maxKeyBytes: 256,
  maxValueBytes: 64 * 1024,
  maxKeys: 1024,
  maxSessionBytes: 1024 * 1024,
  // As many as maxKeys: a SetMap of more keys than a session may hold cannot succeed anyway.
  maxOps: 1024,
});

export function resolveLimits(partial?: Partial<Limits>): Limits {
  const limits = { ...defaultLimits, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    integerOption(`limits.${name}`, value, { min: 1, fallback: 0 });
  }
  return limits;
}

/**
 * Checks the merged size of a session against maxKeys and maxSessionBytes. Storages call
 * this on the would-be result of a delta, before anything is written, so that a rejected
 * delta leaves nothing partial behind.
 */
export function checkSessionSize(keyCount: number, bytes: number, limits: Limits): void {
  const refusal = sizeRefusal(keyCount, bytes, limits);
  if (refusal) throw refusalError(refusal);
}

/** maxKeys and maxSessionBytes on a would-be session, keys first. */
export function sizeRefusal(keys: number, bytes: number, limits: Limits): Refusal | undefined {
  if (keys > limits.maxKeys) return { kind: "tooManyKeys", keys, maxKeys: limits.maxKeys };
  if (bytes > limits.maxSessionBytes) {
    return { kind: "tooManyBytes", bytes, maxSessionBytes: limits.maxSessionBytes };
  }
  return undefined;
}

/**
 * Refuses the op that would take one commit past maxOps, before anything is queued.
 * `names`: where a deployer sets maxOps, for the message (see settingNames.ts).
 */
export function checkOpCount(
  queued: number,
  adding: number,
  limits: Limits,
  names?: SettingNames,
): void {
  if (queued + adding > limits.maxOps) {
    const where = names?.maxOps;
    const carry = queued + adding;
    throw new SessionError(
      "resource_exhausted",
      where === undefined
        ? `one commit may carry at most maxOps=${limits.maxOps} operations, this one would carry ${carry}`
        : `one commit may carry at most ${limits.maxOps} operations, this one would carry ${carry}: the limit is set by ${where}`,
      {
        reason: "TOO_MANY_OPS",
        metadata: { ops: String(queued + adding), maxOps: String(limits.maxOps) },
      },
    );
  }
}
