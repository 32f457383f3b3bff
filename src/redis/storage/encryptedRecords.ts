import { assignKey } from "../../core/json.js";
import { SessionError } from "../../core/SessionError.js";
import {
  isRecordedCode,
  parseRecords,
  type RequestRecord,
} from "../../core/storage/requestRecords.js";

/**
 * Request records of the encrypted Redis storages: SessionEngine's RequestRecord as JSON,
 * sealed (bound to the records key and the request key: a record opens under no other
 * name), stored as `{"e":<expiry ms>,"x":"<sealed>"}` so that Lua can drop expired ones
 * and prune to the cap without opening anything. The sealed record's own expiry is the one
 * that counts; the clear one only lets Redis drop it.
 *
 * Records of the previous version (the plain scripts' format, `{f,e,s,r:[reply...]}`, with
 * a refusal's words and an apply's increments sealed under RECORD_AAD_V1) still replay for
 * their window, so that an upgrade loses no retry.
 */
const RECORD_AAD = "sessiond-redis/2 request ";
const RECORD_AAD_V1 = "sessiond-redis/1 request ";

/** Seals and opens text for associated data (EncryptedRedisStore's ring). */
export interface Sealer {
  seal(plain: string, aad: string): string;
  /** Fails the call as internal (logged) when it does not open. */
  open(stored: string, aad: string): string;
}

/** `record` as stored under `records` (the hash) and `key` (its field). */
export function sealRecord(
  sealer: Sealer,
  records: string,
  key: string,
  record: RequestRecord,
): string {
  const x = sealer.seal(JSON.stringify(record), aad(RECORD_AAD, records, key));
  return JSON.stringify({ e: record.e, x });
}

/** A stored record (either format) as a RequestRecord; malformed ones fail as internal. */
export function openRecord(
  sealer: Sealer,
  records: string,
  key: string,
  raw: string,
): RequestRecord {
  let stored: unknown;
  try {
    stored = JSON.parse(raw);
  } catch {
    throw malformed("a request record is not JSON");
  }
  if (typeof stored !== "object" || stored === null)
    throw malformed("a request record is malformed");
  const { x, f, e, s, r } = stored as Record<string, unknown>;
  if (typeof x === "string") {
    const text = sealer.open(x, aad(RECORD_AAD, records, key));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // The in-process storages' reader: it keeps only what a RequestRecord may hold.
    const record = parseRecords({ [key]: parsed })?.[key];
    if (record === undefined) throw malformed("a sealed request record is malformed");
    return record;
  }
  if (typeof f !== "string" || !Array.isArray(r)) throw malformed("a request record is malformed");
  const record: RequestRecord = { f, e: Number(e) };
  if (typeof s === "string" && s !== "") record.s = s;
  const v1 = (sealed: unknown) =>
    typeof sealed === "string" ? sealer.open(sealed, aad(RECORD_AAD_V1, records, key)) : "";
  const [tag, a, b, c, ...tail] = r as unknown[];
  if (tag === "refused") {
    if (!isRecordedCode(a)) throw malformed("a request record's refusal is malformed");
    record.err = [a, v1(b)];
  } else if (tag === "ok" && a === undefined) {
    // A destroy's.
    record.ok = {};
  } else if (tag === "ok") {
    // An apply's (its increments sealed, or as the plain scripts' pairs) or a regenerate's.
    record.ok = { ...meta(a, b, c), incremented: increments(tail, v1) };
  } else if (r.length === 3) {
    // A touch's: {version, createTime, expireTime}.
    record.ok = meta(tag, a, b);
  } else throw malformed("a request record's reply is malformed");
  return record;
}

function aad(prefix: string, records: string, key: string): string {
  return `${prefix}${records}\n${key}`;
}

function meta(version: unknown, createTime: unknown, expireTime: unknown) {
  return {
    version: Number(version),
    createTime: Number(createTime),
    expireTime: Number(expireTime),
  };
}

/** An old apply record's increments: one sealed list of pairs, or clear key, value pairs. */
function increments(tail: unknown[], open: (sealed: unknown) => string): Record<string, number> {
  let pairs: unknown = [];
  if (tail.length === 1) {
    try {
      pairs = JSON.parse(open(tail[0]));
    } catch {
      pairs = undefined;
    }
  } else {
    const list: unknown[] = [];
    for (let i = 0; i + 1 < tail.length; i += 2) list.push([tail[i], Number(tail[i + 1])]);
    pairs = list;
  }
  const out: Record<string, number> = {};
  if (!Array.isArray(pairs)) throw malformed("a request record's increments are malformed");
  for (const pair of pairs) {
    const [k, v] = Array.isArray(pair) ? pair : [];
    if (typeof k !== "string" || typeof v !== "number") {
      throw malformed("a request record's increments are malformed");
    }
    assignKey(out, k, v);
  }
  return out;
}

/** Stored text that does not parse is a bug or tampering, never the caller's fault. */
export function malformed(what: string): SessionError {
  return new SessionError("internal", "internal error", {
    cause: new Error(`redis storage: ${what}`),
  });
}
