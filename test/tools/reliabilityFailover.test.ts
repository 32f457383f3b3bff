// The arithmetic of the fail-over runs in `npm run reliability`: how an answer is classed,
// how the call-by-call ledger judges what a storage holds, the failure window, the parsing
// of CLUSTER NODES, and which results fail the run. The runs themselves use real servers;
// this checks their verdicts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import {
  type Answer,
  CallLedger,
  type CallRecord,
  classify,
  type Op,
} from "../../scripts/reliability/failover/callLedger.js";
import {
  failoverFailures,
  failoverMarkdown,
  failoverSummary,
} from "../../scripts/reliability/failover/failoverReport.js";
import type { FailoverResult, LaneResult } from "../../scripts/reliability/failover/runFailover.js";
import { scenarios } from "../../scripts/reliability/failover/scenarios.js";
import { genericMessage, timeline } from "../../scripts/reliability/failover/timeline.js";
import { parseClusterNodes } from "../../scripts/reliability/failover/topologies.js";

const codeOf: Record<Answer, status> = {
  acked: status.OK,
  notApplied: status.UNAVAILABLE,
  mayHaveApplied: status.UNAVAILABLE,
  unanswered: status.DEADLINE_EXCEEDED,
};

function call(op: Op, key: string, answer: Answer, extra: Partial<CallRecord> = {}): CallRecord {
  return {
    writer: 0,
    instance: 0,
    op,
    session: "s",
    key,
    value: op === "set" ? JSON.stringify(`v-${key}`) : undefined,
    sentAt: 0,
    answeredAt: 10,
    code: codeOf[answer],
    details: answer === "mayHaveApplied" ? "redis: the write may have been applied" : "",
    answer,
    ...extra,
  };
}

const holding = (entries: Record<string, unknown>) => () =>
  new Map(Object.entries(entries).map(([k, v]) => [k, JSON.stringify(v)]));

function ledgerOf(...records: CallRecord[]): CallLedger {
  const ledger = new CallLedger();
  for (const r of records) ledger.add(r);
  return ledger;
}

describe("classify", () => {
  test("OK is acknowledged; a failure is 'not applied' unless its message says otherwise", () => {
    assert.equal(classify(status.OK, ""), "acked");
    assert.equal(
      classify(status.UNAVAILABLE, "redis unavailable: no answer within 1000 ms"),
      "notApplied",
    );
    assert.equal(
      classify(status.UNAVAILABLE, "redis unavailable: MOVED 3999 127.0.0.1:7001"),
      "notApplied",
    );
    assert.equal(classify(status.INTERNAL, "internal error"), "notApplied");
    assert.equal(
      classify(
        status.UNAVAILABLE,
        "connection lost after the write was sent: it may have been applied",
      ),
      "mayHaveApplied",
    );
    assert.equal(
      classify(status.UNAVAILABLE, "WAIT timed out: the write may exist on the master only"),
      "mayHaveApplied",
    );
  });

  test("a deadline or a stream that died on the client's side leaves the outcome unknown", () => {
    assert.equal(
      classify(status.DEADLINE_EXCEEDED, "Deadline exceeded after 3.001s"),
      "unanswered",
    );
    assert.equal(classify(status.CANCELLED, "Call cancelled"), "unanswered");
    assert.equal(classify(status.UNAVAILABLE, "Connection dropped"), "unanswered");
  });
});

