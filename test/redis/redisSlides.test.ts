// Coalesced expiry slides on the Redis Get path: a burst of reads of one session sends one
// PEXPIRE, yet a session read often never expires, one left alone does, and one destroyed
// elsewhere reads as missing at once.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { defaultLimits } from "../../src/core/Limits.js";
import { newSessionId } from "../../src/core/session/ids.js";
import type { ApplyOptions } from "../../src/core/storage/Storage.js";
import { RecentSlides } from "../../src/redis/storage/RecentSlides.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS, uniquePrefix } from "../support/redisStorages.js";

describe("RecentSlides", () => {
  test("a mark is trusted within min(1 s, ttl/20) and not after", () => {
    // The times are the arguments, taken once: how long the lines take cannot move them.
    const slides = new RecentSlides();
    const ttlMs = 600; // window 30 ms
    const t0 = Date.now();
    assert.equal(slides.fresh("k", ttlMs, t0), false);
    slides.mark("k", ttlMs, t0);
    assert.equal(slides.fresh("k", ttlMs, t0), true);
    assert.equal(slides.fresh("k", ttlMs, t0 + 5), true);
    assert.equal(slides.fresh("other", ttlMs, t0 + 5), false);
    assert.equal(slides.fresh("k", ttlMs, t0 + 45), false);
  });

  test("forget drops a mark; a tiny TTL is never coalesced", () => {
    const slides = new RecentSlides();
    slides.mark("k", 60_000, Date.now());
    slides.forget("k");
    assert.equal(slides.fresh("k", 60_000, Date.now()), false);
    slides.mark("t", 40, Date.now());
    assert.equal(slides.fresh("t", 40, Date.now()), false);
  });
});

describe("redis Get path with coalesced slides", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  const create = (ttlMs: number): ApplyOptions => ({
    ttlMs,
    limits: defaultLimits,
    mode: "create",
  });

  for (const kind of REDIS_KINDS) {
    test(`${kind}: a burst of reads sends one PEXPIRE per window, not one per read`, async () => {
      const s = createTestRedisStorage(kind, { url: redis.url });
      const admin = (s.connection.client as Redis).duplicate();
      const monitor = await admin.monitor();
      try {
        const id = newSessionId();
        await s.apply(id, { ops: [{ type: "set", key: "k", value: "v" }] }, create(60_000));
        const sent: string[] = [];
        monitor.on("monitor", (_t: string, args: string[], source: string) => {
          if (source !== "lua") sent.push(String(args[0]).toLowerCase());
        });
        // A burst of reads; a slow machine may spread it over more than one 1 s window, so
        // the bound is one PEXPIRE per window the burst spanned, far below one per read.
        const reads = 20;
        const started = Date.now();
        for (let i = 0; i < reads; i++) {
          assert.deepEqual(await s.readKey(id, "k", { ttlMs: 60_000 }), {
            found: true,
            value: "v",
          });
        }
        const windows = 1 + Math.ceil((Date.now() - started) / 1000);
        await sleep(50);
        const pexpires = sent.filter((c) => c === "pexpire").length;
        assert.ok(
          pexpires >= 1 && pexpires <= Math.min(windows, reads - 1),
          `${pexpires} PEXPIRE for ${reads} reads over ${windows} window(s): ${JSON.stringify(sent)}`,
        );
      } finally {
        monitor.disconnect();
        admin.disconnect();
        await s.close();
      }
    });

    test(`${kind}: a session read often keeps sliding; left alone it expires`, async () => {
      const s = createTestRedisStorage(kind, { url: redis.url });
      try {
        const ttlMs = 300; // coalescing window 15 ms
        const id = newSessionId();
        await s.apply(id, { ops: [{ type: "set", key: "k", value: 1 }] }, create(ttlMs));
        const until = Date.now() + 1200;
        while (Date.now() < until) {
          const read = await s.readKey(id, "k", { ttlMs });
          assert.deepEqual(read, { found: true, value: 1 }, "expired while being read");
          await sleep(40);
        }
        await sleep(ttlMs + 200);
        assert.equal(await s.readKey(id, "k", { ttlMs }), undefined);
      } finally {
        await s.close();
      }
    });

    test(`${kind}: destroyed by another instance, it reads as missing inside the window`, async () => {
      const prefix = uniquePrefix();
      const a = createTestRedisStorage(kind, { url: redis.url }, { prefix });
      const b = createTestRedisStorage(kind, { url: redis.url }, { prefix });
      try {
        const id = newSessionId();
        await a.apply(id, { ops: [{ type: "set", key: "k", value: 1 }] }, create(60_000));
        assert.deepEqual(await a.readKey(id, "k", { ttlMs: 60_000 }), { found: true, value: 1 });
        await b.destroy(id);
        assert.equal(await a.readKey(id, "k", { ttlMs: 60_000 }), undefined);
        assert.equal(await a.readKey(id, "k", { ttlMs: 60_000 }), undefined);
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
});
