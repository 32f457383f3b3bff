// Rule: keys are whatever strings a caller sends (Python and Go callers may use "__proto__"):
// Object.prototype names are plain keys, top level and nested, and pollute nothing.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { JsonValue } from "../../core/json.js";
import { resolveLimits } from "../../core/Limits.js";
import { newSessionId } from "../../core/session/ids.js";
import type { Op } from "../../core/storage/Storage.js";
import { type ConformanceSuite, code, LONG, options, set } from "./helpers.js";

/** Object.prototype names as keys, directly and through Session. */
export function prototypeKeys({ fresh, manager }: ConformanceSuite): void {
  const PROTO = "__proto__";
  /** Built by JSON.parse: an object literal cannot hold "__proto__" as a key. */
  const nested = (): JsonValue =>
    JSON.parse('{"__proto__": {"polluted": true}, "list": [{"__proto__": 1}], "constructor": 2}');

  /** The own entries in key order (storages need not keep the order keys were added in). */
  const entries = (data: object | undefined) =>
    JSON.stringify(Object.entries(data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));

  /** Every key an own property, on a plain object, and nothing added to Object.prototype. */
  const assertOwnKeys = (data: object, keys: string[]) => {
    assert.equal(Object.getPrototypeOf(data), Object.prototype, "a plain object");
    assert.deepEqual(Object.keys(data).sort(), [...keys].sort());
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "no pollution");
  };

  it(
    "stores and reads back __proto__ and other Object.prototype names, top level and nested",
    fresh(async (storage) => {
      const id = newSessionId();
      const keys = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
      const ops = keys.map((key, i) => set(key, i === 0 ? nested() : i));
      await storage.apply(id, { ops }, options("create"));
      const record = await storage.read(id, LONG);
      assert.ok(record);
      assertOwnKeys(record.data, keys);
      const proto = record.data[PROTO];
      assert.equal(JSON.stringify(proto), JSON.stringify(nested()));
      assertOwnKeys(proto as object, ["__proto__", "list", "constructor"]);
      const read = await storage.readKey(id, "__proto__", LONG);
      assert.equal(read?.found, true);
      assert.equal(JSON.stringify(read?.value), JSON.stringify(nested()));
      assert.deepEqual(await storage.readKey(id, "isPrototypeOf", LONG), { found: false });
      await storage.apply(id, { ops: [{ type: "remove", key: "__proto__" }] }, options("existing"));
      assertOwnKeys((await storage.read(id, LONG))?.data ?? {}, keys.slice(1));
      assert.deepEqual(await storage.readKey(id, "__proto__", LONG), { found: false });
    }),
  );

  it(
    "increments __proto__, constructor and toString from 0 when absent",
    fresh(async (storage) => {
      const id = newSessionId();
      const keys = ["__proto__", "constructor", "toString"];
      const inc = (delta: number): Op[] => keys.map((key) => ({ type: "increment", key, delta }));
      const first = await storage.apply(id, { ops: inc(2) }, options("create"));
      assertOwnKeys(first?.incremented ?? {}, keys);
      assert.equal(
        entries(first?.incremented),
        '[["__proto__",2],["constructor",2],["toString",2]]',
      );
      const second = await storage.apply(id, { ops: inc(3) }, options("existing"));
      assert.equal(
        entries(second?.incremented),
        '[["__proto__",5],["constructor",5],["toString",5]]',
      );
      const data = (await storage.read(id, LONG))?.data ?? {};
      assertOwnKeys(data, keys);
      assert.equal(entries(data), '[["__proto__",5],["constructor",5],["toString",5]]');
    }),
  );

  it(
    "a refused delta that removed and re-set __proto__ leaves it as it was",
    fresh(async (storage) => {
      const id = newSessionId();
      const limits = resolveLimits({ maxSessionBytes: 100 });
      await storage.apply(id, { ops: [set("__proto__", 1)] }, options("create"));
      const ops: Op[] = [
        { type: "remove", key: "__proto__" },
        set("__proto__", { a: 1 }),
        { type: "remove", key: "__proto__" },
        set("big", "x".repeat(200)),
      ];
      await assert.rejects(
        storage.apply(id, { ops }, options("existing", { limits })),
        code("resource_exhausted"),
      );
      const data = (await storage.read(id, LONG))?.data ?? {};
      assertOwnKeys(data, ["__proto__"]);
      assert.equal(entries(data), '[["__proto__",1]]');
    }),
  );

  it(
    "through Session: set, pending reads, increment, data, commit and regenerate keep __proto__",
    fresh(async (storage) => {
      const m = manager(storage);
      const s = m.session();
      s.set("__proto__", nested());
      s.setMap(JSON.parse('{"__proto__": {"x": 1}, "constructor": "c"}'));
      s.increment("toString", 4);
      // Read before the commit: this session's own pending changes.
      assert.equal(JSON.stringify(await s.get("__proto__")), '{"x":1}');
      assert.equal(await s.contains("hasOwnProperty"), false);
      assertOwnKeys(await s.data(), ["__proto__", "constructor", "toString"]);
      await s.commit();
      const id = s.id as string;
      const again = m.session(id);
      assert.equal(JSON.stringify(await again.get("__proto__")), '{"x":1}');
      assert.equal(await again.get("valueOf"), undefined);
      again.increment("__proto__", 1); // holds an object: refused, nothing written
      await assert.rejects(again.commit(), code("failed_precondition"));
      const third = m.session(id);
      third.increment("constructor", 1);
      await assert.rejects(third.commit(), code("failed_precondition"), "holds a string");
      await third.regenerate();
      const data = await m.session(third.id).data();
      assertOwnKeys(data, ["__proto__", "constructor", "toString"]);
      assert.equal(entries(data), '[["__proto__",{"x":1}],["constructor","c"],["toString",4]]');
    }),
  );
}
