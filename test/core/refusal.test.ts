// Refusals as data (issue 11): applyOps' outcome names each refusal, refusalError words
// it, and the size check Limits.ts still exports for storage authors words it alike.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  checkSessionSize,
  defaultLimits,
  type Limits,
  sizeRefusal,
} from "../../src/core/Limits.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { refusalError } from "../../src/core/Refusal.js";
import { SessionError } from "../../src/core/SessionError.js";
import {
  applyDelta,
  applyOps,
  tryApplyOps,
  versionRefusal,
} from "../../src/core/storage/applyOps.js";
import type { ApplyOptions } from "../../src/core/storage/Storage.js";

const LIMITS: Limits = { ...defaultLimits, maxKeys: 2, maxSessionBytes: 20 };

describe("applyOps outcomes", () => {
  test("a refused delta is an outcome naming the refusal, not a throw", () => {
    assert.deepStrictEqual(tryApplyOps({ s: "x" }, [{ type: "increment", key: "s", delta: 1 }]), {
      ok: false,
      refusal: { kind: "notNumber", key: "s", holds: "string" },
    });
    assert.deepStrictEqual(
      tryApplyOps({}, [
        { type: "increment", key: "n", delta: Number.MAX_VALUE },
        {
          type: "increment",
          key: "n",
          delta: Number.MAX_VALUE,
        },
      ]),
      { ok: false, refusal: { kind: "overflow", key: "n" } },
    );
    assert.deepStrictEqual(
      tryApplyOps({}, [{ type: "set", key: "a", value: "0123456789abcdefghij" }], LIMITS),
      { ok: false, refusal: { kind: "tooManyBytes", bytes: 23, maxSessionBytes: 20 } },
    );
    assert.deepStrictEqual(applyDelta({}, 3, { ops: [], expectedVersion: 2 }, LIMITS), {
      ok: false,
      refusal: { kind: "version", expected: 2, actual: 3 },
    });
    const ok = applyDelta(
      { n: 1 },
      3,
      { ops: [{ type: "increment", key: "n", delta: 2 }], expectedVersion: 3 },
      LIMITS,
    );
    assert.deepStrictEqual(ok, { ok: true, data: { n: 3 }, incremented: { n: 3 } });
  });

  test("applyOps throws the refusal's error, for Session and storage authors", () => {
    assert.throws(
      () => applyOps({ s: [] }, [{ type: "increment", key: "s", delta: 1 }]),
      (err: unknown) =>
        err instanceof SessionError &&
        err.code === "failed_precondition" &&
        err.message === 'cannot increment key "s": it holds a array, not a number',
    );
  });

  test("checkSessionSize words its refusals as refusalError does", () => {
    for (const [keys, bytes] of [
      [3, 0],
      [0, 21],
      [3, 21],
    ] as const) {
      const refusal = sizeRefusal(keys, bytes, LIMITS);
      assert.ok(refusal);
      assert.throws(
        () => checkSessionSize(keys, bytes, LIMITS),
        (err: unknown) =>
          err instanceof SessionError &&
          err.code === refusalError(refusal).code &&
          err.message === refusalError(refusal).message,
      );
    }
    assert.equal(sizeRefusal(2, 20, LIMITS), undefined);
    assert.equal(versionRefusal(undefined, 4), undefined);
    assert.equal(versionRefusal(4, 4), undefined);
  });
});

describe("memory storage's own refusals", () => {
  const opts: ApplyOptions = { mode: "upsert", ttlMs: 60_000, limits: defaultLimits };

  test("maxSessions and maxTotalBytes are worded by refusalError", async () => {
    const storage = new MemoryStorage({ maxSessions: 1, maxTotalBytes: 2000 });
    try {
      await storage.apply("a", { ops: [] }, opts);
      await assert.rejects(
        storage.apply("b", { ops: [] }, opts),
        refusalError({ kind: "tooManySessions", sessions: 1, maxSessions: 1 }),
      );
      const used = storage.budget.usedBytes;
      const big = { ops: [{ type: "set" as const, key: "k", value: "x".repeat(4000) }] };
      await assert.rejects(storage.apply("a", big, opts), (err: unknown) => {
        assert.ok(err instanceof SessionError);
        const growth = Number(/needs (\d+) more bytes/.exec(err.message)?.[1]);
        assert.ok(growth > 4000, err.message);
        assert.deepStrictEqual(
          err,
          refusalError({ kind: "memoryFull", growth, used, maxTotalBytes: 2000 }),
        );
        return true;
      });
      assert.equal(storage.budget.usedBytes, used, "a refused write costs nothing");
    } finally {
      await storage.close();
    }
  });
});
