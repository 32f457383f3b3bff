// Rule: an increment counts an absent key as 0 and fails the whole delta on a non-number.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { JsonValue } from "../../core/json.js";
import { newSessionId } from "../../core/session/ids.js";
import { type ConformanceSuite, code, LONG, options, set } from "./helpers.js";

/** Increments through the Storage interface. */
export function increments({ fresh }: ConformanceSuite): void {
  it(
    "increments: absent counts as 0; a non-number fails the whole delta",
    fresh(async (storage) => {
      const id = newSessionId();
      const first = await storage.apply(
        id,
        { ops: [{ type: "increment", key: "n", delta: 3 }, set("s", "text")] },
        options("create"),
      );
      assert.deepEqual(first?.incremented, { n: 3 });
      const second = await storage.apply(
        id,
        {
          ops: [
            { type: "increment", key: "n", delta: 0.5 },
            { type: "increment", key: "n", delta: -10 },
          ],
        },
        options("existing"),
      );
      assert.deepEqual(second?.incremented, { n: -6.5 });
      const odd: [string, JsonValue][] = [
        ["s", "text"],
        ["nul", null],
        ["arr", [1]],
        ["obj", { a: 1 }],
        ["bool", true],
      ];
      for (const [key, value] of odd) {
        if (key !== "s") await storage.apply(id, { ops: [set(key, value)] }, options("existing"));
        const before = await storage.read(id, LONG);
        await assert.rejects(
          storage.apply(
            id,
            { ops: [set("side", 1), { type: "increment", key, delta: 1 }] },
            options("existing"),
          ),
          code("failed_precondition"),
        );
        const after = await storage.read(id, LONG);
        assert.deepEqual(after?.data, before?.data, "nothing of the delta applied");
        assert.equal(after?.version, before?.version);
      }
    }),
  );
}
