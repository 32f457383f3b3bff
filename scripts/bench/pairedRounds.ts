import { type LoadSpec, type RoundResult, runRound } from "./h2load.js";
import { cpuSeconds } from "./procCpu.js";
import { median, percentileSorted } from "./stats.js";

/** A server under load: which process to charge CPU to, and how to load it. */
export interface LoadTarget {
  pid: number;
  spec: LoadSpec;
  /** Last measured throughput, used to size the next round to `roundSeconds`. */
  rps: number;
  /** Throws when a round's answers were wrong in a way h2load cannot see (see operations.ts). */
  verify?: (round: RoundResult) => void;
}

export interface MeasuredRound extends RoundResult {
  cpuPerCall: number;
}

export interface PairedResult {
  candidate: MeasuredRound[];
  baseline: MeasuredRound[];
  /** Median over pairs of candidate rps / baseline rps. */
  rpsRatio: number;
  /** Median over pairs of baseline CPU per call / candidate CPU per call (1 = costs the same). */
  cpuRatio: number;
  rps: number;
  baselineRps: number;
  p50Ms: number;
  p99Ms: number;
  /** Successes per header set over every round of the candidate, warm-up included. */
  perSet: number[];
}

export interface PairOptions {
  pairs: number;
  roundSeconds: number;
  loadCpu: number;
  onRound?: (label: string, round: MeasuredRound) => void;
}

export async function measuredRound(target: LoadTarget, seconds: number, cpu: number) {
  const requests = Math.max(200, Math.round(target.rps * seconds));
  const before = cpuSeconds(target.pid);
  const round = await runRound(target.spec, requests, cpu);
  const used = cpuSeconds(target.pid) - before;
  if (round.problems.length > 0) throw new Error(round.problems.join("; "));
  target.verify?.(round);
  if (round.rps > 0) target.rps = round.rps;
  return { ...round, cpuPerCall: round.succeeded > 0 ? used / round.succeeded : Number.NaN };
}

/**
 * Alternates baseline and candidate rounds (ABBA order inside consecutive pairs, so a drift
 * in machine load does not favour one side) and reports the median of per-pair ratios: on a
 * shared, noisy machine the ratio of two rounds taken a second apart is far steadier than
 * either absolute figure.
 */
export async function measurePaired(
  baseline: LoadTarget,
  candidate: LoadTarget,
  options: PairOptions,
): Promise<PairedResult> {
  const perSet = candidate.spec.headerSets.map(() => 0);
  const count = (round: RoundResult) => {
    round.perSet.forEach((n, i) => {
      perSet[i] += n;
    });
  };
  // Warm-up (JIT, connections, caches), also sizing the rounds; not counted.
  count(await measuredRound(candidate, options.roundSeconds / 2, options.loadCpu));
  await measuredRound(baseline, options.roundSeconds / 2, options.loadCpu);
  const cand: MeasuredRound[] = [];
  const base: MeasuredRound[] = [];
  for (let i = 0; i < options.pairs; i++) {
    const order = i % 2 === 0 ? (["b", "c"] as const) : (["c", "b"] as const);
    for (const side of order) {
      const target = side === "b" ? baseline : candidate;
      const round = await measuredRound(target, options.roundSeconds, options.loadCpu);
      options.onRound?.(side === "b" ? "baseline" : "candidate", round);
      if (side === "b") base.push(round);
      else {
        cand.push(round);
        count(round);
      }
    }
  }
  const latencies = cand.flatMap((r) => r.latenciesUs).sort((a, b) => a - b);
  return {
    candidate: cand,
    baseline: base,
    rpsRatio: median(cand.map((c, i) => c.rps / base[i].rps)),
    cpuRatio: median(cand.map((c, i) => base[i].cpuPerCall / c.cpuPerCall)),
    rps: median(cand.map((c) => c.rps)),
    baselineRps: median(base.map((b) => b.rps)),
    p50Ms: percentileSorted(latencies, 50) / 1000,
    p99Ms: percentileSorted(latencies, 99) / 1000,
    perSet,
  };
}
