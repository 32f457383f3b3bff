import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { silentLogger } from "../../src/core/Logger.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { redisIdHashKey } from "../../src/redis/redisIdHashKey.js";
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
      );
      return new HashedIdStorage(inner, redisIdHashKey(inner.connection, inner.keys.prefix));
    },
    countStored: keysUnderPrefix,
  });
}
