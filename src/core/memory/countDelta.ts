import { assignKey, cloneJson, type JsonValue, jsonByteLength } from "../json.js";
import { type Limits, sizeRefusal } from "../Limits.js";
import { increment, type Outcome } from "../storage/applyOps.js";
import type { Op } from "../storage/Storage.js";
import type { Entry } from "./Entry.js";
import { budgetRefusal, type HeapBudget } from "./HeapBudget.js";
import { keyCost, sessionCost } from "./heapCost.js";

/**
 * A delta counted against one stored entry, not yet applied: the values it leaves for the
 * keys it touches (undefined for removed), on top of the entry's data or, after a clear,
 * of nothing; and the entry's sizes with it.
 */
export interface Counted {
  changes: Map<string, JsonValue | undefined>;
  cleared: boolean;
  /** Some key was added, so the key count may have grown (and merged()'s compact() may pay). */
  grew: boolean;
  keys: number;
  bytes: number;
  cost: number;
  incremented: Record<string, number>;
}

/**
 * The delta for one stored entry, counted: its byte size and its cost against the budget
 * are kept up to date by what each op changes (sizing only the values it touches), so a
 * write to a large session does not re-measure every value; keys are counted only when
 * some were added. Checks the limits and the budget on the result. Values are copied in.
 *
 * It changes nothing: the ops go to an overlay of the keys they touch (as the Lua scripts
 * do), which merged() writes into the entry once the delta is accepted, so a refused delta
 * has nothing to undo. Copying the whole data instead cost a third of a gRPC call on a
 * 200-key session (docs/bench/NOTES.md).
 */
export function countDelta(
  id: string,
  entry: Entry | undefined,
  ops: readonly Op[],
  limits: Limits,
  budget: HeapBudget,
): Outcome<Counted> {
  // No closures in here: tsx compiles with keepNames, which re-names every closure each
  // time it is created, and this runs on every write.
  const original = entry?.data;
  const changes = new Map<string, JsonValue | undefined>();
  let cleared = false;
  let bytes = entry?.bytes ?? 0;
  const before = entry?.cost ?? 0;
  let cost = entry?.cost ?? sessionCost(id);
  let grew = false;
  /** Keys added less keys removed, since the start or the last clear. */
  let added = 0;
  const incremented: Record<string, number> = {};
  for (const op of ops) {
    if (op.type === "clear") {
      changes.clear();
      cleared = true;
      bytes = 0;
      cost = sessionCost(id);
      added = 0;
      continue;
    }
    const key = op.key;
    const old = changes.has(key)
      ? changes.get(key)
      : cleared || original === undefined || !Object.hasOwn(original, key)
        ? undefined
        : original[key];
    let value: JsonValue | undefined;
    if (op.type === "set") value = cloneJson(op.value);
    else if (op.type === "increment") {
      const next = increment(old, key, op.delta);
      if (typeof next !== "number") return { ok: false, refusal: next };
      assignKey(incremented, key, next);
      value = next;
    }
    if (old === undefined && value === undefined) continue;
    changes.set(key, value);
    const keyBytes = Buffer.byteLength(key, "utf8");
    if (old !== undefined) {
      const oldBytes = jsonByteLength(old);
      bytes -= keyBytes + oldBytes;
      cost -= keyCost(key, keyBytes, old, oldBytes);
      added--;
    }
    if (value === undefined) continue;
    grew ||= old === undefined;
    added++;
    const valueBytes = jsonByteLength(value);
    bytes += keyBytes + valueBytes;
    cost += keyCost(key, keyBytes, value, valueBytes);
  }
  // Without added keys the count cannot have grown past a limit it was already within.
  const base = cleared || original === undefined ? 0 : grew ? Object.keys(original).length : 0;
  const keys = grew ? base + added : 0;
  const refusal = sizeRefusal(keys, bytes, limits);
  if (refusal) return { ok: false, refusal };
  // Only growth is refused: a write that keeps or shrinks a session always fits.
  if (cost > before && cost - before > budget.max - budget.used) {
    return { ok: false, refusal: budgetRefusal(cost - before, budget) };
  }
  return { ok: true, changes, cleared, grew, keys, bytes, cost, incremented };
}
