import type { RequestRecord } from "../storage/requestRecords.js";

/** A request record in memory: kept apart from sessions, so it outlives a destroy. */
export interface HeldRecord extends RequestRecord {
  /** Its scope: the session it was written for, or CREATES (the per-scope cap counts by it). */
  owner: string;
  /** What it is charged against maxTotalBytes. */
  cost: number;
}

/** The scope of create records: never a session id (ids are [0-9A-Za-z_-]). */
export const CREATES = "\0creates";

/**
 * A record's name in MemoryStorage's #requests: records of different scopes never meet
 * (see Idempotency).
 */
export function recordName(scope: string, key: string): string {
  return `${scope}/${key}`;
}

/** What a request record is charged (keys, fingerprint, result and Map entry, roughly). */
export const RECORD_COST = 400;
