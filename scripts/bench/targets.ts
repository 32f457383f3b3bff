// The performance issue's targets, checked against the rows of one run. Pure: the bench
// prints and writes what this returns, and test/bench.test.ts checks the arithmetic.
import { fmtN, type Row } from "./report.js";

export interface TargetResult {
  target: string;
  /** What the run measured, formatted; "not measured" when a row it needs is missing. */
  measured: string;
  met: boolean | undefined;
}

/** Bytes of heap per session beyond its payload, by number of live sessions. */
export type MemoryOverheads = ReadonlyMap<number, number>;

type Find = (server: string, op: string, shape: string, sessions: string) => Row | undefined;

/** A target on one row's ratio to the no-op, judged on the RPS ratio (CPU ratio shown beside). */
function vsNoop(find: Find, server: string, op: string, goal: number): TargetResult {
  const target = `${server} ${op} ≥ ${goal} × no-op`;
  const row = find(server, op, "small", "1,000");
  if (row?.rpsRatio === undefined) return { target, measured: "not measured", met: undefined };
  const cpu = row.cpuRatio === undefined ? "" : ` (CPU per call: ${row.cpuRatio.toFixed(2)})`;
  return { target, measured: `${row.rpsRatio.toFixed(2)}${cpu}`, met: row.rpsRatio >= goal };
}

/** A target on the ratio of two rows' throughput. */
function between(target: string, a: Row | undefined, b: Row | undefined, goal: number) {
  if (a === undefined || b === undefined) {
    return { target, measured: "not measured", met: undefined };
  }
  const ratio = a.rps / b.rps;
  return {
    target,
    measured: `${ratio.toFixed(2)} (${fmt(a.rps)} / ${fmt(b.rps)} RPS)`,
    met: ratio >= goal,
  };
}

export function evaluateTargets(
  rows: readonly Row[],
  overheads: MemoryOverheads,
  bigSessions: number,
): TargetResult[] {
  const find: Find = (server, op, shape, sessions) =>
    rows.find(
      (r) => r.server === server && r.op === op && r.shape === shape && r.sessions === sessions,
    );
  const big = fmtN(bigSessions);
  const results: TargetResult[] = [
    vsNoop(find, "memory", "Get", 0.85),
    vsNoop(find, "memory", "Set", 0.75),
    vsNoop(find, "redis-hash", "Get", 0.65),
    between(
      "redis-hash Get ≥ 3 × express-session",
      find("redis-hash", "Get", "small", "1,000"),
      find("express-session", "Get", "small", "1,000"),
      3,
    ),
    vsNoop(find, "redis-hash", "Set", 0.5),
    between(
      "redis-hash Set with wait-replicas 1 ≥ 0.6 × without",
      find("redis-hash wait-replicas 1", "Set", "small", "1,000"),
      find("redis-hash", "Set", "small", "1,000"),
      0.6,
    ),
    vsNoop(find, "redis", "Get", 0.6),
    vsNoop(find, "file", "Get", 0.5),
    between(
      "redis-hash Get, large session ≥ 0.9 × small",
      find("redis-hash", "Get", "large", "1,000"),
      find("redis-hash", "Get", "small", "1,000"),
      0.9,
    ),
  ];
  for (const server of ["memory", "redis-hash"]) {
    results.push(
      between(
        `${server} Get with ${big} live sessions ≥ 0.9 × with 1,000`,
        find(server, "Get", "small", big),
        find(server, "Get", "small", "1,000"),
        0.9,
      ),
    );
  }
  const overhead = overheads.get(bigSessions);
  const target = `memory storage overhead ≤ 300 B per session (${big} sessions)`;
  results.push(
    overhead === undefined
      ? { target, measured: "not measured", met: undefined }
      : { target, measured: `${overhead.toFixed(0)} B`, met: overhead <= 300 },
  );
  return results;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function targetsText(results: readonly TargetResult[]): string {
  const width = Math.max(...results.map((r) => r.target.length));
  return results
    .map((r) => `${verdict(r).padEnd(12)} ${r.target.padEnd(width)}  ${r.measured}`)
    .join("\n");
}

export function targetsMarkdown(results: readonly TargetResult[]): string {
  return [
    "| target | measured | |",
    "| --- | --- | --- |",
    ...results.map((r) => `| ${r.target} | ${r.measured} | ${verdict(r)} |`),
  ].join("\n");
}

function verdict(r: TargetResult): string {
  return r.met === undefined ? "not measured" : r.met ? "met" : "NOT MET";
}
