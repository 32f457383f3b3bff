// The arithmetic of `npm run reliability`: how the ledger judges what a storage holds
// against the acknowledged and outcome-unknown writes, how the report counts, and how the
// README section is replaced. The run itself talks to real servers; this checks its verdicts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ABSENT, Ledger } from "../../scripts/reliability/ledger.js";
import {
  README_END,
  README_START,
  withReliabilitySection,
} from "../../scripts/reliability/readmeSection.js";
import { failures, type StorageResult, storageMarkdown } from "../../scripts/reliability/report.js";

const json = (v: unknown) => JSON.stringify(v);
const held = (entries: Record<string, unknown>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, json(v)]));

describe("Ledger.verify", () => {
  test("the last acknowledged value passes; an older acknowledged value is a lost write", () => {
    const ledger = new Ledger();
    ledger.write("s", "a", json("v1"), "acked");
    ledger.write("s", "a", json("v2"), "acked");
    assert.deepEqual(ledger.verify(() => held({ a: "v2" })).lost, 0);
    const stale = ledger.verify(() => held({ a: "v1" }));
    assert.equal(stale.lost, 1);
    assert.match(stale.examples[0], /s a: holds "v1", expected "v2"/);
  });

  test("a write of unknown outcome after the last ack allows either value, nothing else", () => {
    const ledger = new Ledger();
    ledger.write("s", "a", json("v1"), "acked");
    ledger.write("s", "a", json("u1"), "unknown");
    ledger.write("s", "a", json("u2"), "unknown");
    for (const value of ["v1", "u1", "u2"]) {
      assert.equal(ledger.verify(() => held({ a: value })).lost, 0, value);
    }
    assert.equal(ledger.verify(() => held({ a: "v0" })).lost, 1);
    assert.equal(ledger.verify(() => undefined).lost, 1, "the key is gone");
  });

  test("an acknowledged write after an unknown one clears it: the unknown value no longer passes", () => {
    const ledger = new Ledger();
    ledger.write("s", "a", json("u1"), "unknown");
    ledger.write("s", "a", json("v2"), "acked");
    assert.equal(ledger.verify(() => held({ a: "u1" })).lost, 1);
  });

  test("an acknowledged Remove needs the key absent; an unknown Remove allows absence", () => {
    const ledger = new Ledger();
    ledger.write("s", "a", json("v1"), "acked");
    ledger.write("s", "a", ABSENT, "acked");
    assert.equal(ledger.verify(() => held({})).lost, 0);
    assert.equal(ledger.verify(() => held({ a: "v1" })).lost, 1);

    const unsure = new Ledger();
    unsure.write("s", "a", json("v1"), "acked");
    unsure.write("s", "a", ABSENT, "unknown");
    assert.equal(unsure.verify(() => held({})).lost, 0);
    assert.equal(unsure.verify(() => held({ a: "v1" })).lost, 0);
  });

  test("a key never acknowledged may be absent or hold an unknown write; anything else is unexpected", () => {
    const ledger = new Ledger();
    ledger.write("s", "a", json("u1"), "unknown");
    assert.deepEqual(
      [ledger.verify(() => held({})).unexpected, ledger.verify(() => held({ a: "u1" })).unexpected],
      [0, 0],
    );
    const verdict = ledger.verify(() => held({ a: "zzz" }));
    assert.equal(verdict.unexpected, 1);
    assert.equal(verdict.lost, 0);
  });

  test("a counter holds at least the acknowledged increments and at most those plus the unknown", () => {
    const ledger = new Ledger();
    for (let i = 0; i < 5; i++) ledger.increment("s", "n", 1, "acked");
    ledger.increment("s", "n", 1, "unknown");
    ledger.increment("s", "n", 1, "unknown");
    const at = (n: number) => ledger.verify(() => held({ n }));
    assert.equal(at(4).lost, 1);
    assert.equal(at(5).lost + at(6).lost + at(7).lost, 0);
    assert.equal(at(8).unexpected, 1);
    assert.equal(ledger.verify(() => undefined).lost, 1, "an absent counter counts as 0");
  });

  test("extra keys count against strict sessions only", () => {
    const ledger = new Ledger();
    ledger.write("mine", "a", json("v"), "acked");
    ledger.open("target", false);
    ledger.write("target", "keep", json("k"), "acked");
    const verdict = ledger.verify((id) =>
      id === "mine" ? held({ a: "v", stray: 1 }) : held({ keep: "k", "bad-input": 1 }),
    );
    assert.equal(verdict.unexpected, 1);
    assert.match(verdict.examples[0], /mine stray: holds 1, never written/);
  });

  test("a vanished session loses every acknowledged key", () => {
    const ledger = new Ledger();
    ledger.write("s", "a", json("v"), "acked");
    ledger.write("s", "b", json("w"), "acked");
    ledger.increment("s", "n", 1, "acked");
    const verdict = ledger.verify(() => undefined);
    assert.equal(verdict.lost, 3);
    assert.equal(verdict.keys, 3);
    assert.match(verdict.examples[0], /\(session gone\)/);
    assert.equal(ledger.ackedKeys(), 3);
  });
});

