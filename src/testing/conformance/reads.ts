// Rule: a missing session reads as missing; readKey tells present keys from absent ones.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import { type ConformanceSuite, LONG, storedSession } from "./helpers.js";

/** Reads of missing sessions and of single keys. */
export function reads({ fresh }: ConformanceSuite): void {
  it(
    "reports a missing session as undefined from every read",
    fresh(async (storage) => {
      const id = newSessionId();
      assert.equal(await storage.read(id, LONG), undefined);
      assert.equal(await storage.readKey(id, "k", LONG), undefined);
      assert.equal(await storage.touch(id, LONG), undefined);
      await storage.destroy(id); // idempotent on a missing session
      await storage.ping();
    }),
  );

  it(
    "readKey finds present keys only",
    fresh(async (storage) => {
      const id = await storedSession(storage, { a: { b: [1] }, n: null });
      assert.deepEqual(await storage.readKey(id, "a", LONG), {
        found: true,
        value: { b: [1] },
      });
      assert.deepEqual(await storage.readKey(id, "n", LONG), { found: true, value: null });
      assert.deepEqual(await storage.readKey(id, "zz", LONG), { found: false });
    }),
  );
}
