/**
 * Every write call of a fail-over run, one record each, and the judgement of what the
 * storage holds afterwards against what each call was answered. Unlike ../ledger.ts (last
 * acknowledged value per key), each record here is judged on its own: every Set writes a
 * key no other call writes, a Remove removes a key whose Set was acknowledged, and a
 * writer's counter counts only its own Increments. So a value found tells exactly which
 * call was applied, and a call answered "failed" that is found applied is caught.
 */
import { status } from "@grpc/grpc-js";

/**
 * What an answer says about a write:
 * - acked: OK, applied.
 * - notApplied: a failure whose message does not say the outcome is unknown; the caller
 *   may take it as "nothing changed" (and retry an Increment).
 * - mayHaveApplied: a failure whose message says it may have been applied.
 * - unanswered: the call's deadline passed (or its stream died) before an answer; nobody
 *   can tell.
 */
export type Answer = "acked" | "notApplied" | "mayHaveApplied" | "unanswered";

/** The phrases an answer uses to say its write's outcome is unknown. */
export const OUTCOME_UNKNOWN =
  /may have been applied|may exist on the master|may or may not have been applied|outcome (is )?unknown/i;

/** grpc-js's own messages for a stream that died on the client's side of the wire. */
const CLIENT_SIDE =
  /^(Deadline exceeded|Connection dropped|Received RST_STREAM|Stream refused|Call cancelled)/i;

export function classify(code: status, details: string): Answer {
  if (code === status.OK) return "acked";
  if (code === status.DEADLINE_EXCEEDED || code === status.CANCELLED) return "unanswered";
  if (OUTCOME_UNKNOWN.test(details)) return "mayHaveApplied";
  if (CLIENT_SIDE.test(details)) return "unanswered";
  return "notApplied";
}

export type Op = "set" | "remove" | "increment";

export interface CallRecord {
  writer: number;
  /** Index of the sessiond instance the call went through. */
  instance: number;
  op: Op;
  session: string;
  key: string;
  /** The Set's value as JSON text. */
  value?: string;
  /** ms since the run's clock started (sent, answered). */
  sentAt: number;
  answeredAt: number;
  code: status;
  details: string;
  answer: Answer;
}

export interface CallVerdict {
  /** Set keys and counters checked. */
  keys: number;
  /** Acknowledged Sets not found, acknowledged Removes undone, counters below their acks. */
  lostAcked: number;
  /** Calls answered as not applied that are found applied (counter excess included). */
  appliedAfterFailure: number;
  /** The same, by operation. */
  appliedAfterFailureByOp: Record<Op, number>;
  /** Keys holding a value no call sent, or counters above everything ever sent. */
  unexpected: number;
  examples: string[];
}

const MAX_EXAMPLES = 8;

export class CallLedger {
  readonly records: CallRecord[] = [];
  /** Sessions whose every key must be one this ledger knows of. */
  readonly sessions = new Set<string>();

  add(record: CallRecord): void {
    this.records.push(record);
    this.sessions.add(record.session);
  }

  /**
   * Judges what the sessions hold: `read(id)` is GetData's data (JSON text per key), or
   * undefined for a session that is gone. `exempt` keys (setup markers) are not judged.
   * Examples give times relative to `origin` (the fault).
   */
  verify(
    read: (id: string) => Map<string, string> | undefined,
    exempt: (key: string) => boolean = () => false,
    origin = 0,
  ): CallVerdict {
    const when = (ms: number) =>
      `${ms - origin < 0 ? "−" : "+"}${(Math.abs(ms - origin) / 1000).toFixed(2)} s`;
    const answerText = (r: CallRecord) =>
      `${status[r.code] ?? r.code} "${r.details.slice(0, 80)}" at ${when(r.answeredAt)}`;
    const v: CallVerdict = {
      keys: 0,
      lostAcked: 0,
      appliedAfterFailure: 0,
      appliedAfterFailureByOp: { set: 0, remove: 0, increment: 0 },
      unexpected: 0,
      examples: [],
    };
    const note = (text: string) => {
      if (v.examples.length < MAX_EXAMPLES) v.examples.push(text);
    };
    const sets = new Map<string, CallRecord>();
    const removes = new Map<string, CallRecord>();
    const counters = new Map<string, Record<Answer, number>>();
    for (const r of this.records) {
      const id = `${r.session} ${r.key}`;
      if (r.op === "set") sets.set(id, r);
      else if (r.op === "remove") removes.set(id, r);
      else {
        const c = counters.get(id) ?? { acked: 0, notApplied: 0, mayHaveApplied: 0, unanswered: 0 };
        c[r.answer]++;
        counters.set(id, c);
      }
    }
    const known = new Set([...sets.keys(), ...counters.keys()]);

    for (const [id, set] of sets) {
      v.keys++;
      const held = read(set.session)?.get(set.key);
      if (held !== undefined && held !== set.value) {
        v.unexpected++;
        note(`${id}: holds ${held.slice(0, 40)}, sent ${set.value?.slice(0, 40)}`);
        continue;
      }
      const present = held !== undefined;
      const remove = removes.get(id);
      if (remove === undefined || set.answer !== "acked") {
        if (set.answer === "acked" && !present) {
          v.lostAcked++;
          note(`${id}: acknowledged Set (at ${when(set.answeredAt)}) not found`);
        } else if (set.answer === "notApplied" && present) {
          v.appliedAfterFailure++;
          v.appliedAfterFailureByOp.set++;
          note(`${id}: Set answered ${answerText(set)} but applied`);
        }
        continue;
      }
      if (remove.answer === "acked" && present) {
        v.lostAcked++;
        note(`${id}: acknowledged Remove (at ${when(remove.answeredAt)}) undone`);
      } else if (remove.answer === "notApplied" && !present) {
        v.appliedAfterFailure++;
        v.appliedAfterFailureByOp.remove++;
        note(`${id}: Remove answered ${answerText(remove)} but applied`);
      }
    }

    for (const [id, c] of counters) {
      v.keys++;
      const [session, key] = id.split(" ") as [string, string];
      const raw = read(session)?.get(key);
      const value = raw === undefined ? 0 : Number(JSON.parse(raw));
      const possible = c.acked + c.mayHaveApplied + c.unanswered;
      if (Number.isNaN(value) || value > possible + c.notApplied) {
        v.unexpected++;
        note(`${id}: counter ${raw}, at most ${possible + c.notApplied} increments were sent`);
      } else if (value < c.acked) {
        v.lostAcked += c.acked - value;
        note(`${id}: counter ${value}, ${c.acked} increments acknowledged`);
      } else if (value > possible) {
        v.appliedAfterFailure += value - possible;
        v.appliedAfterFailureByOp.increment += value - possible;
        note(
          `${id}: counter ${value}, ${c.acked} acknowledged + ${possible - c.acked} unknown; ${value - possible} of ${c.notApplied} answered as failed were applied`,
        );
      }
    }

    for (const session of this.sessions) {
      for (const key of read(session)?.keys() ?? []) {
        if (exempt(key) || known.has(`${session} ${key}`)) continue;
        v.unexpected++;
        note(`${session} ${key}: never written`);
      }
    }
    return v;
  }
}
