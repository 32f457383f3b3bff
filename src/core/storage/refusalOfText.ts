import type { Refusal, ValueKind } from "../Refusal.js";
import { refusalError } from "../Refusal.js";
import type { ErrorCode } from "../SessionError.js";

/**
 * A refusal read back from its text: request records written before refusals were kept as
 * data (memory, file) and the encrypted Redis storages' records hold the message, and a
 * replay must still carry the refusal's reason. Only a text that refusalError words back
 * exactly (same code, same words) counts, so no other message is ever mistaken for one.
 */
export function refusalOfText(code: ErrorCode, text: string): Refusal | undefined {
  const refusal = parse(text);
  if (refusal === undefined) return undefined;
  const again = refusalError(refusal);
  return again.code === code && again.message === text ? refusal : undefined;
}

/** Each refusal's words, the way refusalError writes them, and the refusal they hold. */
const PATTERNS: readonly [RegExp, (m: string[]) => Refusal][] = [
  [
    /^version mismatch: expected (\d+), session is at (\d+)$/,
    (m) => ({ kind: "version", expected: Number(m[1]), actual: Number(m[2]) }),
  ],
  [
    /^version mismatch: expected (\d+), but the session does not exist$/,
    (m) => ({ kind: "versionMissing", expected: Number(m[1]) }),
  ],
  [
    /^cannot increment key "([\s\S]*)": it holds a (string|boolean|object|array|null), not a number$/,
    (m) => ({ kind: "notNumber", key: m[1] as string, holds: m[2] as ValueKind }),
  ],
  [
    /^incrementing key "([\s\S]*)" would overflow$/,
    (m) => ({ kind: "overflow", key: m[1] as string }),
  ],
  [
    /^session would hold (\d+) keys, over the limit maxKeys=(\d+)$/,
    (m) => ({ kind: "tooManyKeys", keys: Number(m[1]), maxKeys: Number(m[2]) }),
  ],
  [
    /^session would be (\d+) bytes, over the limit maxSessionBytes=(\d+)$/,
    (m) => ({ kind: "tooManyBytes", bytes: Number(m[1]), maxSessionBytes: Number(m[2]) }),
  ],
  [
    /^memory storage is full: this write needs (\d+) more bytes and (\d+) of the budget maxTotalBytes=(\d+) are taken(?: \(([\s\S]*)\))?$/,
    (m) => {
      const refusal: Refusal = {
        kind: "memoryFull",
        growth: Number(m[1]),
        used: Number(m[2]),
        maxTotalBytes: Number(m[3]),
      };
      if (m[4] !== undefined) refusal.where = m[4];
      return refusal;
    },
  ],
  [
    /^memory storage holds (\d+) sessions, the limit maxSessions=(\d+)$/,
    (m) => ({ kind: "tooManySessions", sessions: Number(m[1]), maxSessions: Number(m[2]) }),
  ],
  [
    /^request_id was already used for a different request within the window; nothing was applied$/,
    () => ({ kind: "requestIdReused" }),
  ],
];

function parse(text: string): Refusal | undefined {
  for (const [pattern, refusal] of PATTERNS) {
    const m = pattern.exec(text);
    if (m !== null) return refusal(m);
  }
  return undefined;
}
