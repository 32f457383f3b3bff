// A bounded, seeded fuzz run of every SessionService RPC against a sessiond child process
// on each storage (scripts/fuzz explains the cases and properties). Pin the seed with
// FUZZ_SEED=n, change the number of cases with FUZZ_COUNT=n; `npm run fuzz -- --count N`
// runs longer. A failure prints its seed, its case and a one-line reproduction.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { STORAGES } from "../../scripts/fuzz/FuzzTarget.js";
import { type Control, genCase, genSetup } from "../../scripts/fuzz/generateCase.js";
import { genRequest } from "../../scripts/fuzz/generateRequest.js";
import { canonical, decodeStruct, type Json, setOwn } from "../../scripts/fuzz/jsonModel.js";
import { Rng } from "../../scripts/fuzz/Rng.js";
import { ResponseFields } from "../../scripts/fuzz/responseFields.js";
import { formatFailure, formatReport, fuzzStorage } from "../../scripts/fuzz/runFuzz.js";
import { GetDataResponse, SetRequest } from "../../src/gen/sessiond/v1/session.js";

const SEED =
  process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED);
const COUNT = Number(process.env.FUZZ_COUNT ?? 300);
/** Per storage: no new case starts after this. Keeps the file well under a minute; never a failure. */
const BUDGET_MS = 10_000;

describe("the fuzz generator", () => {
  test("a case is a function of (seed, index) alone", () => {
    const control: Control = { id: "a".repeat(32), data: { counter: 1 }, version: 2 };
    for (let i = 0; i < 50; i++) {
      const a = Rng.forCase(SEED, i);
      const b = Rng.forCase(SEED, i);
      assert.deepEqual(genSetup(a), genSetup(b));
      assert.deepEqual(JSON.stringify(genCase(a, control)), JSON.stringify(genCase(b, control)));
    }
  });

  test("well-formed requests are the bytes the generated client would decode to the same message", () => {
    let checked = 0;
    for (let i = 0; checked < 200 && i < 5000; i++) {
      const rng = new Rng(SEED + i);
      const req = genRequest(rng, "Set", { exists: true, data: {}, version: 1 });
      if (req.problems.length > 0 || req.leeway.length > 0 || req.effect?.kind !== "write")
        continue;
      const decoded = SetRequest.decode(req.bytes);
      const written = req.effect.data[decoded.key];
      // Object keys named __proto__ are lost by the generated decoder; compare the rest.
      if (JSON.stringify(written).includes('"__proto__"')) continue;
      assert.equal(canonical(decoded.value), canonical(written), req.label);
      checked++;
    }
    assert.ok(checked >= 100, `only ${checked} well-formed Set requests generated`);
  });

  test("responses are read as the generated encoder writes them, a leading U+FEFF included", () => {
    const data = { a: [1, "x", null, true, { b: -0.5 }], "\ufeffk": "v", "": 0 };
    const fields = new ResponseFields(GetDataResponse.encode({ data }).finish());
    assert.equal(canonical(decodeStruct(fields.bytes(1) as Uint8Array)), canonical(data));
  });

  test("a __proto__ key is an own key of the model, compared like any other", () => {
    const a: Record<string, Json> = {};
    setOwn(a, "__proto__", 1);
    assert.deepEqual(Object.keys(a), ["__proto__"]);
    assert.notEqual(canonical(a), canonical({}));
    assert.equal(canonical(a), canonical(JSON.parse('{"__proto__":1}')));
  });
});

describe(`fuzz every RPC, seed=${SEED}`, { concurrency: 2 }, () => {
  for (const storage of STORAGES) {
    test(`${storage}: the server never exits, statuses are documented, rejected requests change nothing, no stray files (seed=${SEED})`, async (t) => {
      const report = await fuzzStorage(storage, {
        seed: SEED,
        count: COUNT,
        budgetMs: BUDGET_MS,
        maxFailures: 5,
      });
      t.diagnostic(formatReport(report));
      assert.ok(report.cases > 0, "no case ran");
      assert.equal(
        report.failures.length,
        0,
        `\n${report.failures.map(formatFailure).join("\n")}\n(seed=${SEED}; FUZZ_SEED=${SEED} npm test repeats this run)`,
      );
    });
  }
});
