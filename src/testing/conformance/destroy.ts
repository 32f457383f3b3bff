// Rule: destroy hard-deletes, is idempotent, and frees the id.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import { type ConformanceSuite, LONG, options, set } from "./helpers.js";

/** destroy. */
export function destroy({ fresh }: ConformanceSuite): void {
  it(
    "destroy hard-deletes and is idempotent; the id can then be created afresh",
    fresh(async (storage) => {
      const id = newSessionId();
      const other = newSessionId();
      await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
      await storage.apply(other, { ops: [set("b", 2)] }, options("create"));
      await storage.destroy(id);
      await storage.destroy(id);
      assert.equal(await storage.read(id, LONG), undefined);
      assert.equal(await storage.readKey(id, "a", LONG), undefined);
      assert.equal(await storage.apply(id, { ops: [set("a", 2)] }, options("existing")), undefined);
      assert.deepEqual((await storage.read(other, LONG))?.data, { b: 2 }, "others untouched");
      const again = await storage.apply(id, { ops: [set("c", 3)] }, options("create"));
      assert.equal(again?.version, 1);
      assert.deepEqual((await storage.read(id, LONG))?.data, { c: 3 });
    }),
  );
}