describe("CallLedger.verify", () => {
  test("an acknowledged Set must be found; one answered 'not applied' must not", () => {
    const ledger = ledgerOf(call("set", "a", "acked"), call("set", "b", "notApplied"));
    const clean = ledger.verify(holding({ a: "v-a" }));
    assert.deepEqual([clean.lostAcked, clean.appliedAfterFailure, clean.unexpected], [0, 0, 0]);
    const lost = ledger.verify(holding({}));
    assert.equal(lost.lostAcked, 1);
    assert.match(lost.examples[0] ?? "", /s a: acknowledged Set/);
    const late = ledger.verify(holding({ a: "v-a", b: "v-b" }));
    assert.equal(late.appliedAfterFailure, 1);
    assert.equal(late.appliedAfterFailureByOp.set, 1);
    assert.match(late.examples[0] ?? "", /s b: Set answered UNAVAILABLE/);
  });

  test("a Set of unknown outcome may be found or not", () => {
    for (const answer of ["mayHaveApplied", "unanswered"] as const) {
      const ledger = ledgerOf(call("set", "a", answer));
      for (const held of [holding({}), holding({ a: "v-a" })]) {
        const v = ledger.verify(held);
        assert.deepEqual([v.lostAcked, v.appliedAfterFailure, v.unexpected], [0, 0, 0], answer);
      }
    }
  });

  test("an acknowledged Remove must leave the key gone; one answered 'not applied' must leave it", () => {
    const acked = ledgerOf(call("set", "a", "acked"), call("remove", "a", "acked"));
    assert.equal(acked.verify(holding({})).lostAcked, 0);
    assert.equal(acked.verify(holding({ a: "v-a" })).lostAcked, 1);
    const failed = ledgerOf(call("set", "a", "acked"), call("remove", "a", "notApplied"));
    assert.equal(failed.verify(holding({ a: "v-a" })).appliedAfterFailure, 0);
    const v = failed.verify(holding({}));
    assert.equal(v.appliedAfterFailure, 1);
    assert.equal(v.appliedAfterFailureByOp.remove, 1);
    assert.equal(v.lostAcked, 0);
    const unsure = ledgerOf(call("set", "a", "acked"), call("remove", "a", "mayHaveApplied"));
    assert.equal(unsure.verify(holding({})).appliedAfterFailure, 0);
    assert.equal(unsure.verify(holding({ a: "v-a" })).lostAcked, 0);
  });

  test("a counter: below its acks is lost, above acks + unknown counts the failed ones applied", () => {
    const ledger = ledgerOf(
      call("increment", "n", "acked"),
      call("increment", "n", "acked"),
      call("increment", "n", "mayHaveApplied"),
      call("increment", "n", "notApplied"),
      call("increment", "n", "notApplied"),
    );
    const at = (n: number) => ledger.verify(holding({ n }));
    assert.equal(at(1).lostAcked, 1);
    assert.deepEqual([at(2).lostAcked, at(3).lostAcked, at(3).appliedAfterFailure], [0, 0, 0]);
    assert.equal(at(4).appliedAfterFailure, 1);
    assert.equal(at(5).appliedAfterFailure, 2);
    assert.equal(at(5).appliedAfterFailureByOp.increment, 2);
    assert.equal(at(6).unexpected, 1, "more than was ever sent");
    assert.equal(ledger.verify(holding({})).lostAcked, 2, "absent counts as 0");
  });

  test("a key nobody sent, or a value nobody sent it, is unexpected; exempt keys are not judged", () => {
    const ledger = ledgerOf(call("set", "a", "acked"));
    const stray = ledger.verify(holding({ a: "v-a", zz: 1, setup: "ok" }), (k) => k === "setup");
    assert.equal(stray.unexpected, 1);
    assert.match(stray.examples[0] ?? "", /s zz: never written/);
    assert.equal(ledger.verify(holding({ a: "other" })).unexpected, 1);
  });
});

