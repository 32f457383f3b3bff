// `node --import tsx scripts/clientCacheMicro.ts`: the Redis client cache's effect on the
// storage alone, without gRPC: 64 concurrent loops of redis-hash `readKey` over 4 sessions
// for 2 s, cache off then on, twice; prints reads/s, process CPU per read and the cache's
// counters. Run it pinned (`taskset -c 0`) for steadier numbers; Redis runs on CPU 1.
import { defaultLimits } from "../src/core/Limits.js";
import { createRedisStorage } from "../src/redis/createRedisStorage.js";
import { startRedis } from "./bench/redisServer.js";

const TTL = 86_400_000;
const redis = await startRedis(1);
try {
  for (let round = 0; round < 2; round++) {
    for (const cache of [false, true]) {
      const storage = createRedisStorage("redis-hash", {
        url: redis.url,
        prefix: `micro${round}${cache}:`,
        ids: "raw",
        clientCache: cache ? { maxBytes: 16 << 20 } : undefined,
      });
      const ids = ["a", "b", "c", "d"].map((c) => c.repeat(32));
      for (const id of ids) {
        const ops = [{ type: "set" as const, key: "k", value: 1 }];
        await storage.apply(id, { ops }, { mode: "upsert", ttlMs: TTL, limits: defaultLimits });
      }
      await new Promise((r) => setTimeout(r, 200)); // tracking set up
      let reads = 0;
      const end = Date.now() + 2000;
      const cpu0 = process.cpuUsage();
      await Promise.all(
        Array.from({ length: 64 }, async (_, i) => {
          while (Date.now() < end) {
            await storage.readKey(ids[i % 4] as string, "k", { ttlMs: TTL });
            reads++;
          }
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      const stats = storage.connection.clientCache?.stats();
      process.stdout.write(
        `cache ${cache ? "on " : "off"}: ${Math.round(reads / 2)} reads/s, ${((cpu.user + cpu.system) / reads).toFixed(1)} µs CPU per read${stats ? `, ${JSON.stringify(stats)}` : ""}\n`,
      );
      await storage.close();
    }
  }
} finally {
  await redis.stop();
}
