import type { Verdict } from "./ledger.js";

/** Everything one storage's run measured, as the table shows it. */
export interface StorageResult {
  storage: string;
  loadSeconds: number;
  writers: number;
  sessions: number;
  /** Calls made, by what made them ("writes", "bad inputs", ...). */
  calls: [string, number][];
  writes: { acked: number; unknown: [string, number][]; refused: [string, number][] };
  /** Faults injected, by kind (0 with a reason for a kind left out). */
  faults: { kind: string; count: number; skipped?: string }[];
  badInputs: {
    byKind: [string, number][];
    expected: number;
    /** Answered UNAVAILABLE / DEADLINE_EXCEEDED while the storage or server was away. */
    duringOutage: number;
    wrong: number;
    /** Each wrong answer, once per input: "name → CODE details". */
    wrongExamples: string[];
  };
  /** Sessions that vanished under a writer and were replaced by a new id. */
  replacedSessions: number;
  verdict: Verdict;
  crashes: { at: string; exit: string; stderr: string[] }[];
  errorsLogged: number;
  errorExamples: string[];
  peakRssBytes: number;
}

const n = (x: number) => x.toLocaleString("en-US");
const list = (items: [string, number][]) => items.map(([k, v]) => `${k} ${n(v)}`).join(", ");
const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(0)} MB`;

/** Markdown for one storage: a heading, the table, then the details of anything that failed. */
export function storageMarkdown(r: StorageResult): string {
  const totalCalls = r.calls.reduce((s, [, v]) => s + v, 0);
  const unknown = r.writes.unknown.reduce((s, [, v]) => s + v, 0);
  const refused = r.writes.refused.reduce((s, [, v]) => s + v, 0);
  const writes = r.writes.acked + unknown + refused;
  const injected = r.faults.filter((f) => f.skipped === undefined);
  const skipped = r.faults.filter((f) => f.skipped !== undefined);
  const tried = r.badInputs.byKind.reduce((s, [, v]) => s + v, 0);
  const rows: [string, string][] = [
    [
      "calls made",
      `${n(totalCalls)} in ${r.loadSeconds} s of load (${list(r.calls)}); ${r.writers} writers, ${n(r.sessions)} sessions`,
    ],
    [
      "writes",
      `${n(writes)}: ${n(r.writes.acked)} acknowledged, ${n(unknown)} outcome unknown${unknown ? ` (${list(r.writes.unknown)})` : ""}, ${n(refused)} refused${refused ? ` (${list(r.writes.refused)})` : ""}`,
    ],
    [
      "faults injected",
      [
        injected.map((f) => `${f.kind} ×${n(f.count)}`).join(", "),
        ...skipped.map((f) => `${f.kind}: not injected, ${f.skipped}`),
      ].join("; "),
    ],
    [
      "bad inputs tried",
      `${n(tried)} (${list(r.badInputs.byKind)}): ${n(r.badInputs.expected)} refused with INVALID_ARGUMENT or RESOURCE_EXHAUSTED, ${n(r.badInputs.duringOutage)} UNAVAILABLE during an outage, **${n(r.badInputs.wrong)} answered otherwise**`,
    ],
    [
      "acknowledged writes lost",
      `**${n(r.verdict.lost)}** (${n(r.verdict.keys)} keys checked; sessions replaced under a writer: ${n(r.replacedSessions)})`,
    ],
    ["values never written", n(r.verdict.unexpected)],
    ["crashes", `**${n(r.crashes.length)}**`],
    ["errors logged by sessiond", n(r.errorsLogged)],
    ["peak RSS of sessiond", mb(r.peakRssBytes)],
  ];
  const table = [
    `| ${r.storage} | |`,
    "| --- | --- |",
    ...rows.map(([k, v]) => `| ${k} | ${v.replaceAll("|", "\\|")} |`),
  ].join("\n");
  const details: string[] = [];
  const bullets = (title: string, items: readonly string[]) => {
    if (items.length > 0) details.push([title, ...items.map((e) => `- ${e}`)].join("\n"));
  };
  bullets(`Lost or unexpected (first ${r.verdict.examples.length}):`, r.verdict.examples);
  bullets("Bad inputs answered otherwise:", r.badInputs.wrongExamples);
  for (const c of r.crashes) {
    const tail = c.stderr.slice(-10).map((l) => l.slice(0, 400));
    details.push(`Crash at ${c.at} (${c.exit}); last stderr lines:\n\n${fence(tail)}`);
  }
  bullets("Errors logged by sessiond (distinct, first 5):", r.errorExamples);
  return [`#### ${r.storage}`, table, ...details].join("\n\n");
}

const fence = (lines: readonly string[]) => ["```", ...lines, "```"].join("\n");

/** The run's failures, one line each; empty when it passed. */
export function failures(results: readonly StorageResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.verdict.lost > 0) out.push(`${r.storage}: ${r.verdict.lost} acknowledged writes lost`);
    if (r.verdict.unexpected > 0) {
      out.push(`${r.storage}: ${r.verdict.unexpected} keys hold values never written`);
    }
    if (r.crashes.length > 0) out.push(`${r.storage}: sessiond crashed ${r.crashes.length} times`);
    if (r.badInputs.wrong > 0) {
      out.push(`${r.storage}: ${r.badInputs.wrong} bad inputs answered other than refused`);
    }
  }
  return out;
}