describe("timeline", () => {
  const at = (answer: Answer, sentAt: number, answeredAt: number, details = "") =>
    call("set", `k${sentAt}`, answer, { sentAt, answeredAt, details });

  test("the window runs from the first to the last failed answer, relative to the fault", () => {
    const records = [
      at("acked", 0, 10),
      at("acked", 990, 1000),
      at("notApplied", 1100, 2100, "redis unavailable: no answer within 1000 ms"),
      at("notApplied", 1200, 2200, "redis unavailable: no answer within 1000 ms"),
      at("unanswered", 1300, 4300, "Deadline exceeded"),
      at("acked", 2400, 2500),
      at("acked", 2900, 3000),
      at("acked", 4000, 4100),
      at("acked", 4100, 5200),
    ];
    const t = timeline(records, 1000, 3000);
    assert.deepEqual(t.window, { fromMs: 1100, toMs: 3300 });
    assert.equal(t.calls, 9);
    assert.equal(t.acked, 6);
    assert.equal(t.pastDeadline, 1);
    assert.deepEqual(t.failedBy, [
      ["notApplied UNAVAILABLE", 2],
      ["unanswered DEADLINE_EXCEEDED", 1],
    ]);
    assert.deepEqual(t.messages[0], ["redis unavailable: no answer within N ms", 2]);
    assert.deepEqual(t.failedLatencyMs, { median: 1000, max: 3000 });
    assert.equal(t.ackedPerSecond.before, 2, "two acks in the second before the fault");
    assert.equal(t.ackedPerSecond.during, 1, "3 acks in the 2.2 s of the window");
    assert.equal(t.ackedPerSecond.after, 1, "the ack at 5200, in the 0.9 s after it");
  });

  test("a call answered after its deadline counts as past it; no failure, no window", () => {
    const t = timeline([at("acked", 0, 3500)], 100, 3000);
    assert.equal(t.pastDeadline, 1);
    assert.equal(t.window, undefined);
  });

  test("messages are grouped with addresses, node ids and numbers blanked", () => {
    assert.equal(
      genericMessage(`MOVED 3999 127.0.0.1:7001 ${"ab".repeat(20)}`),
      "MOVED N <addr> <node>",
    );
  });
});

test("CLUSTER NODES: ports, roles, failure flags, masters and slot counts", () => {
  const id = (c: string) => c.repeat(40);
  const text = [
    `${id("a")} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460`,
    `${id("b")} 127.0.0.1:7001@17001 master,fail - 0 0 2 connected 5461-10922 [5461->-${id("c")}]`,
    `${id("c")} 127.0.0.1:7002@17002 slave ${id("b")} 0 0 2 connected`,
    "",
  ].join("\n");
  const nodes = parseClusterNodes(text);
  assert.deepEqual(
    nodes.map((n) => [n.port, n.master, n.failed, n.masterId?.[0], n.slots]),
    [
      [7000, true, false, undefined, 5461],
      [7001, true, true, undefined, 5462],
      [7002, false, false, "b", 0],
    ],
  );
});

function lane(overrides: Partial<LaneResult> = {}): LaneResult {
  return {
    storage: "redis-hash",
    timeline: timeline([call("set", "a", "acked")], 5, 3000),
    verdict: {
      keys: 1,
      lostAcked: 0,
      appliedAfterFailure: 0,
      appliedAfterFailureByOp: { set: 0, remove: 0, increment: 0 },
      unexpected: 0,
      examples: [],
    },
    checks: { made: 10, stale: 0, unanswered: 0, examples: [] },
    recovery: [{ instance: 0, served: true, waitedMs: 5, restarted: false }],
    crashes: 0,
    ...overrides,
  };
}

