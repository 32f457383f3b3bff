// Server-assisted client-side caching (clientCache): Get served from a local copy kept
// coherent by Redis' CLIENT TRACKING. Two storages on one Redis stand for two instances:
// a write on one is seen at once by a read on the other; destroy and regenerate too; the
// cache is dropped when the tracking connection or the data connection is killed, and on
// Sentinel and Cluster fail-overs; its memory stays within the budget; the shared
// conformance suite passes with it on.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Redis } from "ioredis";
import { defaultLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { newSessionId } from "../../src/core/session/ids.js";
import type { ApplyOptions, ReadOptions } from "../../src/core/storage/Storage.js";
import { ClientCache } from "../../src/redis/client/ClientCache.js";
import { createRedisStorage, type RedisStorageKind } from "../../src/redis/createRedisStorage.js";
import type { RedisBackedStorage } from "../../src/redis/redisBacked.js";
import { RedisHashStorage } from "../../src/redis/storage/RedisHashStorage.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { createStorage } from "../../src/server/createStorage.js";
import { describeStorageConformance } from "../../src/testing/index.js";
import {
  type RedisProcess,
  startCluster,
  startRedis,
  startSentinelGroup,
  waitFor,
} from "../support/redisServers.js";
import {
  createTestRedisStorage,
  keysUnderPrefix,
  REDIS_KINDS,
  redisOf,
  uniquePrefix,
} from "../support/redisStorages.js";

const TTL = 60_000;
const upsert: ApplyOptions = { mode: "upsert", ttlMs: TTL, limits: defaultLimits };
const readOpts: ReadOptions = { ttlMs: TTL };
const CACHE = { clientCache: { maxBytes: 1 << 20 } };

const set = (s: RedisBackedStorage, id: string, value: number) =>
  s.apply(id, { ops: [{ type: "set", key: "k", value }] }, upsert);
const get = async (s: RedisBackedStorage, id: string) => {
  const read = await s.readKey(id, "k", readOpts);
  return read === undefined ? "missing" : read.found ? read.value : "no key";
};
const stats = (s: RedisBackedStorage) => {
  const cache = s.connection.clientCache;
  assert.ok(cache, "the storage has a client cache");
  return cache.stats();
};
/** Tracking is up on the node serving `id`'s key. */
const tracking = (s: RedisBackedStorage, id: string) =>
  waitFor("client tracking", async () => s.connection.trackerFor(s.keyOf(id)) !== undefined);
/** Reads `id` until a read is served from the cache (the first one fills it). */
async function cached(s: RedisBackedStorage, id: string): Promise<unknown> {
  await tracking(s, id);
  for (let i = 0; i < 50; i++) {
    const before = stats(s).hits;
    const value = await get(s, id);
    if (stats(s).hits > before) return value;
  }
  assert.fail("no read was served from the cache");
}

describe("ClientCache", () => {
  const tracker = { epoch: 1, ready: true };

  test("bytes stay within the budget with 1M distinct sessions", () => {
    const budget = 4 << 20;
    const cache = new ClientCache(budget);
    const value = "x".repeat(50);
    const key = (i: number) => `sessiond:{abcd}${i.toString(16).padStart(40, "0")}`;
    const started = Date.now();
    for (let i = 0; i < 1_000_000; i++) {
      cache.end(cache.begin(key(i), tracker), "k", value);
      if (i % 100_000 === 0) assert.ok(cache.stats().bytes <= budget);
    }
    const { bytes, entries } = cache.stats();
    assert.ok(bytes <= budget && bytes > budget - 1000, `${bytes} bytes`);
    assert.ok(entries > 1000 && entries < 30_000, `${entries} entries`);
    assert.equal(cache.get(key(999_999), "k", tracker), value);
    assert.equal(cache.get(key(5), "k", tracker), undefined);
    // Linear, not quadratic, in the number of insertions (eviction was once a scan).
    assert.ok(Date.now() - started < 15_000, `${Date.now() - started} ms`);
  });

  test("the heap it holds after 1M distinct sessions stays near the budget", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const budget = 32 << 20;
    gc();
    const before = process.memoryUsage().heapUsed;
    const cache = new ClientCache(budget);
    for (let i = 0; i < 1_000_000; i++) {
      const key = `sessiond:{abcd}${i.toString(16).padStart(40, "0")}`;
      // A flat string, as ioredis hands values over.
      const value = JSON.stringify({ n: i, s: "x".repeat(30) });
      cache.end(cache.begin(key, tracker), "k", value);
    }
    gc();
    const held = process.memoryUsage().heapUsed - before;
    assert.ok(cache.stats().bytes <= budget);
    assert.ok(held < 1.25 * budget, `${held} bytes of heap for a ${budget} bytes budget`);
  });

  test("least recently used entries go first", () => {
    const cache = new ClientCache(2048);
    const value = "v".repeat(100); // an entry is counted as about 780 bytes: two fit
    cache.end(cache.begin("a", tracker), "k", value);
    cache.end(cache.begin("b", tracker), "k", value);
    assert.equal(cache.get("a", "k", tracker), value); // a is now the most recent
    cache.end(cache.begin("c", tracker), "k", value);
    assert.equal(cache.get("b", "k", tracker), undefined);
    assert.equal(cache.get("a", "k", tracker), value);
    assert.equal(cache.get("c", "k", tracker), value);
    assert.ok(cache.stats().bytes <= 2048);
  });

  test("a read invalidated, or the cache dropped, while it was in flight keeps nothing", () => {
    const cache = new ClientCache(1 << 20);
    const a = cache.begin("a", tracker);
    cache.invalidate("a");
    cache.end(a, "k", "1");
    assert.equal(cache.get("a", "k", tracker), undefined);
    const b = cache.begin("b", tracker);
    cache.dropAll();
    cache.end(b, "k", "1");
    assert.equal(cache.get("b", "k", tracker), undefined);
    const c = cache.begin("c", tracker);
    cache.end(c, "k", "1");
    assert.equal(cache.get("c", "k", tracker), "1");
    // Another epoch of the tracker (tracking lost and set up again): not trusted.
    assert.equal(cache.get("c", "k", { epoch: 2, ready: true }), undefined);
    const off = { epoch: 1, ready: false };
    cache.end(cache.begin("d", off), "k", "1");
    assert.equal(cache.get("d", "k", tracker), undefined);
  });
});

