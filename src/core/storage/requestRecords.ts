import { type ErrorReason, isErrorReason } from "../ErrorReason.js";
import { type Refusal, refusalError } from "../Refusal.js";
import { type ErrorCode, SessionError } from "../SessionError.js";
import { refusalOfText } from "./refusalOfText.js";
import type { Idempotency, Replay } from "./Storage.js";

/**
 * A request record as the in-process storages (memory, file) keep it: what the first
 * attempt of a request was answered. `ok` is the result without Replay fields; `r` a
 * refusal, as data, replayed through refusalError (so with its words and its reason);
 * `err` a refusal kept as code and text: one that is not a Refusal (the file storage's
 * disk budget, with its reason third), or any refusal in records written before refusals
 * were data, which still replay (read both, write `r`).
 */
export interface RequestRecord {
  /** Idempotency.fingerprint. */
  f: string;
  /** Expiry, ms since the epoch. */
  e: number;
  /** Idempotency.sealedId, when there was one. */
  s?: string;
  ok?: Record<string, unknown>;
  r?: Refusal;
  err?: [ErrorCode, string] | [ErrorCode, string, ErrorReason];
}

/** Refusals a record keeps: they describe the stored state, so a retry gets them again. */
const RECORDED: ReadonlySet<ErrorCode> = new Set([
  "aborted",
  "resource_exhausted",
  "failed_precondition",
]);

/** Whether a refusal with this code is one a record keeps (and so may replay). */
export function isRecordedCode(code: unknown): code is ErrorCode {
  return RECORDED.has(code as ErrorCode);
}

const HEX64 = /^[0-9a-f]{64}$/;
const SEALED = /^[0-9A-Za-z_-]{1,512}$/;

/** Storages check what they are handed (custom callers included) before using it. */
export function assertIdempotency(idem: Idempotency | undefined): void {
  if (idem === undefined) return;
  if (
    typeof idem.key !== "string" ||
    !HEX64.test(idem.key) ||
    typeof idem.fingerprint !== "string" ||
    !HEX64.test(idem.fingerprint) ||
    !Number.isSafeInteger(idem.windowMs) ||
    idem.windowMs <= 0 ||
    (idem.sealedId !== undefined &&
      (typeof idem.sealedId !== "string" || !SEALED.test(idem.sealedId)))
  ) {
    throw new SessionError(
      "invalid_argument",
      "idempotency needs a 64-hex key and fingerprint, a positive whole windowMs and a base64url sealedId",
    );
  }
}

/** The refusal for a request id presented with a different request. */
export function reusedRequestId(): SessionError {
  return refusalError({ kind: "requestIdReused" });
}

/** Whether a live record exists (then it decides the outcome). */
export function isLive(record: RequestRecord | undefined, now: number): record is RequestRecord {
  return record !== undefined && record.e > now;
}

/**
 * The answer a live record gives: the recorded result marked replayed, the recorded
 * refusal thrown again, or already_exists for another request under the same key.
 */
export function replay<T>(record: RequestRecord, idem: Idempotency): T & Replay {
  if (record.f !== idem.fingerprint) throw reusedRequestId();
  if (record.r !== undefined) throw refusalError(record.r);
  if (record.err !== undefined) throw textRefusal(record.err);
  // A copy: a caller changing what it got must not change what the next retry gets.
  const out = { ...copy(record.ok ?? {}), replayed: true } as T & Replay;
  if (record.s !== undefined) out.sealedId = record.s;
  return out;
}

/** A record of a result. */
export function recordOf(idem: Idempotency, now: number, ok: object): RequestRecord {
  const record: RequestRecord = { f: idem.fingerprint, e: now + idem.windowMs, ok: copy(ok) };
  if (idem.sealedId !== undefined) record.s = idem.sealedId;
  return record;
}

