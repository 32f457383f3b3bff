/**
 * Both Redis storages through Redis Sentinel (a master, one replica, one Sentinel, all
 * started here): the shared conformance suite, unchanged, then a fail-over: the master
 * is SIGKILLed, the Sentinel promotes the replica, sessions written before are readable
 * and new writes succeed, without recreating the storage.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { defaultLimits } from "../../src/core/Limits.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import type { ApplyOptions } from "../../src/core/storage/Storage.js";
import { describeStorageConformance } from "../../src/testing/index.js";
import { type SentinelGroup, startSentinelGroup } from "../support/redisServers.js";
import {
  createTestRedisStorage,
  keysUnderPrefix,
  memoryLogger,
  REDIS_KINDS,
} from "../support/redisStorages.js";

const group: SentinelGroup = await startSentinelGroup({ replica: true });
after(() => group.stop());

const viaSentinel = { sentinels: group.sentinelAddresses, sentinelName: group.name };

for (const kind of REDIS_KINDS) {
  describeStorageConformance({
    name: `${kind} through Sentinel`,
    create: () => createTestRedisStorage(kind, viaSentinel),
    countStored: keysUnderPrefix,
  });
}

describe("Sentinel fail-over", () => {
  test("the replica is promoted; sessions written before are readable, new writes succeed", async () => {
    const options: ApplyOptions = { mode: "create", ttlMs: 60_000, limits: defaultLimits };
    const logger = memoryLogger();
    const storages = REDIS_KINDS.map((kind) =>
      createTestRedisStorage(kind, { ...viaSentinel, commandTimeoutMs: 1000 }, { logger }),
    );
    const written = new Map<string, number>();
    const admin = new Redis(group.master.port, { lazyConnect: true });
    admin.on("error", () => {});
    try {
      for (const [k, storage] of storages.entries()) {
        for (let i = 0; i < 25; i++) {
          const id = newSessionId();
          const ops = [{ type: "set" as const, key: "i", value: i + 100 * k }];
          assert.ok(await storage.apply(id, { ops }, options));
          written.set(`${k}:${id}`, i + 100 * k);
        }
      }
      // Test set-up, not the storage: make sure the replica has every write before the kill.
      await admin.connect();
      assert.equal(await admin.call("wait", "1", "2000"), 1, "replica acknowledged the writes");
      admin.disconnect();

      const killedAt = performance.now();
      await group.master.kill();

      // Calls during the fail-over fail fast with unavailable; keep trying until one passes.
      let failures = 0;
      const probe = storages[0];
      assert.ok(probe);
      for (;;) {
        try {
          await probe.ping();
          break;
        } catch (err) {
          assert.ok(err instanceof SessionError && err.code === "unavailable", String(err));
          failures++;
          assert.ok(performance.now() - killedAt < 20_000, "no fail-over within 20 s");
          await sleep(100);
        }
      }
      const recoveredMs = performance.now() - killedAt;
      assert.equal(group.masterPort(), group.replica?.port, "Sentinel promoted the replica");

      for (const [tagged, value] of written) {
        const [k, id] = tagged.split(":") as [string, string];
        const storage = storages[Number(k)];
        assert.ok(storage);
        assert.deepStrictEqual(await storage.readKey(id, "i", options), { found: true, value });
      }
      for (const storage of storages) {
        const id = newSessionId();
        const res = await storage.apply(
          id,
          { ops: [{ type: "set", key: "after", value: true }] },
          options,
        );
        assert.equal(res?.version, 1);
        assert.deepStrictEqual(await storage.readKey(id, "after", options), {
          found: true,
          value: true,
        });
      }
      assert.ok(logger.lines.some((l) => l.msg === "redis connection lost"));
      console.log(
        `# fail-over: storage usable again ${recoveredMs.toFixed(0)} ms after the master was killed (${failures} unavailable pings meanwhile)`,
      );
    } finally {
      admin.disconnect();
      for (const storage of storages) await storage.close();
    }
  });
});
