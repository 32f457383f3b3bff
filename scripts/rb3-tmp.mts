import { Redis } from "ioredis";
import { RedisConnection } from "../src/storage/redis/RedisConnection.js";

async function measure(name: string, op: () => Promise<unknown>) {
  const N = 80000,
    C = 16;
  let next = 0;
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next++ < N) await op();
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  console.log(name.padEnd(36), "cpu us/op", ((cpu.user + cpu.system) / N).toFixed(2));
}
const c = new Redis({ port: 6379, enableAutoPipelining: true });
await c.hset("rb3:{x}", "a", "1", "b", "2");
const conn = new RedisConnection(c, {});
await new Promise((r) => setTimeout(r, 100));
for (let r = 0; r < 3; r++) {
  await measure("raw", () => c.hmget("rb3:{x}", "a", "b"));
  await measure("connection.run", () => conn.run((x) => x.hmget("rb3:{x}", "a", "b")));
}
c.disconnect();
