import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { describeStorageConformance } from "../../src/testing/index.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import {
  createTestRedisStorage,
  keysUnderPrefix,
  REDIS_KINDS,
  uniquePrefix,
} from "../support/redisStorages.js";

const redis: RedisProcess = await startRedis();
after(() => redis.stop());

/**
 * The keys under a storage's own prefix (the suite's storages share this server, so DBSIZE
 * would count the others'). KEYS skips a key past its PEXPIRE without deleting it: a key
 * leaves this count only by expiring in Redis, never by the storage reading it.
 */

for (const kind of REDIS_KINDS) {
  // What createRedisStorage gives by default: hashed ids, their key kept in Redis.
  describeStorageConformance({
    name: `${kind} (defaults: hashed ids, the key in Redis)`,
    create: () => createRedisStorage(kind, { url: redis.url, prefix: uniquePrefix() }),
    countStored: keysUnderPrefix,
  });
  describeStorageConformance({
    name: `${kind} (raw ids)`,
    create: () => createTestRedisStorage(kind, { url: redis.url }, { ids: "raw" }),
    countStored: keysUnderPrefix,
  });
  describeStorageConformance({
    name: `${kind} (encrypted, hashed ids under a given key)`,
    create: () =>
      createRedisStorage(kind, {
        url: redis.url,
        prefix: uniquePrefix(),
        encryptionKeys: [randomBytes(32), randomBytes(32)],
        idHashKey: randomBytes(32),
      }),
    countStored: keysUnderPrefix,
  });
}
