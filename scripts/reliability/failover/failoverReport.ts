import type { FailoverResult, LaneResult } from "./runFailover.js";

const n = (x: number) => x.toLocaleString("en-US");
const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/**
 * Writes answered failed and found applied. Where acknowledged writes may be lost (the
 * contrast run), a Remove answered failed whose key is gone proves nothing: the Set it
 * removes may be what was lost. Elsewhere either reading is a violation.
 */
export function appliedAfterFailure(r: FailoverResult, lane: LaneResult): number {
  const v = lane.verdict;
  if (v === undefined) return 0;
  return r.scenario.lossExpected
    ? v.appliedAfterFailure - v.appliedAfterFailureByOp.remove
    : v.appliedAfterFailure;
}

/** Every "must be 0" of one storage's run that is not, one line each. */
export function laneViolations(r: FailoverResult, lane: LaneResult): string[] {
  const out: string[] = [];
  const { scenario } = r;
  const v = lane.verdict;
  const t = lane.timeline;
  if (v === undefined || t === undefined) return out;
  if (v.lostAcked > 0 && !scenario.lossExpected)
    out.push(`${n(v.lostAcked)} acknowledged writes lost`);
  const applied = appliedAfterFailure(r, lane);
  if (applied > 0) {
    out.push(`${n(applied)} writes answered as failed (not "may have been applied") were applied`);
  }
  if (v.unexpected > 0) out.push(`${n(v.unexpected)} values never written`);
  if (t.pastDeadline > 0) out.push(`${n(t.pastDeadline)} calls past their deadline`);
  const failed = t.calls - t.acked;
  if (scenario.noFailedCalls && failed > 0) out.push(`${n(failed)} failed calls`);
  const down = (lane.recovery ?? []).filter((i) => !i.served || i.restarted);
  if (down.length > 0) {
    out.push(
      `instance(s) ${down.map((i) => `${i.instance}${i.restarted ? " (restarted)" : ` (${i.lastError})`}`).join(", ")} did not serve again`,
    );
  }
  if ((lane.checks?.stale ?? 0) > 0 && !scenario.lossExpected) {
    out.push(`${n(lane.checks?.stale ?? 0)} stale reads (write via A, read via B)`);
  }
  if (lane.crashes > 0) out.push(`sessiond crashed ${lane.crashes} times`);
  return out;
}

/** The run's failures, "scenario [storage]: what", empty when every check held. */
export function failoverFailures(results: readonly FailoverResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.error !== undefined) {
      out.push(`${r.scenario.title}: could not run: ${r.error}`);
      continue;
    }
    for (const lane of r.lanes) {
      for (const v of laneViolations(r, lane))
        out.push(`${r.scenario.title} [${lane.storage}]: ${v}`);
    }
  }
  return out;
}

function windowText(lane: LaneResult): string {
  const w = lane.timeline?.window;
  if (w === undefined) return "no failed call";
  const sign = (ms: number) => (ms < 0 ? "−" : "+");
  return `${sign(w.fromMs)}${s1(Math.abs(w.fromMs))} → ${sign(w.toMs)}${s1(Math.abs(w.toMs))} after the fault (${s1(w.toMs - w.fromMs)})`;
}

/** One line per scenario and storage: the numbers that must be 0 and the window. */
export function failoverSummary(results: readonly FailoverResult[]): string {
  const rows = [
    '| scenario | storage | writes (acknowledged) | lost acknowledged | answered failed, applied later | "may have been applied" | past deadline | failed calls | failure window | instances serving again | stale reads | result |',
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    if (r.error !== undefined) {
      rows.push(
        `| ${cell(r.scenario.title)} | ${r.scenario.storages.join(", ")} | could not run: ${cell(r.error)} | | | | | | | | | **FAILED** |`,
      );
      continue;
    }
    for (const lane of r.lanes) {
      const t = lane.timeline;
      const v = lane.verdict;
      if (t === undefined || v === undefined) continue;
      const mayHave = t.failedBy
        .filter(([k]) => k.startsWith("mayHaveApplied"))
        .reduce((s, [, c]) => s + c, 0);
      const recovered = (lane.recovery ?? []).filter((i) => i.served && !i.restarted).length;
      const violations = laneViolations(r, lane);
      const lost = r.scenario.lossExpected
        ? `${n(v.lostAcked)} (contrast)`
        : `**${n(v.lostAcked)}**`;
      rows.push(
        `| ${cell(r.scenario.title)} | ${lane.storage} | ${n(t.calls)} (${n(t.acked)}) | ${lost} | **${n(appliedAfterFailure(r, lane))}** | ${n(mayHave)} | **${n(t.pastDeadline)}** | ${n(t.calls - t.acked)} | ${windowText(lane)} | ${recovered}/${lane.recovery?.length ?? 0} | ${n(lane.checks?.stale ?? 0)} of ${n(lane.checks?.made ?? 0)} | ${violations.length === 0 ? "passed" : "**FAILED**"} |`,
      );
    }
  }
  return rows.join("\n");
}

