// Rule: limits are checked on the merged result, and a refused delta leaves nothing of itself
// behind, not even in the size the storage keeps.
import assert from "node:assert/strict";
import { it } from "node:test";
import { type Limits, resolveLimits } from "../../core/Limits.js";
import type { SessionError } from "../../core/SessionError.js";
import { newSessionId } from "../../core/session/ids.js";
import type { ApplyMode, Op } from "../../core/storage/Storage.js";
import { type ConformanceSuite, code, LONG, options, set } from "./helpers.js";

/** Limits on a session and the atomicity of refused deltas. */
export function limits({ fresh }: ConformanceSuite): void {
  it(
    "a refused delta that overwrote, removed and added keys first leaves every key as it was",
    fresh(async (storage) => {
      const id = newSessionId();
      const start = { a: 1, b: { deep: [1, 2] }, c: "text" };
      const ops = Object.entries(start).map(([key, value]) => set(key, value));
      await storage.apply(id, { ops }, options("create"));
      const refused: [Op[], SessionError["code"]][] = [
        // Refused by an op: incrementing a string.
        [
          [
            set("a", 2),
            { type: "remove", key: "b" },
            set("d", 4),
            { type: "increment", key: "c", delta: 1 },
          ],
          "failed_precondition",
        ],
        // Refused by a limit on the result, after the same kinds of change.
        [
          [set("a", 2), { type: "remove", key: "b" }, set("d", "x".repeat(2000))],
          "resource_exhausted",
        ],
      ];
      const limits = resolveLimits({ maxSessionBytes: 1000 });
      for (const [delta, why] of refused) {
        await assert.rejects(
          storage.apply(id, { ops: delta }, options("existing", { limits })),
          code(why),
        );
        const after = await storage.read(id, LONG);
        assert.deepEqual(after?.data, start, "nothing of the delta applied");
        assert.equal(after?.version, 1);
      }
      // The size the storage keeps was not thrown off either: the same limit still admits what fits.
      const fits = await storage.apply(
        id,
        { ops: [set("d", "x".repeat(900))] },
        options("existing", { limits }),
      );
      assert.equal(fits?.version, 2);
      await assert.rejects(
        storage.apply(id, { ops: [set("e", "x".repeat(100))] }, options("existing", { limits })),
        code("resource_exhausted"),
      );
    }),
  );

  it(
    "checks maxKeys and maxSessionBytes on the merged result, writing nothing partial",
    fresh(async (storage) => {
      const limits: Limits = resolveLimits({ maxKeys: 4, maxSessionBytes: 200 });
      const id = newSessionId();
      const opts = (mode: ApplyMode) => options(mode, { limits });
      await assert.rejects(
        storage.apply(id, { ops: ["a", "b", "c", "d", "e"].map((k) => set(k, 1)) }, opts("create")),
        code("resource_exhausted"),
      );
      assert.equal(await storage.read(id, LONG), undefined, "nothing created");
      await storage.apply(id, { ops: ["a", "b", "c"].map((k) => set(k, 1)) }, opts("create"));
      await assert.rejects(
        storage.apply(id, { ops: [set("d", 1), set("e", 1)] }, opts("existing")),
        code("resource_exhausted"),
      );
      // The limit applies to the result, not to the ops: adding two and removing one fits.
      const fits = await storage.apply(
        id,
        { ops: [set("d", 1), set("e", 1), { type: "remove", key: "a" }] },
        opts("existing"),
      );
      assert.equal(fits?.version, 2);
      await assert.rejects(
        storage.apply(id, { ops: [set("b", "y".repeat(200))] }, opts("existing")),
        code("resource_exhausted"),
      );
      const record = await storage.read(id, LONG);
      assert.deepEqual(record?.data, { b: 1, c: 1, d: 1, e: 1 });
      assert.equal(record?.version, 2);
    }),
  );
}
