// Rule: through Manager and Session, a session is lazy, never adopts a planted id, moves on
// regenerate, and lives while it is used.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import type { Storage } from "../../core/storage/Storage.js";
import { sleep, within } from "../timing.js";
import { type ConformanceSuite, code, LONG } from "./helpers.js";

/** Wraps a real storage and records which methods were called; everything else passes through. */
function counting(storage: Storage): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const note = <T>(name: string, run: () => Promise<T>): Promise<T> => {
    calls.push(name);
    return run();
  };
  const wrapped: Storage = {
    read: (...args) => note("read", () => storage.read(...args)),
    readKey: (...args) => note("readKey", () => storage.readKey(...args)),
    apply: (...args) => note("apply", () => storage.apply(...args)),
    touch: (...args) => note("touch", () => storage.touch(...args)),
    regenerate: (...args) => note("regenerate", () => storage.regenerate(...args)),
    destroy: (...args) => note("destroy", () => storage.destroy(...args)),
    ping: () => note("ping", () => storage.ping()),
    close: () => storage.close(),
  };
  return { storage: wrapped, calls };
}

/** A session's life through Manager and Session: lazy reads, ids, regenerate, expiry. */
export function sessionLifecycle({ fresh, timed, alive, manager }: ConformanceSuite): void {
  it(
    "reproduces gsession's storage test: set/setMap, fresh reads, remove, removeAll, expiry",
    timed(async (storage) => {
      const m = manager(storage, { ttlMs: 800 });
      const first = m.session();
      first.set("k1", "v1");
      first.set("k2", "v2");
      first.setMap({ k3: "v3", k4: "v4" });
      assert.equal(first.isDirty, true);
      const started = Date.now();
      await first.close();
      const id = first.id;
      assert.ok(id);

      // Everything here holds while the session lives: at most 800 ms from `started`.
      const s = m.session(id);
      const newer = await within(started, alive(800), "phase B", async () => {
        assert.equal(await s.get("k1"), "v1");
        assert.equal(await s.get("k4"), "v4");
        assert.deepEqual(await s.data(), { k1: "v1", k2: "v2", k3: "v3", k4: "v4" });
        assert.equal(s.id, id);
        assert.equal(await s.size(), 4);
        assert.equal(await s.contains("k1"), true);
        assert.equal(await s.contains("k3"), true);
        assert.equal(await s.contains("k5"), false);
        s.remove("k4");
        s.remove("k4");
        assert.equal(await s.size(), 3);
        assert.equal(await s.contains("k4"), false);
        assert.equal(await s.contains("k3"), true);
        await s.commit();
        assert.equal(await m.session(id).size(), 3, "the removal was stored");
        await s.removeAll();
        assert.equal(await s.size(), 0);
        assert.equal(await s.get("k1"), undefined);
        assert.equal(await m.session(id).size(), 0, "removeAll hard-deleted the session");
        s.setMap({ k5: "v5", k6: "v6" });
        assert.equal(await s.size(), 2);
        assert.equal(await s.contains("k5"), true);
        assert.equal(await s.contains("k6"), true);
        await s.close();
        assert.ok(s.id && s.id !== id, "writing after logout issues a fresh id");
        return s.id;
      });

      await sleep(1200);
      for (const gone of [id, newer]) {
        const late = m.session(gone);
        assert.equal(await late.size(), 0);
        assert.equal(await late.get("k5"), undefined);
        assert.equal(await late.get("k6"), undefined);
      }
    }),
  );

  it(
    "is lazy: no id or an unknown id reads empty, creates nothing, and only reads",
    fresh(async (real) => {
      const { storage, calls } = counting(real);
      const m = manager(storage);
      const none = m.session();
      assert.equal(await none.get("a"), undefined);
      assert.equal(await none.get("a", "default"), "default");
      assert.deepEqual(await none.data(), {});
      assert.equal(await none.size(), 0);
      assert.equal(await none.contains("a"), false);
      none.remove("a");
      assert.equal(await none.commit(), undefined, "nothing to commit");
      await none.close();
      assert.deepEqual(calls, [], "a session without id never reaches the storage");
      assert.equal(none.id, undefined);

      const unknown = newSessionId();
      const s = m.session(unknown);
      assert.deepEqual(calls, [], "creating a Session does no I/O");
      assert.equal(await s.get("a", 7), 7);
      assert.deepEqual(await s.data(), {});
      assert.equal(await s.size(), 0);
      await s.close();
      assert.ok(
        calls.every((c) => c === "read" || c === "readKey"),
        calls.join(),
      );
      assert.equal(await real.read(unknown, LONG), undefined, "nothing was created");
      await assert.rejects(s.touch(), code("not_found"));
      await assert.rejects(s.describe(), code("not_found"));
      await assert.rejects(s.regenerate(), code("not_found"));
      await s.removeAll();
      assert.equal(await real.read(unknown, LONG), undefined);
    }),
  );

  it(
    "never adopts an unknown id by default: a write gets a fresh id (anti-fixation)",
    fresh(async (storage) => {
      const m = manager(storage);
      const planted = newSessionId();
      const s = m.session(planted);
      s.set("user", "victim");
      const result = await s.commit();
      assert.ok(result);
      assert.equal(result.version, 1);
      assert.ok(s.id);
      assert.notEqual(s.id, planted);
      assert.equal(s.idIssued, true);
      assert.equal(await storage.read(planted, LONG), undefined, "the planted id stays empty");
      assert.deepEqual((await storage.read(s.id, LONG))?.data, { user: "victim" });

      // A live id is written in place: no new id.
      const again = m.session(s.id);
      again.set("more", 1);
      await again.commit();
      assert.equal(again.id, s.id);
      assert.equal(again.idIssued, false);

      const adopting = manager(storage, { adoptUnknownIds: true });
      const chosen = newSessionId();
      const a = adopting.session(chosen);
      a.set("x", 1);
      await a.commit();
      assert.equal(a.id, chosen, "adoptUnknownIds keeps the supplied id");
      assert.equal(a.idIssued, false);
      assert.deepEqual((await storage.read(chosen, LONG))?.data, { x: 1 });
    }),
  );

  it(
    "regenerate moves the data to a new id; the old id reads empty unless keepOld",
    fresh(async (storage) => {
      const m = manager(storage);
      const s = m.session();
      s.setMap({ key1: "value1", key2: "value2" });
      await s.commit();
      const oldId = s.id as string;
      const newId = await s.regenerate();
      assert.notEqual(newId, oldId);
      assert.equal(s.id, newId);
      assert.equal(s.idIssued, true);
      assert.equal(await s.get("key1"), "value1");
      assert.equal(await s.get("key2"), "value2");
      assert.equal(await m.session(oldId).get("key1"), undefined);
      assert.equal(await storage.read(oldId, LONG), undefined);

      const kept = await s.regenerate({ keepOld: true });
      assert.notEqual(kept, newId);
      assert.equal(await m.session(kept).get("key1"), "value1");
      assert.equal(await m.session(newId).get("key1"), "value1", "keepOld keeps the old one");
      assert.equal((await m.session(kept).describe()).version, 1);
    }),
  );

  it(
    "describe and touch report the stored session",
    fresh(async (storage) => {
      const m = manager(storage, { ttlMs: 10_000 });
      const s = m.session();
      s.setMap({ a: 1, b: 2 });
      const made = await s.commit();
      assert.ok(made);
      const info = await m.session(s.id).describe();
      assert.equal(info.id, s.id);
      assert.equal(info.version, 1);
      assert.equal(info.size, 2);
      assert.equal(info.createTime, made.createTime);
      assert.ok(info.expireTime >= made.createTime + 10_000 - 5);
      const before = Date.now();
      const touched = await m.session(s.id).touch();
      assert.ok(touched.expireTime >= before + 10_000);
      assert.equal(touched.version, 1);
    }),
  );

  it(
    "a session read again and again stays alive past its TTL",
    timed(async (storage) => {
      const m = manager(storage, { ttlMs: 400 });
      const s = m.session();
      s.set("a", 1);
      let since = Date.now();
      await s.commit();
      const id = s.id as string;
      const started = Date.now();
      while (Date.now() - started < 1200) {
        await sleep(100);
        const before = Date.now();
        await within(since, alive(400), "read", async () => {
          assert.equal(await m.session(id).get("a"), 1, "still alive");
        });
        since = before;
      }
      await within(since, alive(400), "describe", async () => {
        assert.equal((await m.session(id).describe()).version, 1, "reads wrote nothing");
      });
      await sleep(900);
      assert.equal(await m.session(id).get("a"), undefined, "expired once left alone");
    }),
  );
}
