// Rule: concurrent deltas on one id are serialised: none is lost.
import assert from "node:assert/strict";
import { it } from "node:test";
import { type ConformanceSuite, LONG, options, set, storedSession } from "./helpers.js";

/** Concurrent writes through the Storage interface. */
export function concurrency({ fresh }: ConformanceSuite): void {
  it(
    "serialises 50 concurrent deltas on one id: every key and every increment lands",
    fresh(async (storage) => {
      const id = await storedSession(storage, { n: 0 });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          storage.apply(
            id,
            { ops: [set(`k${i}`, i), { type: "increment", key: "n", delta: i + 1 }] },
            options("existing"),
          ),
        ),
      );
      const versions = results.map((r) => r?.version).sort((a, b) => (a ?? 0) - (b ?? 0));
      assert.deepEqual(
        versions,
        Array.from({ length: 50 }, (_, i) => i + 2),
      );
      const record = await storage.read(id, LONG);
      assert.equal(record?.data.n, (50 * 51) / 2);
      for (let i = 0; i < 50; i++) assert.equal(record?.data[`k${i}`], i);
      assert.equal(record?.version, 51);
    }),
  );
}
