/**
 * Both Redis storages on a 3-master Redis Cluster this file creates (three
 * `redis-server --cluster-enabled yes` + `redis-cli --cluster create`): the shared
 * conformance suite, unchanged, plus slot co-location and spread across the masters.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, Redis } from "ioredis";
import { ConfigError } from "../../src/core/ConfigError.js";
import { defaultLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { idFamily, idInFamily } from "../../src/core/storage/idFamily.js";
import { keySlot } from "../../src/redis/client/keySlot.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { redisIdHashKey } from "../../src/redis/redisIdHashKey.js";
import { RedisHashStorage } from "../../src/redis/storage/RedisHashStorage.js";
import { HealthMonitor } from "../../src/server/health/HealthMonitor.js";
import { describeStorageConformance } from "../../src/testing/index.js";
import { type RedisCluster, startCluster } from "../support/redisServers.js";
import {
  clusterKeysUnderPrefix,
  createTestRedisStorage,
  memoryLogger,
  REDIS_KINDS,
  uniquePrefix,
} from "../support/redisStorages.js";

// AOF so that the master killed by the failure test comes back with its sessions.
const cluster: RedisCluster = await startCluster(3, { aof: true });
after(() => cluster.stop());

for (const kind of REDIS_KINDS) {
  describeStorageConformance({
    name: `${kind} on a 3-master cluster`,
    create: () => createTestRedisStorage(kind, { clusterNodes: cluster.seedAddresses }),
    // The first nodes are the masters (startCluster makes them so).
    countStored: clusterKeysUnderPrefix(cluster.nodes.slice(0, 3)),
  });
}

describe("cluster layout", () => {
  for (const kind of REDIS_KINDS) {
    test(`${kind}: a session's key lives in its id's slot; sessions spread over every master`, async () => {
      const prefix = uniquePrefix();
      const storage = createTestRedisStorage(
        kind,
        { clusterNodes: cluster.seedAddresses },
        { prefix },
      );
      const admins = cluster.nodes.map((n) => new Redis(n.port, { lazyConnect: true }));
      try {
        for (const a of admins) {
          a.on("error", () => {});
          await a.connect();
        }
        const ids = Array.from({ length: 30 }, () => newSessionId());
        const options = { mode: "create" as const, ttlMs: 60_000, limits: defaultLimits };
        for (const id of ids) {
          const ops = [
            { type: "set" as const, key: "a", value: 1 },
            { type: "increment" as const, key: "n", delta: 2 },
          ];
          assert.equal((await storage.apply(id, { ops }, options))?.version, 1);
          assert.deepStrictEqual(await storage.readKey(id, "n", options), {
            found: true,
            value: 2,
          });
        }
        const holders = new Set<number>();
        for (const id of ids) {
          const key = storage.keyOf(id);
          const admin = admins[0] as Redis;
          const slot = (await admin.call("cluster", "keyslot", key)) as number;
          assert.equal(
            slot,
            await admin.call("cluster", "keyslot", idFamily(id)),
            `${key} hashed by {family}`,
          );
          const found: number[] = [];
          for (const [i, a] of admins.entries()) {
            if ((await a.call("cluster", "countkeysinslot", slot)) !== 0) found.push(i);
          }
          assert.equal(found.length, 1, `session ${id} lives on exactly one master`);
          holders.add(found[0] as number);
          // The node answers for the key directly (no MOVED): expiry set there too.
          const pttl = await (admins[found[0] as number] as Redis).pttl(key);
          assert.ok(pttl > 0, `PTTL ${pttl}`);
        }
        assert.equal(holders.size, 3, "30 sessions spread over all three masters");
      } finally {
        for (const a of admins) a.disconnect();
        await storage.close();
      }
    });
  }
});

describe("cluster layout, encrypted under hashed ids (issue 10)", () => {
  for (const kind of REDIS_KINDS) {
    test(`${kind}: writes, regenerates and their locks stay in the session's slot`, async () => {
      const inner = createRedisStorage(
        kind,
        {
          clusterNodes: cluster.seedAddresses,
          prefix: uniquePrefix(),
          encryptionKeys: [randomBytes(32)],
          ids: "raw", // wrapped below
        },
        silentLogger,
      );
      const storage = new HashedIdStorage(
        inner,
        redisIdHashKey(inner.connection, inner.keys.prefix),
      );
      const options = { mode: "create" as const, ttlMs: 60_000, limits: defaultLimits };
      try {
        // Enough sessions to land on every master; each one written, regenerated twice, read.
        for (let i = 0; i < 12; i++) {
          const id = newSessionId();
          await storage.apply(id, { ops: [{ type: "set", key: "a", value: i }] }, options);
          const kept = idInFamily(id, newSessionId());
          assert.equal(
            typeof (await storage.regenerate(id, kept, { ...options, keepOld: true })),
            "object",
          );
          const moved = idInFamily(id, newSessionId());
          assert.equal(
            typeof (await storage.regenerate(kept, moved, { ...options, keepOld: false })),
            "object",
          );
          await storage.apply(
            moved,
            { ops: [{ type: "increment", key: "n", delta: 1 }] },
            { ...options, mode: "existing" },
          );
          assert.deepEqual((await storage.read(moved, options))?.data, { a: i, n: 1 });
          assert.deepEqual((await storage.read(id, options))?.data, { a: i });
          assert.equal(await storage.read(kept, options), undefined);
        }
      } finally {
        await storage.close();
      }
    });
  }
});

/**
 * Before the kill every master answers: a write refused as unavailable then is the machine
 * being too busy for the short bound the failure test sets, so it is made again (an upsert
 * of one value is idempotent). Only what happens after the kill is under test.
 */
