import { ConfigError } from "../../core/ConfigError.js";
import { SessionError } from "../../core/SessionError.js";
import { idFamily } from "../../core/storage/idFamily.js";
import { SAFE_ID } from "../../core/storage/safeId.js";
import { DEFAULT_PREFIX } from "../defaults.js";

/**
 * Key names. Every key of one session carries its id's family (the first characters, see
 * idFamily.ts) as the Redis Cluster hash tag: `<prefix>{<family>}<id>`. A session's keys
 * share one slot, and so do a session and the one it is regenerated into, so one script
 * may touch all of them.
 * A future per-user index will live under `<prefix>user:{<user>}`, a different slot,
 * and must never be touched by the same script as a session key.
 */
export class SessionKeys {
  constructor(readonly prefix: string = DEFAULT_PREFIX) {
    assertValidPrefix(prefix);
  }

  /** RedisStorage: one string per session. */
  kv(id: string): string {
    return `${this.prefix}{${idFamily(checkId(id))}}${id}`;
  }

  /** RedisHashStorage: one hash per session. */
  hash(id: string): string {
    return `${this.prefix}{${idFamily(checkId(id))}}${id}:hash`;
  }

  /**
   * A session's request records (see Idempotency): a hash, record key -> record, beside
   * the session in its slot, expiring on its own so that it outlives a destroy.
   */
  requests(id: string): string {
    return `${this.prefix}{${idFamily(checkId(id))}}${id}:req`;
  }

  /**
   * The record of a create, found by the request key alone (a retry creates under another
   * id); in the slot of the new id's family, which the request key decides.
   */
  createRecord(id: string, requestKey: string): string {
    return `${this.prefix}{${idFamily(checkId(id))}}req:${checkId(requestKey)}`;
  }
}

/** A brace in the prefix would move the hash tag off the id and pile sessions onto one slot. */
export function assertValidPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string" || /[{}\s]/.test(prefix) || prefix.length > 64) {
    throw new ConfigError(
      `must be a string of at most 64 characters without braces or spaces, got ${JSON.stringify(prefix)}`,
      "prefix",
    );
  }
}

/** Defence in depth: ids arrive validated, but nothing odd may reach a key name. */
function checkId(id: string): string {
  if (!SAFE_ID.test(id)) {
    throw new SessionError("invalid_argument", "malformed session id: refused by redis storage", {
      reason: "MALFORMED_SESSION_ID",
    });
  }
  return id;
}