function result(overrides: Partial<StorageResult> = {}): StorageResult {
  return {
    storage: "file",
    loadSeconds: 40,
    writers: 12,
    sessions: 50,
    calls: [
      ["Set", 1200],
      ["bad inputs", 300],
    ],
    writes: { acked: 1150, unknown: [["UNAVAILABLE", 50]], refused: [] },
    faults: [
      { kind: "SIGKILL sessiond", count: 3 },
      { kind: "Redis faults", count: 0, skipped: "no Redis behind this storage" },
    ],
    badInputs: {
      byKind: [
        ["malformed id", 100],
        ["invalid UTF-8", 200],
      ],
      expected: 250,
      duringOutage: 40,
      wrong: 10,
      wrongExamples: ["invalid UTF-8: Set key ff → OK"],
    },
    replacedSessions: 0,
    verdict: { keys: 900, lost: 0, unexpected: 0, examples: [] },
    crashes: [],
    errorsLogged: 0,
    errorExamples: [],
    peakRssBytes: 150 * 1024 * 1024,
    ...overrides,
  };
}

describe("report", () => {
  test("one table per storage with the totals it was given", () => {
    const md = storageMarkdown(result());
    assert.match(md, /^#### file\n\n\| file \| \|\n\| --- \| --- \|/);
    assert.match(md, /\| calls made \| 1,500 in 40 s of load \(Set 1,200, bad inputs 300\)/);
    assert.match(
      md,
      /\| writes \| 1,200: 1,150 acknowledged, 50 outcome unknown \(UNAVAILABLE 50\), 0 refused \|/,
    );
    assert.match(
      md,
      /SIGKILL sessiond ×3; Redis faults: not injected, no Redis behind this storage/,
    );
    assert.match(
      md,
      /\| bad inputs tried \| 300 \(malformed id 100, invalid UTF-8 200\): 250 refused/,
    );
    assert.match(md, /\*\*10 answered otherwise\*\*/);
    assert.match(md, /\| acknowledged writes lost \| \*\*0\*\* \(900 keys checked/);
    assert.match(md, /\| peak RSS of sessiond \| 150 MB \|/);
    assert.match(md, /Bad inputs answered otherwise:\n- invalid UTF-8: Set key ff → OK/);
  });

  test("a pipe inside a cell is escaped so the table keeps its columns", () => {
    const md = storageMarkdown(
      result({ writes: { acked: 1, unknown: [], refused: [["a|b", 1]] } }),
    );
    assert.match(md, /a\\\|b/);
  });

  test("lost writes, values never written, crashes and wrong bad-input answers fail the run", () => {
    const answered = { ...result().badInputs, wrong: 0, wrongExamples: [] };
    const clean = result({ badInputs: answered });
    assert.deepEqual(failures([clean]), []);
    const bad = result({
      storage: "redis",
      verdict: { keys: 9, lost: 2, unexpected: 1, examples: [] },
      crashes: [{ at: "t", exit: "signal SIGSEGV", stderr: [] }],
    });
    assert.deepEqual(failures([clean, bad]), [
      "redis: 2 acknowledged writes lost",
      "redis: 1 keys hold values never written",
      "redis: sessiond crashed 1 times",
      "redis: 10 bad inputs answered other than refused",
    ]);
  });
});

describe("README section", () => {
  test("replaces only what stands between the markers", () => {
    const readme = `# x\n\n${README_START}\nold table\n${README_END}\n\nafter\n`;
    const out = withReliabilitySection(readme, "new table\n");
    assert.equal(out, `# x\n\n${README_START}\n\nnew table\n\n${README_END}\n\nafter\n`);
    assert.equal(withReliabilitySection(out, "new table"), out, "idempotent");
  });

  test("refuses a README without the markers", () => {
    assert.throws(() => withReliabilitySection("# x\n", "t"), /lacks the markers/);
  });
});
