import { getHeapStatistics } from "node:v8";

/** V8's default most a semi-space grows to on 64-bit (Node 20: 16 MiB). */
const DEFAULT_SEMI_SPACE_MIB = 16;

/**
 * Half of what the old generation may grow to: where long-lived data (every stored
 * session) ends up. The other half is left for what serving needs besides: requests in
 * flight, copies handed to readers, garbage between collections. A full old generation is
 * an abort (V8 "heap out of memory"), so the budget sits well below it.
 *
 * V8 reports only the whole heap's limit, which includes the young generation (three
 * semi-spaces: `--max-semi-space-size=64`, as `npm start` runs, adds 192 MiB to it); the
 * semi-space size is read back from Node's options, the flag's only source.
 */
export function defaultMemoryBudget(
  heapLimit = getHeapStatistics().heap_size_limit,
  options = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)],
): number {
  let semiMiB = DEFAULT_SEMI_SPACE_MIB;
  for (const [i, option] of options.entries()) {
    const match = /^--max[-_]semi[-_]space[-_]size(?:=(\d+))?$/.exec(option);
    if (!match) continue;
    const value = Number(match[1] ?? options[i + 1]);
    if (Number.isSafeInteger(value) && value > 0) semiMiB = value;
  }
  const oldGeneration = heapLimit - 3 * semiMiB * 1024 * 1024;
  return Math.max(1, Math.floor(Math.max(oldGeneration, heapLimit / 4) / 2));
}
