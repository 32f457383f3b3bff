// What createRedisStorage names its keys by default: keyed hashes of the session ids, with
// the key kept in Redis (`<prefix>id-hash-key`, the server's layout); `ids: "raw"` keeps
// the ids as they are (upgrades); an `idHashKey` given is used. A real redis-server,
// started by this test. Also: a storage built without a logger logs through its Manager's.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { Manager } from "../../src/core/session/Manager.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { createRedisStorage, type RedisStorageKind } from "../../src/redis/createRedisStorage.js";
import { redisIdHashKey } from "../../src/redis/redisIdHashKey.js";
import { capturingLogger } from "../support/coreFixtures.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { REDIS_KINDS, uniquePrefix } from "../support/redisStorages.js";

let server: RedisProcess;
let admin: Redis;
before(async () => {
  server = await startRedis();
  admin = new Redis(server.port, { lazyConnect: true });
  admin.on("error", () => {});
  await admin.connect();
});
after(async () => {
  admin.disconnect();
  await server.stop();
});

/** Creates sessions through a Manager over `storage`; resolves to their ids. */
async function createdIds(manager: Manager, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const session = manager.session();
    session.set("k", i);
    await session.commit();
    ids.push(session.id as string);
  }
  return ids;
}

for (const kind of REDIS_KINDS as RedisStorageKind[]) {
  describe(`${kind}: key names`, () => {
    it("by default holds no session id in any key name, the id-hash key in Redis", async () => {
      const prefix = uniquePrefix();
      const storage = createRedisStorage(kind, { url: server.url, prefix });
      const manager = new Manager({ storage });
      const ids = await createdIds(manager, 3);
      const keys = await admin.keys(`${prefix}*`);
      assert.ok(keys.includes(`${prefix}id-hash-key`), keys.join(", "));
      for (const id of ids) {
        for (const key of keys) assert.ok(!key.includes(id), `${key} holds the id ${id}`);
      }
      // The server's layout: the names its HashedIdStorage over redisIdHashKey gives.
      const key = Buffer.from(String(await admin.get(`${prefix}id-hash-key`)), "hex");
      const names = new HashedIdStorage(new MemoryStorage(), key);
      for (const id of ids) {
        const stored = await names.storedId(id);
        assert.ok(
          keys.some((k) => k.includes(stored)),
          `no key for ${id}'s stored name`,
        );
      }
      // A second instance (the server, another process) shares the key and the sessions.
      const other = createRedisStorage(kind, { url: server.url, prefix });
      const same = new HashedIdStorage(
        createRedisStorage(kind, { url: server.url, prefix, ids: "raw" }),
        redisIdHashKey(storage.connection, prefix),
      );
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(await new Manager({ storage: other }).session(id).data(), { k: i });
        assert.deepEqual(await new Manager({ storage: same }).session(id).data(), { k: i });
      }
      await Promise.all([storage.close(), other.close(), same.close()]);
    });

    it('ids: "raw" keeps the ids in the key names and keeps no id-hash key', async () => {
      const prefix = uniquePrefix();
      const storage = createRedisStorage(kind, { url: server.url, prefix, ids: "raw" });
      const [id] = await createdIds(new Manager({ storage }), 1);
      const keys = await admin.keys(`${prefix}*`);
      assert.deepEqual(keys, [storage.keyOf(id as string)]);
      assert.ok(keys[0]?.includes(id as string), keys.join(", "));
      await storage.close();
    });

    it("uses an idHashKey given explicitly, and keeps none in Redis then", async () => {
      const prefix = uniquePrefix();
      const key = Buffer.alloc(32, 3);
      const storage = createRedisStorage(kind, { url: server.url, prefix, idHashKey: key });
      const [id] = await createdIds(new Manager({ storage }), 1);
      const stored = await new HashedIdStorage(new MemoryStorage(), key).storedId(id as string);
      const keys = await admin.keys(`${prefix}*`);
      assert.equal(keys.includes(`${prefix}id-hash-key`), false, keys.join(", "));
      assert.deepEqual(keys, [storage.keyOf(stored)]);
      await storage.close();
    });
  });
}

describe("createRedisStorage options", () => {
  it("refuses a bad ids option, a key with raw ids, and a short key before connecting", () => {
    const url = "redis://127.0.0.1:1";
    assert.throws(() => createRedisStorage("redis", { url, ids: "plain" as "raw" }), {
      name: "ConfigError",
      option: "ids",
    });
    assert.throws(
      () => createRedisStorage("redis", { url, ids: "raw", idHashKey: Buffer.alloc(32) }),
      { name: "ConfigError", option: "idHashKey" },
    );
    assert.throws(() => createRedisStorage("redis", { url, idHashKey: Buffer.alloc(8) }), {
      name: "ConfigError",
      message: /at least 32 bytes/,
    });
  });

  it("logs through the Manager's logger when given none", async () => {
    const logger = capturingLogger();
    const storage = createRedisStorage("redis", { url: server.url, prefix: uniquePrefix() });
    const manager = new Manager({ storage, logger });
    await manager.session().data();
    await createdIds(manager, 1); // connects
    assert.ok(
      logger.lines.some((l) => l.msg === "redis connected"),
      JSON.stringify(logger.lines),
    );
    await storage.close();
  });
});
