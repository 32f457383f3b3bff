// Rule: every applied delta grows the version by one; an expected version that does not
// match applies nothing.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import { type ConformanceSuite, code, LONG, options, set, storedSession } from "./helpers.js";

/** Versions and expected-version checks. */
export function versions({ fresh }: ConformanceSuite): void {
  it(
    "grows the version by one per applied delta; reads and touches leave it",
    fresh(async (storage) => {
      const id = await storedSession(storage, { a: 0 });
      for (let v = 2; v <= 6; v++) {
        const r = await storage.apply(id, { ops: [set("a", v)] }, options("existing"));
        assert.equal(r?.version, v);
      }
      await storage.read(id, LONG);
      await storage.readKey(id, "a", LONG);
      const touched = await storage.touch(id, LONG);
      assert.equal(touched?.version, 6);
      const empty = await storage.apply(id, { ops: [] }, options("existing"));
      assert.equal(empty?.version, 7, "an empty delta is still an applied write");
      assert.equal((await storage.read(id, LONG))?.version, 7);
    }),
  );

  it(
    "applies nothing on an expected-version mismatch (aborted)",
    fresh(async (storage) => {
      const id = newSessionId();
      await assert.rejects(
        storage.apply(id, { ops: [set("a", 1)], expectedVersion: 1 }, options("upsert")),
        code("aborted"),
      );
      assert.equal(await storage.read(id, LONG), undefined, "nothing created");
      const made = await storage.apply(
        id,
        { ops: [set("a", 1)], expectedVersion: 0 },
        options("upsert"),
      );
      assert.equal(made?.version, 1, "a missing session is at version 0");
      for (const wrong of [0, 2, 7]) {
        await assert.rejects(
          storage.apply(
            id,
            { ops: [set("a", 99), set("b", 1)], expectedVersion: wrong },
            options("existing"),
          ),
          code("aborted"),
        );
      }
      const record = await storage.read(id, LONG);
      assert.deepEqual(record?.data, { a: 1 });
      assert.equal(record?.version, 1);
      const ok = await storage.apply(
        id,
        { ops: [set("a", 2)], expectedVersion: 1 },
        options("existing"),
      );
      assert.equal(ok?.version, 2);
    }),
  );
}
