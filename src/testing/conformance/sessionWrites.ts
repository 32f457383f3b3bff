// Rule: through Manager and Session, commits are versioned, copied, limited and atomic,
// and concurrent Sessions on one id lose nothing.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import { type ConformanceSuite, code, createdSession, LONG } from "./helpers.js";
import { ROUND_TRIP_VALUES } from "./roundTripValues.js";

/** Writes through Manager and Session: versions, values, limits, increments, concurrency. */
export function sessionWrites({ fresh, manager }: ConformanceSuite): void {
  it(
    "grows the version with each commit and honours expectedVersion (aborted, nothing applied)",
    fresh(async (storage) => {
      const m = manager(storage);
      const s = m.session();
      s.set("a", 1);
      assert.equal((await s.commit({ expectedVersion: 0 }))?.version, 1);
      const id = s.id as string;
      const t = m.session(id);
      t.set("a", 2);
      assert.equal((await t.commit({ expectedVersion: 1 }))?.version, 2);
      assert.equal(t.version, 2);
      const stale = m.session(id);
      stale.set("a", 3);
      stale.set("b", 3);
      await assert.rejects(stale.commit({ expectedVersion: 1 }), code("aborted"));
      assert.equal(stale.isDirty, false, "a refused delta is dropped");
      const record = await storage.read(id, LONG);
      assert.deepEqual(record?.data, { a: 2 });
      assert.equal(record?.version, 2);
      const ghost = m.session(newSessionId());
      ghost.set("a", 1);
      await assert.rejects(ghost.commit({ expectedVersion: 3 }), code("aborted"));
      assert.equal(ghost.id !== undefined && ghost.idIssued, false, "no session was created");
    }),
  );

  it(
    "round-trips values through Session; -0 is stored as 0 everywhere",
    fresh(async (storage) => {
      const m = manager(storage);
      const s = m.session();
      s.setMap({ ...ROUND_TRIP_VALUES });
      s.set("negativeZero", -0);
      await s.commit();
      const expected = { ...ROUND_TRIP_VALUES, negativeZero: 0 };
      assert.deepStrictEqual(await m.session(s.id).data(), expected);
      const fresh = m.session(s.id);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepStrictEqual(await fresh.get(key), value, key);
      }
    }),
  );

  it(
    "copies: mutating a value after set or after get changes nothing stored",
    fresh(async (storage) => {
      const m = manager(storage);
      const s = m.session();
      const value = { list: [1], inner: { x: 1 } };
      s.set("v", value);
      value.list.push(2);
      assert.deepEqual(await s.get("v"), { list: [1], inner: { x: 1 } }, "before commit");
      await s.commit();
      value.inner.x = 2;
      const reader = m.session(s.id);
      const got = (await reader.get("v")) as { list: number[] };
      got.list.push(3);
      const all = await reader.data();
      (all.v as { inner: { x: number } }).inner.x = 3;
      assert.deepEqual(await reader.get("v"), { list: [1], inner: { x: 1 } });
      assert.deepEqual(await m.session(s.id).get("v"), { list: [1], inner: { x: 1 } });
    }),
  );

  it(
    "enforces limits with typed errors and writes nothing",
    fresh(async (storage) => {
      const m = manager(storage, {
        limits: { maxKeys: 3, maxValueBytes: 100, maxSessionBytes: 150, maxKeyBytes: 10 },
      });
      const s = m.session();
      assert.throws(() => s.set("big", "x".repeat(200)), code("resource_exhausted"));
      assert.throws(() => s.set("k".repeat(11), 1), code("invalid_argument"));
      assert.throws(() => s.setMap({ ok: 1, bad: "x".repeat(200) }), code("resource_exhausted"));
      assert.equal(s.isDirty, false, "a rejected setMap queues nothing");
      s.setMap({ a: 1, b: 2 });
      await s.commit();
      const id = s.id as string;
      const over = m.session(id);
      over.setMap({ c: 3, d: 4 });
      await assert.rejects(over.commit(), code("resource_exhausted"));
      const heavy = m.session(id);
      heavy.setMap({ a: "y".repeat(80), b: "y".repeat(80) });
      await assert.rejects(heavy.commit(), code("resource_exhausted"));
      const record = await storage.read(id, LONG);
      assert.deepEqual(record?.data, { a: 1, b: 2 });
      assert.equal(record?.version, 1);
    }),
  );

  it(
    "increment: absent is 0; a non-number fails the commit with nothing applied",
    fresh(async (storage) => {
      const m = manager(storage);
      const s = m.session();
      s.increment("n");
      s.increment("n", 4);
      assert.equal(await s.get("n"), 5, "pending increments show in this session's reads");
      s.set("name", "text");
      const made = await s.commit();
      assert.deepEqual(made?.incremented, { n: 5 });
      const t = m.session(s.id);
      t.set("side", true);
      t.increment("name", 1);
      await assert.rejects(t.commit(), code("failed_precondition"));
      assert.deepEqual((await storage.read(s.id as string, LONG))?.data, {
        n: 5,
        name: "text",
      });
    }),
  );

  it(
    "50 concurrent Sessions on one id each set their own key: all 50 keys survive",
    fresh(async (storage) => {
      const m = manager(storage);
      const id = await createdSession(m, { origin: true });
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const s = m.session(id);
          assert.equal(await s.contains("origin"), true); // each request reads first
          s.set(`key${i}`, i);
          await s.commit();
          assert.equal(s.id, id);
        }),
      );
      const data = await m.session(id).data();
      assert.equal(Object.keys(data).length, 51);
      for (let i = 0; i < 50; i++) assert.equal(data[`key${i}`], i);
      assert.equal((await m.session(id).describe()).version, 51);
    }),
  );

  it(
    "50 concurrent increments from separate Sessions give the exact total",
    fresh(async (storage) => {
      const m = manager(storage);
      const id = await createdSession(m, { hits: 0 });
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const s = m.session(id);
          s.increment("hits", i + 1);
          await s.commit();
        }),
      );
      assert.equal(await m.session(id).get("hits"), (50 * 51) / 2);
    }),
  );
}
