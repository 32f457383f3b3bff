// The shared storage conformance suite against both Redis storages, on a redis-server
// this file starts (and stops) on a free port. Each storage gets its own key prefix.
import { after } from "node:test";
import { describeStorageConformance } from "../src/testing/index.js";
import { type RedisProcess, startRedis } from "./support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS } from "./support/redisStorages.js";

const redis: RedisProcess = await startRedis();
after(() => redis.stop());

for (const kind of REDIS_KINDS) {
  describeStorageConformance({
    name: kind,
    create: () => createTestRedisStorage(kind, { url: redis.url }),
  });
}
