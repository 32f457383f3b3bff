// Rule: regenerate moves a session to a new id in one atomic step: no write is lost, one
// of racing regenerates wins, and the absolute lifetime carries over.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import { idInFamily } from "../../core/storage/idFamily.js";
import { sleep } from "../timing.js";
import { type ConformanceSuite, code, createdSession, LONG, options, set } from "./helpers.js";

/** regenerate, directly and through Session. */
export function regenerate({ fresh, timed, manager }: ConformanceSuite): void {
  it(
    "moves data at version 1 keeping the creation time; reports missing and taken",
    fresh(async (storage) => {
      const oldId = newSessionId();
      const made = await storage.apply(
        oldId,
        { ops: [set("a", 1), set("b", "two")] },
        options("create"),
      );
      assert.ok(made);
      await storage.apply(oldId, { ops: [set("c", true)] }, options("existing"));
      const newId = idInFamily(oldId, newSessionId());
      const moved = await storage.regenerate(oldId, newId, { ...LONG, keepOld: false });
      assert.ok(typeof moved === "object", `expected the new meta, got ${String(moved)}`);
      assert.equal(moved.version, 1);
      assert.equal(
        moved.createTime,
        made.createTime,
        "the lifetime counts from the first creation",
      );
      assert.deepEqual((await storage.read(newId, LONG))?.data, { a: 1, b: "two", c: true });
      assert.equal(await storage.read(oldId, LONG), undefined, "the old id is gone");
      assert.equal(
        await storage.regenerate(oldId, idInFamily(oldId, newSessionId()), {
          ...LONG,
          keepOld: false,
        }),
        "missing",
      );

      const copy = idInFamily(newId, newSessionId());
      const kept = await storage.regenerate(newId, copy, { ...LONG, keepOld: true });
      assert.ok(typeof kept === "object");
      assert.deepEqual((await storage.read(copy, LONG))?.data, { a: 1, b: "two", c: true });
      assert.deepEqual((await storage.read(newId, LONG))?.data, { a: 1, b: "two", c: true });

      // The target id in use: nothing changes on either side.
      assert.equal(await storage.regenerate(newId, copy, { ...LONG, keepOld: false }), "taken");
      await storage.apply(copy, { ops: [set("only-copy", 1)] }, options("existing"));
      assert.deepEqual((await storage.read(newId, LONG))?.data, { a: 1, b: "two", c: true });
      assert.equal((await storage.read(copy, LONG))?.data["only-copy"], 1);
    }),
  );

  it(
    "a write racing regenerate lands in the new session or in a fresh one, never OK-then-lost",
    fresh(async (storage) => {
      const m = manager(storage);
      for (let trial = 0; trial < 5; trial++) {
        const oldId = await createdSession(m, { seed: trial });
        const writers = Array.from({ length: 30 }, () => m.session(oldId));
        const writes = writers.map(async (w, i) => {
          // Spread over the regenerate: some before it, some during, some after.
          if (i % 3 > 0) await sleep(i % 3 === 1 ? 0 : 2);
          w.set(`w${i}`, i);
          await w.commit();
        });
        const [newId] = await Promise.all([m.session(oldId).regenerate(), ...writes]);
        const moved = (await storage.read(newId, LONG))?.data ?? {};
        for (const [i, w] of writers.entries()) {
          if (w.id === oldId) {
            assert.equal(
              moved[`w${i}`],
              i,
              `trial ${trial}: write ${i} acknowledged on the old id is lost`,
            );
          } else {
            // Arrived after the move: a fresh session (never the old id reborn) holds it.
            assert.notEqual(w.id, newId);
            assert.equal((await storage.read(w.id as string, LONG))?.data[`w${i}`], i);
          }
        }
        assert.equal(await storage.read(oldId, LONG), undefined, `trial ${trial}: old id alive`);
      }
    }),
  );

  it(
    "of concurrent regenerates of one session exactly one wins",
    fresh(async (storage) => {
      const m = manager(storage);
      const oldId = await createdSession(m, { k: "v" });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, () => m.session(oldId).regenerate()),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      assert.equal(won.length, 1, "exactly one regenerate succeeds");
      for (const o of outcomes) {
        if (o.status === "rejected") code("not_found")(o.reason);
      }
      const newId = (won[0] as PromiseFulfilledResult<string>).value;
      assert.deepEqual((await storage.read(newId, LONG))?.data, { k: "v" });
      assert.equal(await storage.read(oldId, LONG), undefined);
    }),
  );

  it(
    "the absolute lifetime survives regenerate and touch",
    timed(async (storage) => {
      const lifetime = 700;
      const m = manager(storage, { ttlMs: 60_000, maxLifetimeMs: lifetime });
      const s = m.session();
      s.set("a", 1);
      const made = await s.commit();
      assert.ok(made);
      const info = await m.session(s.id).describe();
      assert.equal(info.lifetimeEndTime, made.createTime + lifetime);
      let id = s.id as string;
      let keepOld = false;
      const end = made.createTime + lifetime;
      while (Date.now() < end - 150) {
        try {
          id = await m.session(id).regenerate({ keepOld });
          keepOld = !keepOld;
          await m.session(id).touch();
          const now = await m.session(id).describe();
          assert.equal(now.createTime, made.createTime, "regenerate keeps the creation time");
          assert.ok(now.expireTime <= end);
        } catch (err) {
          // A slow machine can reach the deadline inside the loop: gone is right then.
          code("not_found")(err);
          assert.ok(Date.now() >= end, "not_found before the lifetime ended");
          break;
        }
        await sleep(100);
      }
      await sleep(Math.max(0, made.createTime + lifetime - Date.now()) + 50);
      assert.equal(await m.session(id).get("a"), undefined, "alive past its lifetime");
      await assert.rejects(m.session(id).regenerate(), code("not_found"));
    }),
  );
}