async function beforeTheKill(write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (err) {
      if (!(err instanceof SessionError && err.code === "unavailable") || attempt >= 5) throw err;
    }
  }
}

describe("a user's own ioredis Cluster client", () => {
  test("works with its seeds given as clusterNodes, and is left to its owner", async () => {
    const user = new Cluster(cluster.seedAddresses, { lazyConnect: true });
    user.on("error", () => {});
    const storage = new RedisHashStorage(user, {
      prefix: uniquePrefix(),
      clusterNodes: cluster.seedAddresses,
    });
    try {
      const options = { mode: "upsert" as const, ttlMs: 60_000, limits: defaultLimits };
      const id = newSessionId();
      const ops = [{ type: "set" as const, key: "a", value: 1 }];
      assert.equal((await storage.apply(id, { ops }, options))?.version, 1);
      assert.deepStrictEqual(await storage.readKey(id, "a", options), { found: true, value: 1 });
      await storage.ping();
    } finally {
      await storage.close();
    }
    // sessiond routes by itself (one connection per master): the user's client is untouched.
    assert.equal(user.status, "wait");
    user.disconnect();
  });

  test("without clusterNodes is refused: ioredis does not expose a Cluster's seeds", () => {
    const user = new Cluster(cluster.seedAddresses, { lazyConnect: true });
    try {
      assert.throws(
        () => new RedisHashStorage(user),
        (err) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /clusterNodes/);
          return true;
        },
      );
    } finally {
      user.disconnect();
    }
  });
});

/** The slot ranges the master on `port` serves, as CLUSTER SLOTS tells. */
async function victimSlots(port: number): Promise<[number, number][]> {
  const admin = new Redis(port, { lazyConnect: true });
  try {
    await admin.connect();
    const ranges = (await admin.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
    return ranges.filter(([, , master]) => master[1] === port).map(([from, to]) => [from, to]);
  } finally {
    admin.disconnect();
  }
}

describe("cluster failure", () => {
  test("a master killed: calls end within the bound (ok or unavailable), health names the shard, plain and encrypted; restarted, every session is back", async () => {
    const timeoutMs = 500;
    const connection = { clusterNodes: cluster.seedAddresses, commandTimeoutMs: timeoutMs };
    const storages = {
      plain: createTestRedisStorage("redis-hash", connection),
      // The encrypted storages once answered no shardTrouble: health never named the shard.
      encrypted: createTestRedisStorage("redis-hash", {
        ...connection,
        encryptionKeys: [randomBytes(32)],
      }),
    };
    const options = { mode: "upsert" as const, ttlMs: 60_000, limits: defaultLimits };
    try {
      const victim = cluster.nodes[1];
      assert.ok(victim);
      // Ids on the victim's slots, and on the others': random ones all missed it now and then.
      const served = await victimSlots(victim.port);
      const onVictim = (id: string) =>
        served.some(([from, to]) => {
          const slot = keySlot(`{${idFamily(id)}}`);
          return slot >= from && slot <= to;
        });
      const ids: string[] = [];
      while (ids.filter(onVictim).length < 4 || ids.length < 12) {
        const id = newSessionId();
        if (ids.length < 8 || onVictim(id)) ids.push(id);
      }
      for (const storage of Object.values(storages)) {
        for (const [i, id] of ids.entries()) {
          await beforeTheKill(() =>
            storage.apply(id, { ops: [{ type: "set", key: "k", value: i }] }, options),
          );
        }
      }
      await victim.kill();
      for (const [name, storage] of Object.entries(storages)) {
        let failures = 0;
        for (let round = 0; round < 4; round++) {
          await Promise.all(
            ids.map(async (id) => {
              const start = performance.now();
              try {
                await storage.readKey(id, "k", options);
              } catch (err) {
                assert.ok(err instanceof SessionError && err.code === "unavailable", String(err));
                failures++;
              }
              const took = performance.now() - start;
              assert.ok(took < timeoutMs + 1000, `${name}: a call took ${took.toFixed(0)} ms`);
            }),
          );
          await sleep(200);
        }
        assert.ok(failures > 0, `${name}: sessions on the dead master were unavailable`);
        // The server's health check, through the id-hashing wrapper the server always puts
        // around a Redis storage: still SERVING (the other masters answer), naming the shard.
        const logger = memoryLogger();
        const statuses: string[] = [];
        const monitor = new HealthMonitor({
          storage: new HashedIdStorage(storage, randomBytes(32)),
          health: { setStatus: (_service, status) => statuses.push(status) },
          services: [""],
          intervalMs: 5_000,
          logger,
        });
        await monitor.check();
        assert.deepEqual(statuses, ["SERVING"], name);
        const partly = logger.lines.find((line) => line.msg.includes("partly unreachable"));
        assert.ok(
          partly,
          `${name}: no "partly unreachable" warning in ${JSON.stringify(logger.lines)}`,
        );
        assert.match(JSON.stringify(partly.fields), new RegExp(String(victim.port)), name);
      }
      await victim.restart();
      const deadline = Date.now() + 20_000;
      for (const [name, storage] of Object.entries(storages)) {
        for (;;) {
          const reads = await Promise.all(
            ids.map((id) => storage.readKey(id, "k", options).catch(() => undefined)),
          );
          if (reads.every((r, i) => r?.found && r.value === i)) break;
          assert.ok(Date.now() < deadline, `${name}: the cluster did not come back within 20 s`);
          await sleep(200);
        }
      }
    } finally {
      for (const storage of Object.values(storages)) await storage.close();
    }
  });
});
