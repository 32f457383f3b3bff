// Rule: the apply modes decide whether a delta may create or must find a session; the ops
// of one delta apply in order.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import type { Op } from "../../core/storage/Storage.js";
import { type ConformanceSuite, LONG, options, set } from "./helpers.js";

/** apply's modes (create, existing, upsert) and the ops of one delta. */
export function deltas({ fresh }: ConformanceSuite): void {
  it(
    "apply mode 'create' creates at version 1 and refuses an id that is taken",
    fresh(async (storage) => {
      const id = newSessionId();
      const before = Date.now();
      const created = await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
      assert.ok(created, "create on a free id applies");
      assert.equal(created.version, 1);
      assert.ok(created.createTime >= before - 5 && created.createTime <= Date.now() + 5);
      assert.ok(created.expireTime >= created.createTime + LONG.ttlMs - 5);
      assert.deepEqual(created.incremented, {});
      const again = await storage.apply(id, { ops: [set("a", 2)] }, options("create"));
      assert.equal(again, undefined, "create on a taken id applies nothing");
      const record = await storage.read(id, LONG);
      assert.deepEqual(record?.data, { a: 1 });
      assert.equal(record?.version, 1);
      assert.equal(record?.createTime, created.createTime);
    }),
  );

  it(
    "apply mode 'existing' leaves a missing session missing and updates a live one",
    fresh(async (storage) => {
      const id = newSessionId();
      assert.equal(await storage.apply(id, { ops: [set("a", 1)] }, options("existing")), undefined);
      assert.equal(await storage.read(id, LONG), undefined);
      await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
      const updated = await storage.apply(id, { ops: [set("b", 2)] }, options("existing"));
      assert.equal(updated?.version, 2);
      assert.deepEqual((await storage.read(id, LONG))?.data, { a: 1, b: 2 });
    }),
  );

  it(
    "apply mode 'upsert' creates when missing and updates when live",
    fresh(async (storage) => {
      const id = newSessionId();
      const first = await storage.apply(id, { ops: [set("a", 1)] }, options("upsert"));
      assert.equal(first?.version, 1);
      const second = await storage.apply(id, { ops: [set("b", 2)] }, options("upsert"));
      assert.equal(second?.version, 2);
      assert.equal(second?.createTime, first?.createTime);
      assert.deepEqual((await storage.read(id, LONG))?.data, { a: 1, b: 2 });
    }),
  );

  it(
    "applies set, remove, increment and clear in order, in one delta",
    fresh(async (storage) => {
      const id = newSessionId();
      await storage.apply(
        id,
        { ops: [set("keep", "k"), set("gone", 1), set("n", 10)] },
        options("create"),
      );
      const ops: Op[] = [
        { type: "remove", key: "gone" },
        { type: "remove", key: "never-there" },
        { type: "increment", key: "n", delta: 5 },
        { type: "increment", key: "fresh", delta: -2.5 },
        set("x", 1),
        { type: "remove", key: "x" },
        { type: "remove", key: "y" },
        set("y", 2),
      ];
      const result = await storage.apply(id, { ops }, options("existing"));
      assert.deepEqual(result?.incremented, { n: 15, fresh: -2.5 });
      assert.deepEqual((await storage.read(id, LONG))?.data, {
        keep: "k",
        n: 15,
        fresh: -2.5,
        y: 2,
      });
      const cleared = await storage.apply(
        id,
        { ops: [set("before", 1), { type: "clear" }, set("after", 2)] },
        options("existing"),
      );
      assert.equal(cleared?.version, 3);
      assert.deepEqual((await storage.read(id, LONG))?.data, { after: 2 });
      const emptied = await storage.apply(id, { ops: [{ type: "clear" }] }, options("existing"));
      assert.equal(emptied?.version, 4);
      const record = await storage.read(id, LONG);
      assert.deepEqual(record?.data, {}, "a cleared session still exists, empty");
      assert.equal(record?.version, 4);
    }),
  );
}
