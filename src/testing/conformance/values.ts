// Rule: keys and values read back exactly as written, and are copied in and out.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import { type ConformanceSuite, LONG, options, set } from "./helpers.js";
import { ROUND_TRIP_VALUES } from "./roundTripValues.js";

/** Keys a storage must hold as given: separators, dots, unicode, Object.prototype names. */
const ODD_KEYS = [
  "a/b",
  "../x",
  "k.with.dots",
  "😀",
  "constructor",
  "toString",
  "hasOwnProperty",
  " ",
];

/** Odd keys, every kind of JSON value, and copies in and out. */
export function values({ fresh }: ConformanceSuite): void {
  it(
    "holds keys with separators, unicode and Object.prototype names as plain keys",
    fresh(async (storage) => {
      const id = newSessionId();
      const data = Object.fromEntries(ODD_KEYS.map((key, i) => [key, i]));
      await storage.apply(id, { ops: ODD_KEYS.map((key, i) => set(key, i)) }, options("create"));
      assert.deepEqual((await storage.read(id, LONG))?.data, data);
      for (const [i, key] of ODD_KEYS.entries()) {
        assert.deepEqual(await storage.readKey(id, key, LONG), { found: true, value: i }, key);
      }
      assert.deepEqual(await storage.readKey(id, "valueOf", LONG), { found: false });
    }),
  );

  it(
    "round-trips every kind of JSON value exactly",
    fresh(async (storage) => {
      const id = newSessionId();
      const ops = Object.entries(ROUND_TRIP_VALUES).map(([key, value]) => set(key, value));
      await storage.apply(id, { ops }, options("create"));
      const record = await storage.read(id, LONG);
      assert.deepStrictEqual(record?.data, { ...ROUND_TRIP_VALUES });
      for (const [key, value] of Object.entries(ROUND_TRIP_VALUES)) {
        assert.deepStrictEqual(await storage.readKey(id, key, LONG), { found: true, value }, key);
      }
    }),
  );

  it(
    "copies values in and out: callers never share live state with the storage",
    fresh(async (storage) => {
      const id = newSessionId();
      const value = { list: [1, 2], inner: { x: "a" } };
      await storage.apply(id, { ops: [set("v", value)] }, options("create"));
      value.list.push(3);
      value.inner.x = "changed after apply";
      const read = await storage.read(id, LONG);
      assert.ok(read);
      assert.deepEqual(read.data.v, { list: [1, 2], inner: { x: "a" } });
      (read.data.v as { list: number[] }).list.push(4);
      read.data.extra = true;
      const key = await storage.readKey(id, "v", LONG);
      assert.ok(key?.found);
      (key.value as { inner: { x: string } }).inner.x = "changed after readKey";
      const again = await storage.read(id, LONG);
      assert.deepEqual(again?.data, { v: { list: [1, 2], inner: { x: "a" } } });
    }),
  );
}
