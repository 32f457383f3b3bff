// Rule: a session expires after its TTL unless slid by access, never outlives its maximum
// lifetime, once expired acts exactly like a missing one, and is eventually freed even if
// never read again.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import type { Expiry } from "../../core/storage/Storage.js";
import { sleep, within } from "../timing.js";
import { type ConformanceSuite, LONG, options, set } from "./helpers.js";

/**
 * How long a storage may take to free an expired session on its own. Generous: a sweep on
 * an interval (memory: 1 s; file: what its test sets) on a machine busy with other tests.
 */
const FREED_WITHIN_MS = 20_000;

/** Expiry, sliding and the maximum lifetime, through the Storage interface. */
export function expiry({ target, timed, alive }: ConformanceSuite): void {
  it(
    "expires a session after its sub-second TTL: it then acts exactly like a missing one",
    timed(async (storage) => {
      const id = newSessionId();
      const ttl: Expiry = { ttlMs: 400 };
      const start = Date.now();
      const made = await storage.apply(id, { ops: [set("a", 1)] }, options("create", ttl));
      assert.ok(made);
      assert.ok(made.expireTime >= start + 400 && made.expireTime <= Date.now() + 400 + 5);
      await within(start, alive(400), "first read", async () => {
        assert.deepEqual(await storage.readKey(id, "a", ttl), { found: true, value: 1 });
      });
      await sleep(800);
      assert.equal(await storage.read(id, ttl), undefined);
      assert.equal(await storage.readKey(id, "a", ttl), undefined);
      assert.equal(await storage.touch(id, ttl), undefined);
      assert.equal(
        await storage.apply(id, { ops: [set("b", 1)] }, options("existing", ttl)),
        undefined,
      );
      const reborn = await storage.apply(id, { ops: [set("b", 2)] }, options("create", ttl));
      assert.equal(reborn?.version, 1, "an expired id is free again, starting at version 1");
      await within(Date.now(), alive(400), "read after re-creation", async () => {
        assert.deepEqual((await storage.read(id, ttl))?.data, { b: 2 }, "no old keys");
      });
    }),
  );

  it(
    "slides the expiry on reads, readKeys and touches, without needing writes",
    timed(async (storage) => {
      const id = newSessionId();
      const ttl: Expiry = { ttlMs: 400 };
      let since = Date.now();
      await storage.apply(id, { ops: [set("a", 1)] }, options("create", ttl));
      const started = Date.now();
      let step = 0;
      // Keep reading for three TTLs; each read must find the session alive.
      while (Date.now() - started < 1200) {
        await sleep(80);
        const kind = step++ % 3;
        const before = Date.now();
        await within(since, alive(400), `access ${step}`, async () => {
          if (kind === 0) {
            const record = await storage.read(id, ttl);
            assert.deepEqual(record?.data, { a: 1 }, `read ${step} found the session`);
            assert.ok(record.expireTime >= before + 400 - 25, "read slid the expiry");
          } else if (kind === 1) {
            assert.deepEqual(await storage.readKey(id, "a", ttl), { found: true, value: 1 });
          } else {
            const meta = await storage.touch(id, ttl);
            assert.ok(meta, `touch ${step} found the session`);
            assert.ok(meta.expireTime >= before + 400, "touch slid the expiry");
            assert.equal(meta.version, 1);
          }
        });
        since = before;
      }
      await within(since, alive(400), "last read", async () => {
        assert.equal((await storage.read(id, ttl))?.version, 1, "sliding wrote nothing");
      });
      await sleep(900);
      assert.equal(await storage.read(id, ttl), undefined, "idle past the TTL: gone");
    }),
  );

  it(
    "never slides past maxLifetime",
    timed(async (storage) => {
      const id = newSessionId();
      const expiry: Expiry = { ttlMs: 2000, maxLifetimeMs: 400 };
      const start = Date.now();
      const made = await storage.apply(id, { ops: [set("a", 1)] }, options("create", expiry));
      assert.ok(made);
      assert.equal(made.expireTime, made.createTime + 400);
      while (Date.now() < made.createTime + 250) {
        await sleep(50);
        await within(start, 390, "read within the lifetime", async () => {
          const record = await storage.read(id, expiry);
          assert.ok(record, "alive within its lifetime");
          assert.equal(record.expireTime, made.createTime + 400, "capped at the lifetime");
        });
      }
      const touched = await storage.touch(id, expiry);
      if (touched) assert.equal(touched.expireTime, made.createTime + 400);
      const updated = await storage.apply(id, { ops: [set("b", 2)] }, options("existing", expiry));
      if (updated) assert.equal(updated.expireTime, made.createTime + 400);
      await sleep(Math.max(0, made.createTime + 400 - Date.now()) + 150);
      assert.equal(await storage.read(id, expiry), undefined, "gone after its lifetime");
    }),
  );

  const count = target.countStored;
  if (count === undefined) return;
  it(
    "frees an expired session that is never read again, on its own",
    timed(async (storage) => {
      // A live session first: whatever a storage sets up once (a key, a file) is then in
      // the baseline, and freeing must spare it.
      const live = newSessionId();
      await storage.apply(live, { ops: [set("a", 1)] }, options("create"));
      const baseline = await count(storage);
      const id = newSessionId();
      const ttl: Expiry = { ttlMs: 300 };
      const start = Date.now();
      await storage.apply(id, { ops: [set("b", 2)] }, options("create", ttl));
      await within(start, alive(300), "count while alive", async () => {
        const held = await count(storage);
        assert.ok(held > baseline, `the new session is counted (${held} > ${baseline})`);
      });
      // Nothing touches `id` again: only the storage itself can free it.
      const deadline = Date.now() + FREED_WITHIN_MS;
      let held = await count(storage);
      while (held > baseline && Date.now() < deadline) {
        await sleep(50);
        held = await count(storage);
      }
      assert.equal(held, baseline, `still held ${FREED_WITHIN_MS} ms after it was written`);
      assert.deepEqual((await storage.read(live, LONG))?.data, { a: 1 }, "the live one is kept");
    }),
  );
}
