// Renders bench results: a fixed-width table for the terminal, the same as Markdown.
import type { Spread } from "./stats.js";

export interface Row {
  server: string;
  op: string;
  shape: string;
  sessions: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Median per-pair throughput ratio to the no-op; undefined for the baseline itself. */
  rpsRatio?: number;
  /** Interquartile range of the per-pair throughput ratios. */
  rpsSpread?: Spread;
  /** Median per-pair ratio of no-op CPU per call to this server's. */
  cpuRatio?: number;
  /** Interquartile range of the per-pair CPU ratios. */
  cpuSpread?: Spread;
  note?: string;
}

/** A ratio with its spread, as the tables show it: 0.72 (0.68–0.75). */
export function fmtRatio(ratio: number, spread?: Spread): string {
  return spread === undefined
    ? ratio.toFixed(2)
    : `${ratio.toFixed(2)} (${spread.lo.toFixed(2)}–${spread.hi.toFixed(2)})`;
}

/** A count as the tables show it: 1,000 or 1M. */
export function fmtN(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : n.toLocaleString("en-US");
}

const HEADERS = [
  "server",
  "op",
  "session",
  "live sessions",
  "RPS",
  "p50 ms",
  "p99 ms",
  "x no-op (RPS)",
  "x no-op (CPU/call)",
  "note",
];

function cells(row: Row): string[] {
  return [
    row.server,
    row.op,
    row.shape,
    row.sessions,
    Math.round(row.rps).toLocaleString("en-US"),
    row.p50Ms.toFixed(2),
    row.p99Ms.toFixed(2),
    row.rpsRatio === undefined ? "1 (baseline)" : fmtRatio(row.rpsRatio, row.rpsSpread),
    row.cpuRatio === undefined ? "1 (baseline)" : fmtRatio(row.cpuRatio, row.cpuSpread),
    row.note ?? "",
  ];
}

export function textTable(rows: readonly Row[]): string {
  const all = [HEADERS, ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i >= 4 && i <= 8 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [
    line(HEADERS),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map((r) => line(cells(r))),
  ].join("\n");
}

export function markdownTable(rows: readonly Row[]): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  const align = HEADERS.map((_, i) => (i >= 4 && i <= 8 ? "---:" : "---"));
  return [
    `| ${HEADERS.join(" | ")} |`,
    `| ${align.join(" | ")} |`,
    ...rows.map((r) => `| ${cells(r).map(esc).join(" | ")} |`),
  ].join("\n");
}