describe("client cache on one Redis, two instances", () => {
  let redis: RedisProcess;
  const open: RedisBackedStorage[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    await redis.stop();
  });
  const pair = (kind: RedisStorageKind) => {
    const prefix = uniquePrefix();
    const a = createTestRedisStorage(kind, { url: redis.url, ...CACHE }, { prefix });
    const b = createTestRedisStorage(kind, { url: redis.url, ...CACHE }, { prefix });
    open.push(a, b);
    return [a, b] as const;
  };

  for (const kind of REDIS_KINDS) {
    test(`${kind}: a write on A is read at once on B, which had it cached; and on A itself`, async () => {
      const [a, b] = pair(kind);
      const id = newSessionId();
      await set(a, id, 0);
      assert.equal(await cached(b, id), 0);
      assert.equal(await cached(a, id), 0);
      for (let i = 1; i <= 200; i++) {
        await set(a, id, i);
        assert.equal(await get(b, id), i, "B sees A's write");
        assert.equal(await get(a, id), i, "A reads its own write");
      }
      // The loop's reads were mostly hits between writes? Not necessarily; these are:
      const hits = stats(b).hits;
      for (let i = 0; i < 20; i++) assert.equal(await get(b, id), 200);
      assert.ok(stats(b).hits >= hits + 15, "unchanged sessions are read from the cache");
    });

    test(`${kind}: destroy and regenerate on A; B no longer serves the old id`, async () => {
      const [a, b] = pair(kind);
      const id = newSessionId();
      await set(a, id, 1);
      assert.equal(await cached(b, id), 1);
      await a.destroy(id);
      assert.equal(await get(b, id), "missing");
      const id2 = newSessionId();
      await set(a, id2, 2);
      assert.equal(await cached(b, id2), 2);
      const id3 = newSessionId();
      assert.notEqual(await a.regenerate(id2, id3, { ttlMs: TTL, keepOld: false }), "missing");
      assert.equal(await get(b, id2), "missing");
      assert.equal(await get(b, id3), 2);
    });

    test(`${kind}: reads served from the cache still slide the expiry in Redis`, async () => {
      const [a] = pair(kind);
      const admin = new Redis(redis.port);
      try {
        const id = newSessionId();
        const ttlMs = 2000; // coalescing window: 100 ms
        await a.apply(id, { ops: [{ type: "set", key: "k", value: 1 }] }, { ...upsert, ttlMs });
        await tracking(a, id);
        const hits = stats(a).hits;
        const until = Date.now() + 3000;
        while (Date.now() < until) {
          const read = await a.readKey(id, "k", { ttlMs });
          assert.deepEqual(read, { found: true, value: 1 });
          await sleep(20);
        }
        assert.ok(stats(a).hits > hits + 50, "reads were served from the cache");
        const pttl = Number(await admin.pttl(a.keyOf(id)));
        assert.ok(pttl > ttlMs - 300, `expiry slid: pttl ${pttl}`);
      } finally {
        admin.disconnect();
      }
    });
  }

  test("the tracking connection killed (CLIENT KILL): the cache is dropped, and B sees A's writes", async () => {
    const [a, b] = pair("redis-hash");
    const admin = new Redis(redis.port);
    try {
      const id = newSessionId();
      await set(a, id, 1);
      assert.equal(await cached(b, id), 1);
      assert.ok(stats(b).entries > 0);
      const drops = stats(b).drops;
      // The subscribers of every storage on this server: kill them all.
      const list = String(await admin.call("client", "list", "type", "pubsub"));
      const ids = [...list.matchAll(/\bid=(\d+)/g)].map((m) => m[1] as string);
      assert.ok(ids.length > 0, "subscriber connections are listed");
      for (const cid of ids) await admin.call("client", "kill", "id", cid);
      await waitFor("the cache dropped", async () => stats(b).entries === 0);
      assert.ok(stats(b).drops > drops);
      await set(a, id, 2);
      assert.equal(await get(b, id), 2);
      // Tracking comes back by itself (a new subscriber) and the cache serves again.
      assert.equal(await cached(b, id), 2);
      await set(a, id, 3);
      assert.equal(await get(b, id), 3);
    } finally {
      admin.disconnect();
    }
  });

  test("the data connection killed: the cache is dropped", async () => {
    const [a, b] = pair("redis");
    const admin = new Redis(redis.port);
    try {
      const id = newSessionId();
      await set(a, id, 1);
      assert.equal(await cached(b, id), 1);
      const list = String(await admin.call("client", "list", "type", "normal"));
      // Tracking data connections show the "t" flag; kill them all.
      const ids = [...list.matchAll(/\bid=(\d+)[^\n]*flags=\w*t/g)].map((m) => m[1] as string);
      assert.ok(ids.length > 0, "tracking connections are listed");
      for (const cid of ids) await admin.call("client", "kill", "id", cid);
      await waitFor("the cache dropped", async () => stats(b).entries === 0);
      await set(a, id, 2);
      assert.equal(await get(b, id), 2);
    } finally {
      admin.disconnect();
    }
  });

  test("FLUSHALL drops the cache", async () => {
    const [a, b] = pair("redis-hash");
    const admin = new Redis(redis.port);
    try {
      const id = newSessionId();
      await set(a, id, 1);
      assert.equal(await cached(b, id), 1);
      await admin.flushall();
      assert.equal(await get(b, id), "missing");
    } finally {
      admin.disconnect();
    }
  });

  test("on a client passed in: cached reads, and tracking off again when the storage closes", async () => {
    const client = new Redis(redis.port);
    const prefix = uniquePrefix();
    const mine = new RedisHashStorage(client, { prefix, ...CACHE });
    const other = new RedisHashStorage(new Redis(redis.port), { prefix, ownsClient: true });
    try {
      const id = newSessionId();
      await set(other, id, 1);
      assert.equal(await cached(mine, id), 1);
      await set(other, id, 2);
      assert.equal(await get(mine, id), 2);
      await mine.close();
      await waitFor("tracking off", async () => {
        const info = (await client.call("client", "trackinginfo")) as unknown[];
        return String(info[1]) === "off";
      });
      assert.equal(client.status, "ready", "the caller's client stays open");
    } finally {
      client.disconnect();
      await other.close();
    }
  });

  test("the server setting: --redis-client-cache takes a size or off, and reaches the storage", async () => {
    const args = (...more: string[]) => [
      "--storage",
      "redis-hash",
      "--redis-url",
      redis.url,
      ...more,
    ];
    const on = parseConfig(args("--redis-client-cache", "64MiB")).config;
    assert.equal(on.redisClientCache, 64 << 20);
    assert.equal(parseConfig(args()).config.redisClientCache, 0);
    assert.equal(parseConfig(args("--redis-client-cache", "off")).config.redisClientCache, 0);
    assert.throws(() => parseConfig(args("--redis-client-cache", "100")), /redis-client-cache/);
    for (const [config, bytes] of [
      [on, 64 << 20],
      [parseConfig(args()).config, undefined],
    ] as const) {
      const storage = await createStorage(config, silentLogger);
      try {
        assert.equal(redisOf(storage).connection.clientCache?.maxBytes, bytes);
      } finally {
        await storage.close?.();
      }
    }
  });

  test("refused with encryption; bad budgets refused", () => {
    assert.throws(
      () =>
        createRedisStorage("redis", {
          url: redis.url,
          encryptionKeys: [Buffer.alloc(32, 1)],
          clientCache: { maxBytes: 1 << 20 },
        }),
      /clientCache/,
    );
    assert.throws(
      () => createRedisStorage("redis", { url: redis.url, clientCache: { maxBytes: 10 } }),
      /clientCache\.maxBytes/,
    );
  });
});

