// Rule: a request too big to be worth reading is refused before any work.
import assert from "node:assert/strict";
import { it } from "node:test";
import { resolveLimits } from "../../core/Limits.js";
import type { Op } from "../../core/storage/Storage.js";
import { type ConformanceSuite, code, LONG, options, set, storedSession } from "./helpers.js";

/** Bounds on one request (maxOps). */
export function bounds({ fresh }: ConformanceSuite): void {
  it(
    "refuses a delta of more than maxOps ops before any work, changing nothing",
    fresh(async (storage) => {
      const id = await storedSession(storage, { keep: 1 });
      const limits = resolveLimits({ maxOps: 10 });
      const ops = Array.from({ length: 11 }, (_, i) => set(`k${i}`, i));
      await assert.rejects(
        storage.apply(id, { ops }, options("existing", { limits })),
        (err: unknown) => code("resource_exhausted")(err) && /maxOps=10/.test(String(err)),
      );
      const removes: Op[] = Array.from({ length: 50_000 }, (_, i) => ({
        type: "remove",
        key: `k${i}`,
      }));
      await assert.rejects(
        storage.apply(id, { ops: removes }, options("existing")),
        code("resource_exhausted"),
      );
      const record = await storage.read(id, LONG);
      assert.deepEqual(record?.data, { keep: 1 });
      assert.equal(record?.version, 1);
      const exactly = Array.from({ length: 10 }, (_, i) => set(`k${i}`, i));
      assert.ok(await storage.apply(id, { ops: exactly }, options("existing", { limits })));
    }),
  );
}
