// The differential test (see differential.test.ts) on the Redis storages, against a
// redis-server of its own.
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { silentLogger } from "../../src/core/Logger.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { redisIdHashKey } from "../../src/redis/redisIdHashKey.js";
import { differentialTests } from "../support/differentialSeeds.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS, uniquePrefix } from "../support/redisStorages.js";

const redis: RedisProcess = await startRedis();
after(() => redis.stop());

// Plain, and encrypted at rest under hashed ids whose key lives in Redis (the server's
// default), as conformanceRedis.test.ts builds them.
differentialTests("the Redis storages", () =>
  REDIS_KINDS.flatMap((kind) => [
    { name: kind, create: () => createTestRedisStorage(kind, { url: redis.url }) },
    {
      name: `${kind} (encrypted, hashed ids)`,
      create: () => {
        const inner = createRedisStorage(
          kind,
          {
            url: redis.url,
            prefix: uniquePrefix(),
            encryptionKeys: [randomBytes(32), randomBytes(32)],
            ids: "raw", // wrapped below
          },
          silentLogger,
        );
        return new HashedIdStorage(inner, redisIdHashKey(inner.connection, inner.keys.prefix));
      },
    },
  ]),
);