describe("client cache: conformance", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());
  for (const kind of REDIS_KINDS) {
    describeStorageConformance({
      name: `${kind} with clientCache`,
      create: async () => {
        const s = createTestRedisStorage(kind, { url: redis.url, ...CACHE });
        await tracking(s, "x");
        return s;
      },
      countStored: keysUnderPrefix,
    });
  }
});

describe("client cache across fail-overs", () => {
  test("Sentinel: the master killed, the replica promoted; B's cache does not serve the old value", async () => {
    const group = await startSentinelGroup({ replica: true });
    const via = { sentinels: group.sentinelAddresses, sentinelName: group.name, ...CACHE };
    const prefix = uniquePrefix();
    const a = createTestRedisStorage("redis-hash", via, { prefix });
    const b = createTestRedisStorage("redis-hash", via, { prefix });
    const admin = new Redis(group.master.port);
    admin.on("error", () => {});
    try {
      const id = newSessionId();
      await set(a, id, 1);
      assert.equal(await admin.call("wait", "1", "2000"), 1);
      assert.equal(await cached(b, id), 1);
      await group.master.kill();
      await waitFor("b's cache dropped", async () => stats(b).entries === 0);
      await waitFor(
        "a write through the new master",
        async () => {
          await set(a, id, 2);
          return true;
        },
        30_000,
        200,
      );
      assert.equal(await get(b, id), 2);
      assert.equal(await cached(b, id), 2);
      await set(a, id, 3);
      assert.equal(await get(b, id), 3);
    } finally {
      admin.disconnect();
      await Promise.all([a.close(), b.close()]);
      await group.stop();
    }
  });

  test("Cluster: a master killed, its replica promoted; B's cache does not serve the old value", async () => {
    const cluster = await startCluster(3, { replicas: 1, nodeTimeoutMs: 1000 });
    const via = { clusterNodes: cluster.seedAddresses, commandTimeoutMs: 1000, ...CACHE };
    const prefix = uniquePrefix();
    const a = createTestRedisStorage("redis", via, { prefix });
    const b = createTestRedisStorage("redis", via, { prefix });
    try {
      const id = newSessionId();
      await waitFor("a first write", async () => {
        await set(a, id, 1);
        return true;
      });
      assert.equal(await cached(b, id), 1);
      // The master holding the session, by asking each node.
      let victim: RedisProcess | undefined;
      for (const node of cluster.nodes) {
        const conn = new Redis(node.port);
        try {
          // A master that does not own the slot answers MOVED; a replica, READONLY-free -1.
          const role = String(await conn.call("role")).split(",")[0];
          const here = role === "master" && Number(await conn.exists(a.keyOf(id))) === 1;
          if (here) victim = node;
        } catch {
          // MOVED: not this one.
        } finally {
          conn.disconnect();
        }
      }
      assert.ok(victim, "the session's master is found");
      const conn = new Redis(victim.port);
      await conn.call("wait", "1", "2000");
      conn.disconnect();
      await victim.kill();
      await waitFor("b's cache dropped", async () => stats(b).entries === 0);
      await waitFor(
        "a write through the promoted replica",
        async () => {
          await set(a, id, 2);
          return true;
        },
        30_000,
        200,
      );
      assert.equal(await get(b, id), 2);
      assert.equal(await cached(b, id), 2);
      await set(a, id, 3);
      assert.equal(await get(b, id), 3);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await cluster.stop();
    }
  });
});
