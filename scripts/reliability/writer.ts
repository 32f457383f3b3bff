import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { ABSENT, type Ledger } from "./ledger.js";
import { type Outcome, outcomeUnknown, type SessionClient, statusName, unary } from "./rpc.js";
import type { Tally } from "./Tally.js";

export interface WriterStats {
  /** Every call the writers made, by method. */
  calls: Tally;
  acked: number;
  /** Writes whose outcome is unknown, by status code. */
  unknown: Tally;
  /** Writes refused with a definite status (none should be: every write is valid), by code. */
  refused: Tally;
  /** Times a write under a known id came back with another id: the session had vanished. */
  replaced: number;
}

const KEYS = ["a", "b", "c", "d", "e"];
const COUNTER = "n";
const DEADLINE_MS = 4000;

/**
 * One client that owns `sessions` sessions and writes to them one call at a time until
 * `done()`: Set of a plain key to a value never sent before, Increment of the counter, or
 * Remove of a plain key. Each outcome goes into the ledger; nobody else writes these
 * sessions, so the ledger's order is the server's order.
 */
export async function runWriter(
  index: number,
  client: SessionClient,
  ledger: Ledger,
  stats: WriterStats,
  sessions: number,
  done: () => boolean,
): Promise<void> {
  const ids: (string | undefined)[] = new Array(sessions).fill(undefined);
  let seq = 0;
  let slot = 0;
  while (!done()) {
    slot = (slot + 1) % sessions;
    const id = ids[slot];
    const roll = Math.random();
    const key = KEYS[Math.floor(Math.random() * KEYS.length)];
    let outcome: Outcome<{ sessionId?: string; version?: bigint }>;
    let record: (id: string, result: "acked" | "unknown") => void;
    if (id === undefined || roll < 0.6) {
      // A value unique to this write (so the check can tell which write it holds), of
      // varying size.
      const value = `w${index}.${slot}#${++seq}:${"x".repeat(Math.floor(Math.random() * 1500))}`;
      const text = JSON.stringify(value);
      outcome = await unary(client, "set", { key, value }, id, DEADLINE_MS);
      stats.calls.add("Set");
      record = (sid, result) => ledger.write(sid, key, text, result);
    } else if (roll < 0.85) {
      outcome = await unary(client, "increment", { key: COUNTER, delta: 1 }, id, DEADLINE_MS);
      stats.calls.add("Increment");
      record = (sid, result) => ledger.increment(sid, COUNTER, 1, result);
    } else {
      outcome = await unary(client, "remove", { keys: [key] }, id, DEADLINE_MS);
      stats.calls.add("Remove");
      record = (sid, result) => ledger.write(sid, key, ABSENT, result);
    }

    if (outcome.code === status.OK) {
      stats.acked++;
      const returned = outcome.response?.sessionId;
      if (returned !== undefined && returned !== "" && returned !== id) {
        // A new session: the first write of this slot, or the old one was gone.
        if (id !== undefined) stats.replaced++;
        ids[slot] = returned;
        record(returned, "acked");
      } else if (id !== undefined) {
        record(id, "acked");
      }
      continue;
    }
    if (outcomeUnknown(outcome.code)) {
      stats.unknown.add(statusName(outcome.code));
      // A session-creating write of unknown outcome names no id: nothing to track.
      if (id !== undefined) record(id, "unknown");
      await sleep(100); // the server or its storage is away: do not spin
    } else {
      stats.refused.add(`${statusName(outcome.code)} (${outcome.details})`);
      await sleep(100);
    }
  }
}
