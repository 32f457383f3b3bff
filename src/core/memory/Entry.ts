import type { SessionData } from "../json.js";

/**
 * One session. Times are milliseconds since the storage's epoch (its creation), not since
 * 1970: such offsets stay small integers for the first ~12.4 days (2^30 ms, the Smi range of
 * every V8 build, see small(); Smis are stored inline)
 * where epoch times would each need a boxed double, 32 bytes a session at a million
 * sessions. Beyond that V8 moves the fields to doubles by itself; nothing else changes.
 */
export interface Entry {
  data: SessionData;
  version: number;
  created: number;
  expires: number;
  /** sessionBytes(data), kept so a write costs what it changes, not the session's size. */
  bytes: number;
  /** What the entry is charged against maxTotalBytes (sessionCost + keyCost of each key). */
  cost: number;
}

/**
 * The same number, as a small integer when it is one: arithmetic on Date.now() yields a
 * double even when the result is whole, and a double stored in a field is boxed.
 */
export function small(n: number): number {
  return n >= 0 && n <= 0x3fff_ffff ? n | 0 : n;
}
