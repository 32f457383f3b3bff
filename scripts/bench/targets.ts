// The performance issues' targets, checked against the rows of one run. Pure: the bench
// prints and writes what this returns, and test/tools/bench.test.ts checks the arithmetic.
//
// Every ratio comes with its spread (the interquartile range of its per-pair ratios): a
// target is met only when the whole spread clears the goal, not met only when the whole
// spread falls short, and otherwise "within noise": this run cannot tell.
import { fmtN, fmtRatio, type Row } from "./report.js";
import type { Spread } from "./stats.js";

export type Verdict = "met" | "NOT MET" | "within noise" | "not measured";

export interface TargetResult {
  target: string;
  /** What the run measured, formatted; "not measured" when a row it needs is missing. */
  measured: string;
  verdict: Verdict;
}

/** Bytes of heap per session beyond its payload, by number of live sessions. */
export type MemoryOverheads = ReadonlyMap<number, number>;

/** met when all of [lo, hi] is at or above `goal`, NOT MET when all of it is below. */
export function judge(spread: Spread, goal: number): Verdict {
  if (spread.lo >= goal) return "met";
  if (spread.hi < goal) return "NOT MET";
  return "within noise";
}

type Find = (server: string, op: string, shape: string, sessions?: string) => Row | undefined;

const notMeasured = (target: string): TargetResult => ({
  target,
  measured: "not measured",
  verdict: "not measured",
});

/** A target on one row's ratio to the no-op, judged on the RPS ratio (CPU ratio shown beside). */
function vsNoop(row: Row | undefined, target: string, goal: number): TargetResult {
  const name = `${target} ≥ ${goal} × no-op`;
  if (row?.rpsRatio === undefined) return notMeasured(name);
  const spread = row.rpsSpread ?? { lo: row.rpsRatio, hi: row.rpsRatio };
  const cpu =
    row.cpuRatio === undefined ? "" : `; CPU per call ${fmtRatio(row.cpuRatio, row.cpuSpread)}`;
  return {
    target: name,
    measured: `${fmtRatio(row.rpsRatio, row.rpsSpread)}${cpu}`,
    verdict: judge(spread, goal),
  };
}

/**
 * A target on the ratio of two rows, each measured against the no-op: a's ratio over b's
 * (the no-op's own drift between the two rows cancels out). Its spread is the widest the
 * two rows' spreads allow: a's lowest over b's highest to a's highest over b's lowest.
 */
function between(
  target: string,
  a: Row | undefined,
  b: Row | undefined,
  goal: number,
): TargetResult {
  if (a?.rpsRatio === undefined || b?.rpsRatio === undefined) return notMeasured(target);
  const sa = a.rpsSpread ?? { lo: a.rpsRatio, hi: a.rpsRatio };
  const sb = b.rpsSpread ?? { lo: b.rpsRatio, hi: b.rpsRatio };
  const ratio = a.rpsRatio / b.rpsRatio;
  const spread = { lo: sa.lo / sb.hi, hi: sa.hi / sb.lo };
  return {
    target,
    measured: `${fmtRatio(ratio, spread)} (${fmt(a.rps)} / ${fmt(b.rps)} RPS)`,
    verdict: judge(spread, goal),
  };
}

export function evaluateTargets(
  rows: readonly Row[],
  overheads: MemoryOverheads,
  bigSessions: number,
): TargetResult[] {
  const find: Find = (server, op, shape, sessions = "1,000") =>
    rows.find(
      (r) => r.server === server && r.op === op && r.shape === shape && r.sessions === sessions,
    );
  const big = fmtN(bigSessions);
  const results: TargetResult[] = [
    // Performance round 2.
    vsNoop(find("memory", "Get", "small"), "memory Get (service)", 0.9),
    vsNoop(
      find("interceptor (session untouched)", "Get", "small", "0"),
      "interceptor (session untouched)",
      0.97,
    ),
    vsNoop(
      find("interceptor + handler reading a key", "Get", "small"),
      "interceptor, handler reads one key (memory)",
      0.9,
    ),
    vsNoop(find("redis-hash", "Get", "small"), "redis-hash Get", 0.8),
    between(
      "redis-hash Get ≥ 4 × express-session + connect-redis",
      find("redis-hash", "Get", "small"),
      find("express-session", "Get", "small"),
      4,
    ),
    vsNoop(find("redis", "Get", "small"), "redis Get, one key", 0.6),
    vsNoop(find("redis", "Get", "large"), "redis Get, one key of a 40 KB session", 0.5),
    vsNoop(find("memory", "GetData", "large"), "GetData of a 200-key session (memory)", 0.5),
    vsNoop(find("file", "Set", "small"), "file Set (durable)", 0.25),
    // Earlier targets, still held.
    vsNoop(find("memory", "Set", "small"), "memory Set", 0.75),
    vsNoop(find("redis-hash", "Set", "small"), "redis-hash Set", 0.5),
    between(
      "redis-hash Set with wait-replicas 1 ≥ 0.6 × without",
      find("redis-hash wait-replicas 1", "Set", "small"),
      find("redis-hash", "Set", "small"),
      0.6,
    ),
    vsNoop(find("file", "Get", "small"), "file Get", 0.5),
    between(
      "redis-hash Get, large session ≥ 0.9 × small",
      find("redis-hash", "Get", "large"),
      find("redis-hash", "Get", "small"),
      0.9,
    ),
  ];
  for (const server of ["memory", "redis-hash"]) {
    results.push(
      between(
        `${server} Get with ${big} live sessions ≥ 0.9 × with 1,000`,
        find(server, "Get", "small", big),
        find(server, "Get", "small"),
        0.9,
      ),
    );
  }
  // One measurement after a forced GC, not a series of rounds: no spread to judge by.
  const overhead = overheads.get(bigSessions);
  const target = `memory storage overhead ≤ 300 B per session (${big} sessions)`;
  results.push(
    overhead === undefined
      ? notMeasured(target)
      : {
          target,
          measured: `${overhead.toFixed(0)} B`,
          verdict: overhead <= 300 ? "met" : "NOT MET",
        },
  );
  return results;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function targetsText(results: readonly TargetResult[]): string {
  const width = Math.max(...results.map((r) => r.target.length));
  return results
    .map((r) => `${r.verdict.padEnd(12)} ${r.target.padEnd(width)}  ${r.measured}`)
    .join("\n");
}

export function targetsMarkdown(results: readonly TargetResult[]): string {
  return [
    "| target | measured: median (interquartile range) | |",
    "| --- | --- | --- |",
    ...results.map((r) => `| ${r.target} | ${r.measured} | ${r.verdict} |`),
  ].join("\n");
}
