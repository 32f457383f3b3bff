/**
 * What the reliability run's clients know they wrote: for every key of every session they
 * own, the last write the server acknowledged and the writes sent after it whose outcome
 * is unknown (UNAVAILABLE, DEADLINE_EXCEEDED, a dropped connection: applied or not, nobody
 * can tell). At the end, each key's stored value is judged against that history. Writes the
 * server refused with a definite status are not recorded: they changed nothing.
 */

/** A value as the session holds it, compared as JSON text; ABSENT is "no such key". */
export const ABSENT = Symbol("absent");
export type Stored = string | typeof ABSENT;

/** One key whose last writes are Set/Remove. */
interface PlainKey {
  kind: "plain";
  /** undefined: no write to this key was ever acknowledged. */
  acked: Stored | undefined;
  /** Values of writes with an unknown outcome sent after `acked`, in order. */
  unknown: Stored[];
}

/** One key written only by Increment. */
interface CounterKey {
  kind: "counter";
  acked: number;
  unknown: number;
}

type KeyHistory = PlainKey | CounterKey;

export interface SessionRecord {
  readonly id: string;
  readonly keys: Map<string, KeyHistory>;
  /** When false, keys the ledger does not know are not held against the session. */
  readonly strictKeys: boolean;
}

export interface Verdict {
  /** Keys checked. */
  keys: number;
  /** Keys whose last acknowledged write is not what they hold (or could hold). */
  lost: number;
  /** Keys holding a value nobody ever sent them, or keys nobody wrote at all. */
  unexpected: number;
  /** The first few problems, for the report. */
  examples: string[];
}

const MAX_EXAMPLES = 5;

export class Ledger {
  readonly sessions = new Map<string, SessionRecord>();

  /** Starts tracking a session; `strictKeys: false` for sessions bad inputs are aimed at. */
  open(id: string, strictKeys = true): SessionRecord {
    const existing = this.sessions.get(id);
    if (existing) return existing;
    const record: SessionRecord = { id, keys: new Map(), strictKeys };
    this.sessions.set(id, record);
    return record;
  }

  /** A Set (value: its JSON text) or a Remove (value: ABSENT) of `key`. */
  write(id: string, key: string, value: Stored, outcome: "acked" | "unknown"): void {
    const keys = this.open(id).keys;
    let history = keys.get(key);
    if (history === undefined) {
      history = { kind: "plain", acked: undefined, unknown: [] };
      keys.set(key, history);
    }
    if (history.kind !== "plain") throw new Error(`${key} is a counter, not a plain key`);
    if (outcome === "acked") {
      history.acked = value;
      history.unknown = [];
    } else {
      history.unknown.push(value);
    }
  }

  /** An Increment of `key` by `delta` (> 0). */
  increment(id: string, key: string, delta: number, outcome: "acked" | "unknown"): void {
    const keys = this.open(id).keys;
    let history = keys.get(key);
    if (history === undefined) {
      history = { kind: "counter", acked: 0, unknown: 0 };
      keys.set(key, history);
    }
    if (history.kind !== "counter") throw new Error(`${key} is a plain key, not a counter`);
    if (outcome === "acked") history.acked += delta;
    else history.unknown += delta;
  }

  /** Number of keys that hold an acknowledged write. */
  ackedKeys(): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      for (const h of s.keys.values()) if (h.kind === "counter" || h.acked !== undefined) n++;
    }
    return n;
  }

  /**
   * Judges what the storage holds. `read(id)` is the session's data as GetData returned it
   * (values as JSON text), or undefined when the session is gone.
   */
  verify(read: (id: string) => Map<string, string> | undefined): Verdict {
    const verdict: Verdict = { keys: 0, lost: 0, unexpected: 0, examples: [] };
    const note = (text: string) => {
      if (verdict.examples.length < MAX_EXAMPLES) verdict.examples.push(text);
    };
    for (const session of this.sessions.values()) {
      const data = read(session.id);
      const held = data ?? new Map<string, string>();
      for (const [key, history] of session.keys) {
        verdict.keys++;
        const actual: Stored = held.get(key) ?? ABSENT;
        const problem = judge(history, actual);
        if (problem === undefined) continue;
        if (problem === "lost") verdict.lost++;
        else verdict.unexpected++;
        const gone = data === undefined ? " (session gone)" : "";
        note(`${session.id} ${key}${gone}: holds ${show(actual)}, expected ${expected(history)}`);
      }
      if (!session.strictKeys) continue;
      for (const [key, value] of held) {
        if (session.keys.has(key)) continue;
        verdict.unexpected++;
        note(`${session.id} ${key}: holds ${show(value)}, never written`);
      }
    }
    return verdict;
  }
}

function judge(history: KeyHistory, actual: Stored): "lost" | "unexpected" | undefined {
  if (history.kind === "counter") {
    // Absent counts as 0, as Increment itself counts it.
    const value = actual === ABSENT ? 0 : Number(JSON.parse(actual));
    if (value < history.acked || Number.isNaN(value)) return "lost";
    if (value > history.acked + history.unknown) return "unexpected";
    return undefined;
  }
  if (actual === (history.acked ?? ABSENT)) return undefined;
  if (history.unknown.includes(actual)) return undefined;
  return history.acked === undefined ? "unexpected" : "lost";
}

function expected(history: KeyHistory): string {
  if (history.kind === "counter") {
    return `between ${history.acked} and ${history.acked + history.unknown}`;
  }
  const options: Stored[] = [history.acked ?? ABSENT, ...history.unknown];
  const shown = options.map(show);
  return shown.length === 1 ? shown[0] : `one of ${shown.join(", ")}`;
}

function show(value: Stored): string {
  if (value === ABSENT) return "nothing";
  return value.length > 40 ? `${value.slice(0, 37)}...` : value;
}
