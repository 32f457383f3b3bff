// The differential test (see differential.test.ts) on the Redis storages, against a
// redis-server of its own.
import { after } from "node:test";
import { differentialTests } from "../support/differentialSeeds.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS } from "../support/redisStorages.js";

const redis: RedisProcess = await startRedis();
after(() => redis.stop());

differentialTests("the Redis storages", () =>
  REDIS_KINDS.map((kind) => ({
    name: kind,
    create: () => createTestRedisStorage(kind, { url: redis.url }),
  })),
);
