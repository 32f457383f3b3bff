// The shared storage conformance suite (its request-id block included) against both Redis
// storages, plain and encrypted, on a redis-server this file starts (and stops) on a free
// port. Each storage gets its own key prefix.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { silentLogger } from "../../src/core/Logger.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { EncryptedRedisStorageBase } from "../../src/redis/EncryptedRedisStorageBase.js";
import { RedisStorageBase } from "../../src/redis/RedisStorageBase.js";
import { redisIdHashKey } from "../../src/redis/redisIdHashKey.js";
import { describeStorageConformance } from "../../src/testing/index.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS, uniquePrefix } from "../support/redisStorages.js";

const redis: RedisProcess = await startRedis();
after(() => redis.stop());

/**
 * The keys under a storage's own prefix (the suite's storages share this server, so DBSIZE
 * would count the others'). KEYS skips a key past its PEXPIRE without deleting it: a key
 * leaves this count only by expiring in Redis, never by the storage reading it.
 */
async function keysUnderPrefix(storage: Storage): Promise<number> {
  const inner = storage instanceof HashedIdStorage ? storage.inner : storage;
  assert.ok(inner instanceof RedisStorageBase || inner instanceof EncryptedRedisStorageBase);
  return (await inner.connection.client.keys(`${inner.keys.prefix}*`)).length;
}

for (const kind of REDIS_KINDS) {
  describeStorageConformance({
    name: kind,
    create: () => createTestRedisStorage(kind, { url: redis.url }),
    countStored: keysUnderPrefix,
  });
  // Encrypted at rest, under hashed ids whose key lives in Redis (the server's default).
  describeStorageConformance({
    name: `${kind} (encrypted, hashed ids)`,
    create: () => {
      const inner = createRedisStorage(
        kind,
        {
          url: redis.url,
          prefix: uniquePrefix(),
          encryptionKeys: [randomBytes(32), randomBytes(32)],
        },
        silentLogger,
      ) as EncryptedRedisStorageBase;
      return new HashedIdStorage(inner, redisIdHashKey(inner.connection, inner.keys.prefix));
    },
    countStored: keysUnderPrefix,
  });
}
