import { checkOpCount } from "../../core/Limits.js";
import { SessionError } from "../../core/SessionError.js";
import { assertExpectedVersion, assertExpiry } from "../../core/storage/applyOps.js";
import { assertIdempotency } from "../../core/storage/requestRecords.js";
import type { ApplyOptions, Delta, Expiry, Idempotency } from "../../core/storage/Storage.js";

/** ARGV[1..2] of every script: the expiry, computed inside Redis with Redis' clock. */
export function expiryArgs(expiry: Expiry): string[] {
  assertExpiry(expiry);
  const max = expiry.maxLifetimeMs;
  return [String(expiry.ttlMs), max === undefined ? "" : String(max)];
}

/**
 * ARGV[1..6] of every write script: the expiry, then the request record
 * (../lua/lib/idempotency.lua).
 */
export function writeArgs(expiry: Expiry, idem: Idempotency | undefined): string[] {
  const args = expiryArgs(expiry);
  assertIdempotency(idem);
  if (idem === undefined) args.push("", "", "", "");
  else args.push(idem.key, idem.fingerprint, String(idem.windowMs), idem.sealedId ?? "");
  return args;
}

/**
 * ARGV of the apply scripts (layout documented in ../lua/lib/apply_ops.lua). Values go as the JSON
 * text Node produces, so Lua never re-encodes a user number.
 */
export function applyArgs(delta: Delta, options: ApplyOptions): string[] {
  const args = writeArgs(options, options.idempotency);
  const expected = delta.expectedVersion;
  assertExpectedVersion(expected);
  // Before any argument is built: the work below grows with the number of ops.
  checkOpCount(0, delta.ops.length, options.limits);
  args.push(
    options.mode,
    expected === undefined ? "" : String(expected),
    String(options.limits.maxKeys),
    String(options.limits.maxSessionBytes),
  );
  for (const op of delta.ops) {
    switch (op.type) {
      case "set":
        args.push("s", checkKey(op.key), JSON.stringify(op.value));
        break;
      case "remove":
        args.push("r", checkKey(op.key));
        break;
      case "increment":
        if (!Number.isFinite(op.delta)) {
          throw new SessionError(
            "invalid_argument",
            `increment of key "${op.key}" must be a finite number`,
          );
        }
        args.push("i", checkKey(op.key), String(op.delta));
        break;
      case "clear":
        args.push("c");
        break;
    }
  }
  return args;
}

/** The empty field holds redis-hash's metadata; keys are validated non-empty above us. */
export function checkKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new SessionError("invalid_argument", "key must be a non-empty string");
  }
  return key;
}
