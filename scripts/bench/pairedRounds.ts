import { type LoadSpec, type RoundResult, runRound } from "./h2load.js";
import { cpuSeconds } from "./procCpu.js";
import { interquartile, median, percentileSorted, type Spread } from "./stats.js";

/** A server under load: which process to charge CPU to, and how to load it. */
export interface LoadTarget {
  pid: number;
  spec: LoadSpec;
  /** Last measured throughput, used to size the next round to `roundSeconds`. */
  rps: number;
  /** Throws when a round's answers were wrong in a way h2load cannot see (see operations.ts). */
  verify?: (round: RoundResult) => void;
  /**
   * Successes per header set over every round run against this target, warm-up included
   * (writes are checked against them); filled in when present.
   */
  counted?: number[];
}

export interface MeasuredRound extends RoundResult {
  cpuPerCall: number;
}

export interface PairedResult {
  candidate: MeasuredRound[];
  baseline: MeasuredRound[];
  /** Per pair: candidate rps / baseline rps. */
  rpsRatios: number[];
  /** Per pair: baseline CPU per call / candidate CPU per call (1 = costs the same). */
  cpuRatios: number[];
  /** Median of rpsRatios, and their interquartile range. */
  rpsRatio: number;
  rpsSpread: Spread;
  /** Median of cpuRatios, and their interquartile range. */
  cpuRatio: number;
  cpuSpread: Spread;
  rps: number;
  baselineRps: number;
  p50Ms: number;
  p99Ms: number;
}

export interface PairOptions {
  pairs: number;
  roundSeconds: number;
  loadCpu: number;
  /** measurePaired only: seconds of uncounted load on each side first (default roundSeconds / 2). */
  warmSeconds?: number;
  onRound?: (label: string, round: MeasuredRound) => void;
}

export async function measuredRound(
  target: LoadTarget,
  seconds: number,
  cpu: number,
): Promise<MeasuredRound> {
  const requests = Math.max(200, Math.round(target.rps * seconds));
  const before = cpuSeconds(target.pid);
  const round = await runRound(target.spec, requests, cpu);
  const used = cpuSeconds(target.pid) - before;
  if (round.problems.length > 0) throw new Error(round.problems.join("; "));
  target.verify?.(round);
  if (round.rps > 0) target.rps = round.rps;
  if (target.counted) {
    round.perSet.forEach((n, i) => {
      (target.counted as number[])[i] = ((target.counted as number[])[i] ?? 0) + n;
    });
  }
  return { ...round, cpuPerCall: round.succeeded > 0 ? used / round.succeeded : Number.NaN };
}

/**
 * Load on `target` for about `seconds`, not counted: brings a fresh server's hot paths to
 * V8's optimising tier (and its connections, caches, pools up) before anything is measured,
 * and sizes the rounds that follow. A first round of ~1,000 calls sizes the rest.
 */
export async function warmUp(target: LoadTarget, seconds: number, cpu: number): Promise<void> {
  const started = performance.now();
  await measuredRound(target, Math.min(seconds, 0.3), cpu);
  for (let left = seconds - (performance.now() - started) / 1000; left > 0.05; ) {
    await measuredRound(target, Math.min(left, 1), cpu);
    left = seconds - (performance.now() - started) / 1000;
  }
}

export interface PairedRow {
  baseline: LoadTarget;
  candidate: LoadTarget;
}

/**
 * Many short pairs per row, each a baseline round and a candidate round a moment apart
 * (ABBA: the order flips from one pair to the next, so a drift in machine load does not
 * favour one side), and the rows interleaved: pair i of every row, then pair i + 1, the
 * row that starts each sweep rotating, so no row owns the quiet (or busy) minute of a run.
 * Each row reports the median of its per-pair ratios and their interquartile range: on a
 * shared, noisy machine the ratio of two rounds taken a second apart is far steadier than
 * either absolute figure. The targets should be warm (see warmUp).
 */
export async function measureInterleaved(
  rows: readonly PairedRow[],
  options: PairOptions,
): Promise<PairedResult[]> {
  const cand: MeasuredRound[][] = rows.map(() => []);
  const base: MeasuredRound[][] = rows.map(() => []);
  for (let i = 0; i < options.pairs; i++) {
    for (let k = 0; k < rows.length; k++) {
      const j = (i + k) % rows.length;
      const order = (i + k) % 2 === 0 ? (["b", "c"] as const) : (["c", "b"] as const);
      for (const side of order) {
        const target = side === "b" ? rows[j].baseline : rows[j].candidate;
        const round = await measuredRound(target, options.roundSeconds, options.loadCpu);
        options.onRound?.(side === "b" ? "baseline" : "candidate", round);
        (side === "b" ? base : cand)[j].push(round);
      }
    }
  }
  return rows.map((_, j) => summarise(cand[j], base[j]));
}

function summarise(cand: MeasuredRound[], base: MeasuredRound[]): PairedResult {
  const latencies = cand.flatMap((r) => r.latenciesUs).sort((a, b) => a - b);
  const rpsRatios = cand.map((c, i) => c.rps / base[i].rps);
  const cpuRatios = cand.map((c, i) => base[i].cpuPerCall / c.cpuPerCall);
  return {
    candidate: cand,
    baseline: base,
    rpsRatios,
    cpuRatios,
    rpsRatio: median(rpsRatios),
    rpsSpread: interquartile(rpsRatios),
    cpuRatio: median(cpuRatios),
    cpuSpread: interquartile(cpuRatios),
    rps: median(cand.map((c) => c.rps)),
    baselineRps: median(base.map((b) => b.rps)),
    p50Ms: percentileSorted(latencies, 50) / 1000,
    p99Ms: percentileSorted(latencies, 99) / 1000,
  };
}

/** One row: both sides warmed, then measureInterleaved. */
export async function measurePaired(
  baseline: LoadTarget,
  candidate: LoadTarget,
  options: PairOptions,
): Promise<PairedResult> {
  const warm = options.warmSeconds ?? options.roundSeconds / 2;
  await warmUp(candidate, warm, options.loadCpu);
  await warmUp(baseline, warm, options.loadCpu);
  const [result] = await measureInterleaved([{ baseline, candidate }], options);
  return result;
}