/** One scenario: what was done, then a table with a column per storage. */
export function failoverMarkdown(r: FailoverResult): string {
  const head = [`#### ${r.scenario.title}`];
  const setup = [
    r.topology ? `Set-up: ${r.topology}.` : "",
    r.fault
      ? `Fault: ${r.fault.note}; served again ${s1(r.fault.recoveredAt - r.fault.faultAt)} after it began.`
      : "",
    r.scenario.sessiondArgs.length > 0
      ? `sessiond flags: \`${r.scenario.sessiondArgs.join(" ")}\`.`
      : "",
    `Run took ${r.seconds} s.`,
  ].filter((x) => x !== "");
  head.push(setup.join(" "));
  if (r.error !== undefined) return [...head, `**Could not run:** ${r.error}`].join("\n\n");
  const lanes = r.lanes.filter((l) => l.timeline && l.verdict);
  const row = (label: string, f: (l: LaneResult) => string) =>
    `| ${label} | ${lanes.map((l) => cell(f(l))).join(" | ")} |`;
  const T = (l: LaneResult) => l.timeline as NonNullable<LaneResult["timeline"]>;
  const V = (l: LaneResult) => l.verdict as NonNullable<LaneResult["verdict"]>;
  const byOp = (l: LaneResult) => {
    const o = V(l).appliedAfterFailureByOp;
    return V(l).appliedAfterFailure === 0
      ? ""
      : ` (Set ${o.set}, Remove ${o.remove}, Increment ${o.increment})`;
  };
  const table = [
    `| | ${lanes.map((l) => l.storage).join(" | ")} |`,
    `| --- | ${lanes.map(() => "---").join(" | ")} |`,
    row("writes (acknowledged)", (l) => `${n(T(l).calls)} (${n(T(l).acked)})`),
    row("failed answers", (l) =>
      T(l).failedBy.length === 0
        ? "0"
        : T(l)
            .failedBy.map(([k, c]) => `${k} ${n(c)}`)
            .join(", "),
    ),
    row(
      r.scenario.lossExpected
        ? "acknowledged writes lost (the contrast)"
        : "**acknowledged writes lost**",
      (l) => `${n(V(l).lostAcked)} of ${n(V(l).keys)} keys and counters`,
    ),
    row("**answered failed, found applied**", (l) => {
      const counted = appliedAfterFailure(r, l);
      const aside = V(l).appliedAfterFailure - counted;
      const note =
        aside > 0
          ? `; not counted: ${n(aside)} Removes answered failed whose key is gone, which a lost Set explains as well`
          : "";
      return `${n(counted)}${counted > 0 ? byOp(l) : ""}${note}`;
    }),
    row("**calls past their deadline**", (l) => n(T(l).pastDeadline)),
    row("failure window", windowText),
    row("failed calls' latency", (l) => {
      const f = T(l).failedLatencyMs;
      return f ? `median ${n(f.median)} ms, max ${n(f.max)} ms` : "–";
    }),
    row("acknowledged writes/s", (l) => {
      const a = T(l).ackedPerSecond;
      return `${n(a.before)} before, ${n(a.during)} in the window, ${n(a.after)} after`;
    }),
    row("**instances serving again, no restart**", (l) => {
      const rec = l.recovery ?? [];
      const ok = rec.filter((i) => i.served && !i.restarted);
      const waited = Math.max(0, ...ok.map((i) => i.waitedMs));
      return `${ok.length}/${rec.length} (write + read through each, ${n(waited)} ms)`;
    }),
    row(
      "**write via A, read via B: stale**",
      (l) =>
        `${n(l.checks?.stale ?? 0)} of ${n(l.checks?.made ?? 0)} (${n(l.checks?.unanswered ?? 0)} reads failed)`,
    ),
    row("**values never written**", (l) => n(V(l).unexpected)),
    row("**crashes**", (l) => n(l.crashes)),
    row(
      "failure messages",
      (l) =>
        T(l)
          .messages.slice(0, 4)
          .map(([m, c]) => `"${m}" ×${n(c)}`)
          .join("; ") || "–",
    ),
  ].join("\n");
  const details: string[] = [];
  for (const l of lanes) {
    const problems = laneViolations(r, l);
    if (problems.length === 0) continue;
    details.push(
      [
        `${l.storage}: ${problems.join("; ")}. First cases:`,
        ...V(l).examples.map((e) => `- ${e}`),
        ...(l.checks?.examples ?? []).map((e) => `- stale read: ${e}`),
      ].join("\n"),
    );
  }
  return [...head, table, ...details].join("\n\n");
}
