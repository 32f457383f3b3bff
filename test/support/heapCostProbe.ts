// Run as `node --expose-gc --import tsx heapCostProbe.ts <shape>`: stores sessions of one
// shape in a MemoryStorage and prints, as one JSON line, the heap they really take (after a
// full GC) and what the storage charged its budget for them.

import { resolveLimits } from "../../src/core/Limits.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { SHAPES } from "./heapShapes.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const name = process.argv[2] as string;
const [count, make] = SHAPES[name] ?? [];
if (count === undefined || make === undefined) throw new Error(`unknown shape ${name}`);
const limits = resolveLimits({
  maxKeys: 100_000,
  maxSessionBytes: 2 ** 30,
  maxValueBytes: 2 ** 30,
});
const storage = new MemoryStorage({ sweepIntervalMs: 3_600_000 });
const ids = Array.from({ length: count }, () => newSessionId());
const before = heap();
for (const [i, id] of ids.entries()) {
  const ops = Object.entries(make(i)).map(([key, value]) => ({ type: "set" as const, key, value }));
  await storage.apply(id, { ops }, { ttlMs: 3_600_000, mode: "create", limits });
}
const heapBytes = (heap() - before) / count;
const chargedBytes = storage.budget.usedBytes / count;
console.log(JSON.stringify({ heapBytes, chargedBytes, sessions: storage.size }));
await storage.close();