describe("fail-over report", () => {
  const [kill, contrast, wait] = scenarios(["cluster-failover", "replica-lag"], {
    storages: ["redis-hash"],
    waitTimeout: "500ms",
  }) as [FailoverResult["scenario"], FailoverResult["scenario"], FailoverResult["scenario"]];
  const [reshard] = scenarios(["reshard"], { storages: ["redis"], waitTimeout: "1s" });
  const run = (scenario: FailoverResult["scenario"], l: LaneResult): FailoverResult => ({
    scenario,
    topology: "t",
    lanes: [l],
    seconds: 1,
  });

  test("the scenarios: replica lag runs without and with waiting; only waiting passes the flags", () => {
    assert.equal(contrast.lossExpected, true);
    assert.deepEqual(contrast.sessiondArgs, []);
    assert.deepEqual(wait.sessiondArgs, [
      "--redis-wait-replicas",
      "1",
      "--redis-wait-timeout",
      "500ms",
    ]);
    assert.equal(reshard?.noFailedCalls, true);
  });

  test("a clean run passes; each 'must be 0' that is not fails it", () => {
    assert.deepEqual(failoverFailures([run(kill, lane())]), []);
    const verdict = { ...(lane().verdict as NonNullable<LaneResult["verdict"]>) };
    const bad = lane({
      verdict: { ...verdict, lostAcked: 2, appliedAfterFailure: 3, unexpected: 1 },
      checks: { made: 10, stale: 1, unanswered: 0, examples: [] },
      recovery: [
        {
          instance: 1,
          served: false,
          waitedMs: 20_000,
          restarted: false,
          lastError: "UNAVAILABLE x",
        },
      ],
      crashes: 1,
    });
    const failures = failoverFailures([run(kill, bad)]);
    const prefix = `${kill.title} [redis-hash]: `;
    assert.deepEqual(failures, [
      `${prefix}2 acknowledged writes lost`,
      `${prefix}3 writes answered as failed (not "may have been applied") were applied`,
      `${prefix}1 values never written`,
      `${prefix}instance(s) 1 (UNAVAILABLE x) did not serve again`,
      `${prefix}1 stale reads (write via A, read via B)`,
      `${prefix}sessiond crashed 1 times`,
    ]);
  });

  test("the contrast run's losses are reported, not failed; applied-after-failure still fails", () => {
    const verdict = lane().verdict as NonNullable<LaneResult["verdict"]>;
    const lossy = lane({ verdict: { ...verdict, lostAcked: 50 } });
    assert.deepEqual(failoverFailures([run(contrast, lossy)]), []);
    assert.match(failoverSummary([run(contrast, lossy)]), /\| 50 \(contrast\) \|/);
    const late = lane({ verdict: { ...verdict, lostAcked: 50, appliedAfterFailure: 1 } });
    assert.equal(failoverFailures([run(contrast, late)]).length, 1);
    // A failed Remove whose key is gone: a lost Set explains it too, where Sets are lost.
    const byOp = { set: 0, remove: 2, increment: 0 };
    const gone = lane({
      verdict: { ...verdict, lostAcked: 50, appliedAfterFailure: 2, appliedAfterFailureByOp: byOp },
    });
    assert.deepEqual(failoverFailures([run(contrast, gone)]), []);
    assert.match(failoverMarkdown(run(contrast, gone)), /not counted: 2 Removes answered failed/);
    assert.equal(
      failoverFailures([
        run(kill, {
          ...gone,
          verdict: { ...verdict, appliedAfterFailure: 2, appliedAfterFailureByOp: byOp },
        }),
      ]).length,
      1,
    );
  });

  test("a reshard fails on any failed call; a run that could not be made fails with its reason", () => {
    const failedCall = lane({
      timeline: timeline([call("set", "a", "notApplied", { details: "MOVED 1 x:1" })], 0, 3000),
    });
    assert.deepEqual(failoverFailures([run(reshard as FailoverResult["scenario"], failedCall)]), [
      `${reshard?.title} [redis-hash]: 1 failed calls`,
    ]);
    const refused: FailoverResult = {
      scenario: wait,
      error: 'sessiond did not start: unknown option "--redis-wait-replicas"',
      lanes: [],
      seconds: 1,
    };
    assert.match(failoverFailures([refused])[0] ?? "", /could not run: sessiond did not start/);
    assert.match(failoverMarkdown(refused), /\*\*Could not run:\*\* sessiond did not start/);
    assert.match(failoverSummary([refused]), /\*\*FAILED\*\*/);
  });

  test("the scenario table has a column per storage and the numbers it was given", () => {
    const md = failoverMarkdown(run(kill, lane()));
    assert.match(md, /^#### Cluster 3\+3: SIGKILL of a master\n\nSet-up: t\. Run took 1 s\./);
    assert.match(md, /\| \| redis-hash \|\n\| --- \| --- \|/);
    assert.match(md, /\| writes \(acknowledged\) \| 1 \(1\) \|/);
    assert.match(md, /\| \*\*instances serving again, no restart\*\* \| 1\/1 /);
    assert.match(md, /\| \*\*write via A, read via B: stale\*\* \| 0 of 10 /);
  });
});
