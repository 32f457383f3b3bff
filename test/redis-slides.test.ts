// Coalesced expiry slides on the Redis Get path: a burst of reads of one session sends one
// PEXPIRE, yet a session read often never expires, one left alone does, and one destroyed
// elsewhere reads as missing at once.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { defaultLimits } from "../src/common/Limits.js";
import { newSessionId } from "../src/session/ids.js";
import { RecentSlides } from "../src/storage/redis/RecentSlides.js";
import type { ApplyOptions } from "../src/storage/Storage.js";
import { type RedisProcess, startRedis } from "./support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS, uniquePrefix } from "./support/redisStorages.js";

describe("RecentSlides", () => {
  test("a mark is trusted within min(1 s, ttl/20) and not after", async () => {
    const slides = new RecentSlides();
    const ttlMs = 600; // window 30 ms
    assert.equal(slides.fresh("k", ttlMs, Date.now()), false);
    slides.mark("k", ttlMs, Date.now());
    assert.equal(slides.fresh("k", ttlMs, Date.now()), true);
    assert.equal(slides.fresh("other", ttlMs, Date.now()), false);
    await sleep(45);
    assert.equal(slides.fresh("k", ttlMs, Date.now()), false);
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
    test(`${kind}: a second read within the window is one command, no PEXPIRE`, async () => {
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
        assert.deepEqual(await s.readKey(id, "k", { ttlMs: 60_000 }), { found: true, value: "v" });
        assert.deepEqual(await s.readKey(id, "k", { ttlMs: 60_000 }), { found: true, value: "v" });
        await sleep(50);
        const pexpires = sent.filter((c) => c === "pexpire").length;
        assert.equal(pexpires, 1, `sent ${JSON.stringify(sent)}`);
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
