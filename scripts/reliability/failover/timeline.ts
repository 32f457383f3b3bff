/**
 * When calls failed relative to the fault, how fast failures came back, and how many
 * writes were acknowledged per second before, during and after the failure window.
 */
import { status } from "@grpc/grpc-js";
import type { CallRecord } from "./callLedger.js";

export interface Timeline {
  calls: number;
  acked: number;
  /** Failed answers by answer kind then code, e.g. "notApplied UNAVAILABLE". */
  failedBy: [string, number][];
  /** Distinct failure messages (numbers and addresses blanked), most frequent first. */
  messages: [string, number][];
  /** First and last failed call's answer, ms after the fault; undefined without failures. */
  window?: { fromMs: number; toMs: number };
  /** Calls answered after their deadline or not answered before it. */
  pastDeadline: number;
  /** Median and largest latency of failed calls, ms. */
  failedLatencyMs?: { median: number; max: number };
  /** Acknowledged calls per second: before the fault, in the window, after it. */
  ackedPerSecond: { before: number; during: number; after: number };
}

const BEFORE_MS = 2000;

export function timeline(
  records: readonly CallRecord[],
  faultAt: number,
  deadlineMs: number,
): Timeline {
  const failed = records.filter((r) => r.answer !== "acked");
  const byKind = new Map<string, number>();
  const byMessage = new Map<string, number>();
  for (const r of failed) {
    const kind = `${r.answer} ${status[r.code] ?? r.code}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    const message = genericMessage(r.details);
    byMessage.set(message, (byMessage.get(message) ?? 0) + 1);
  }
  const acked = records.filter((r) => r.answer === "acked");
  const start = records.reduce((m, r) => Math.min(m, r.sentAt), Number.POSITIVE_INFINITY);
  const end = records.reduce((m, r) => Math.max(m, r.answeredAt), 0);
  const rate = (from: number, to: number) => {
    if (!(to > from)) return 0;
    const n = acked.filter((r) => r.answeredAt > from && r.answeredAt <= to).length;
    return Math.round((n * 1000) / (to - from));
  };
  let window: Timeline["window"];
  let failedLatencyMs: Timeline["failedLatencyMs"];
  // "Before" is the last stretch before trouble only: a fresh sessiond warms up for a while.
  const before = (cut: number) => rate(Math.max(start, cut - BEFORE_MS), cut);
  let ackedPerSecond = { before: before(faultAt), during: 0, after: rate(faultAt, end) };
  if (failed.length > 0) {
    const from = Math.min(...failed.map((r) => r.answeredAt));
    const to = Math.max(...failed.map((r) => r.answeredAt));
    window = { fromMs: from - faultAt, toMs: to - faultAt };
    ackedPerSecond = {
      before: before(Math.min(faultAt, from)),
      during: rate(from, to),
      after: rate(to, end),
    };
    const latencies = failed.map((r) => r.answeredAt - r.sentAt).sort((a, b) => a - b);
    failedLatencyMs = {
      median: latencies[Math.floor(latencies.length / 2)] as number,
      max: latencies.at(-1) as number,
    };
  }
  return {
    calls: records.length,
    acked: acked.length,
    failedBy: sortedEntries(byKind),
    messages: sortedEntries(byMessage),
    window,
    pastDeadline: records.filter(
      (r) => r.answer === "unanswered" || r.answeredAt - r.sentAt > deadlineMs,
    ).length,
    failedLatencyMs,
    ackedPerSecond,
  };
}

/** A message with its ports, slots, ids and counts blanked, so that repeats read once. */
export function genericMessage(details: string): string {
  return details
    .replace(/\b\d+\.\d+\.\d+\.\d+:\d+\b/g, "<addr>")
    .replace(/\b[0-9a-f]{40}\b/g, "<node>")
    .replace(/\d+/g, "N")
    .slice(0, 160);
}

const sortedEntries = (m: Map<string, number>): [string, number][] =>
  [...m].sort((a, b) => b[1] - a[1]);
