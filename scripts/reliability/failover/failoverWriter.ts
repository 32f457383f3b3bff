import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { type Outcome, type SessionClient, unary } from "../rpc.js";
import { type CallLedger, classify, type Op } from "./callLedger.js";

/** Write-via-A/read-via-B checks: a Get through another instance right after an ack. */
export interface ReadChecks {
  made: number;
  /** The other instance answered "not found" (or another value) for an acknowledged Set. */
  stale: number;
  /** The other instance answered with an error: no check made. */
  unanswered: number;
  examples: string[];
}

export interface WriterOptions {
  index: number;
  /** The instance this writer writes through, and its index. */
  client: SessionClient;
  instance: number;
  /** Another instance, for the read checks. */
  reader: SessionClient;
  /** Sessions created for this writer before the load. */
  sessions: string[];
  ledger: CallLedger;
  checks: ReadChecks;
  deadlineMs: number;
  /** One acknowledged Set in `readEvery` is read back through `reader`. */
  readEvery: number;
  now: () => number;
  done: () => boolean;
}

const COUNTER = "n";
/** Live keys per session above which the writer removes before it sets again. */
const MAX_LIVE = 24;

/**
 * One client writing its own sessions one call at a time until `done()`: Set of a new key
 * to a value never sent before (55 %), Increment of the session's counter (25 %), Remove
 * of a key whose Set was acknowledged (20 %, more when many keys are live). Every call's
 * answer goes into the ledger.
 */
export async function runFailoverWriter(o: WriterOptions): Promise<void> {
  const live: string[][] = o.sessions.map(() => []);
  let seq = 0;
  for (let turn = 0; !o.done(); turn++) {
    const slot = turn % o.sessions.length;
    const session = o.sessions[slot] as string;
    const keys = live[slot] as string[];
    const roll = Math.random();
    let op: Op;
    let key: string;
    let value: string | undefined;
    let outcome: Outcome<unknown>;
    const sentAt = o.now();
    if (keys.length > 0 && (keys.length >= MAX_LIVE || roll < 0.2)) {
      op = "remove";
      key = keys.shift() as string;
      outcome = await unary(o.client, "remove", { keys: [key] }, session, o.deadlineMs);
    } else if (roll < 0.45) {
      op = "increment";
      key = COUNTER;
      outcome = await unary(o.client, "increment", { key, delta: 1 }, session, o.deadlineMs);
    } else {
      op = "set";
      key = `k${o.index}.${++seq}`;
      const raw = `w${o.index}#${seq}:${"x".repeat(Math.floor(Math.random() * 200))}`;
      value = JSON.stringify(raw);
      outcome = await unary(o.client, "set", { key, value: raw }, session, o.deadlineMs);
    }
    const answer = classify(outcome.code, outcome.details);
    o.ledger.add({
      writer: o.index,
      instance: o.instance,
      op,
      session,
      key,
      value,
      sentAt,
      answeredAt: o.now(),
      code: outcome.code,
      details: outcome.details,
      answer,
    });
    if (op === "set" && answer === "acked") {
      keys.push(key);
      if (seq % o.readEvery === 0) await readBack(o, session, key, value as string);
    }
    // The storage is away: do not spin (a fail-fast answer comes back in microseconds).
    if (answer !== "acked") await sleep(50);
  }
}

async function readBack(o: WriterOptions, session: string, key: string, value: string) {
  const got = await unary<{ found?: boolean; value?: unknown }>(
    o.reader,
    "get",
    { key },
    session,
    o.deadlineMs,
  );
  if (got.code !== status.OK) {
    o.checks.unanswered++;
    return;
  }
  o.checks.made++;
  const seen = got.response?.found ? JSON.stringify(got.response.value) : undefined;
  if (seen === value) return;
  o.checks.stale++;
  if (o.checks.examples.length < 5) {
    o.checks.examples.push(`${session} ${key}: ${seen === undefined ? "not found" : seen}`);
  }
}