/** A record of a refusal, or undefined when `err` is not one a record keeps. */
export function refusalRecord(
  idem: Idempotency,
  now: number,
  err: unknown,
): RequestRecord | undefined {
  if (!(err instanceof SessionError) || !RECORDED.has(err.code)) return undefined;
  const record: RequestRecord = { f: idem.fingerprint, e: now + idem.windowMs };
  if (err.refusal !== undefined) record.r = copy(err.refusal) as Refusal;
  else if (err.reason !== undefined) record.err = [err.code, err.message, err.reason];
  else record.err = [err.code, err.message];
  return record;
}

/**
 * A refusal kept as text, as an error: its reason the one recorded with it, else the one
 * of the Refusal its words are (refusalOfText), else none.
 */
export function textRefusal([code, message, reason]: NonNullable<
  RequestRecord["err"]
>): SessionError {
  if (reason !== undefined) return new SessionError(code, message, { reason });
  const refusal = refusalOfText(code, message);
  return refusal === undefined ? new SessionError(code, message) : refusalError(refusal);
}

/**
 * Records of one session, oldest first, without expired ones and at most `max`: what a
 * storage keeps after adding one.
 */
export function pruneRecords(
  records: Record<string, RequestRecord>,
  now: number,
  max: number,
): Record<string, RequestRecord> {
  const live = Object.entries(records).filter(([, r]) => r.e > now);
  live.sort((a, b) => a[1].e - b[1].e);
  const out: Record<string, RequestRecord> = {};
  for (const [key, record] of live.slice(Math.max(0, live.length - max))) out[key] = record;
  return out;
}

/** A record read back from a file: anything malformed is dropped (treated as absent). */
export function parseRecords(value: unknown): Record<string, RequestRecord> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, RequestRecord> = {};
  for (const [key, r] of Object.entries(value as Record<string, unknown>)) {
    if (!HEX64.test(key) || typeof r !== "object" || r === null) continue;
    const { f, e, s, ok, r: refusal, err } = r as Record<string, unknown>;
    if (typeof f !== "string" || typeof e !== "number") continue;
    const record: RequestRecord = { f, e };
    if (typeof s === "string") record.s = s;
    if (typeof ok === "object" && ok !== null) record.ok = ok as Record<string, unknown>;
    if (isRefusal(refusal)) record.r = refusal;
    else if (Array.isArray(err) && isRecordedCode(err[0]) && typeof err[1] === "string") {
      record.err = isErrorReason(err[2]) ? [err[0], err[1], err[2]] : [err[0], err[1]];
    }
    out[key] = record;
  }
  return out;
}

/** The fields of each Refusal kind and their types: what a record read back must hold. */
const REFUSAL_FIELDS: Record<Refusal["kind"], Record<string, "number" | "string">> = {
  version: { expected: "number", actual: "number" },
  versionMissing: { expected: "number" },
  notNumber: { key: "string", holds: "string" },
  overflow: { key: "string" },
  tooManyKeys: { keys: "number", maxKeys: "number" },
  tooManyBytes: { bytes: "number", maxSessionBytes: "number" },
  memoryFull: { growth: "number", used: "number", maxTotalBytes: "number" },
  tooManySessions: { sessions: "number", maxSessions: "number" },
  requestIdReused: {},
};

const HOLDS: ReadonlySet<unknown> = new Set(["string", "boolean", "object", "array", "null"]);

/** Whether a value read back from a file is a Refusal refusalError can word. */
function isRefusal(value: unknown): value is Refusal {
  if (typeof value !== "object" || value === null) return false;
  const { kind, where, holds } = value as Record<string, unknown>;
  if (typeof kind !== "string" || !Object.hasOwn(REFUSAL_FIELDS, kind)) return false;
  const fields = REFUSAL_FIELDS[kind as Refusal["kind"]];
  for (const [field, type] of Object.entries(fields)) {
    if (typeof (value as Record<string, unknown>)[field] !== type) return false;
  }
  if (kind === "notNumber" && !HOLDS.has(holds)) return false;
  return where === undefined || typeof where === "string";
}

/** Results are JSON (numbers and records of numbers); JSON.parse keeps "__proto__" an own key. */
function copy(value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}
