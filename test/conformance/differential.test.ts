// The differential test: seeded random sequences of deltas, reads, regenerates, touches,
// destroys and expiries applied to every storage and to the executable spec
// (src/testing/SpecStorage.ts), which must agree step by step. Each run prints its seeds;
// SESSIOND_DIFF_SEED=n replays one.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { type DifferentialTarget, runDifferential } from "../../src/testing/differentialTest.js";
import { retryOnStall } from "../../src/testing/timing.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS } from "../support/redisStorages.js";

const STEPS = 150;
const pinned = process.env.SESSIOND_DIFF_SEED;
const first = pinned === undefined ? Date.now() % 2 ** 31 : Number(pinned);
if (!Number.isSafeInteger(first))
  throw new Error(`SESSIOND_DIFF_SEED must be an integer, got ${pinned}`);
// Three consecutive seeds, so every run covers both lifetime settings (see runDifferential).
const seeds = pinned === undefined ? [first, first + 1, first + 2] : [first];

const redis: RedisProcess = await startRedis();
const dirs: string[] = [];
after(async () => {
  await redis.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const targets: DifferentialTarget[] = [
  { name: "memory", create: () => new MemoryStorage() },
  {
    name: "file",
    create: () => {
      const dir = mkdtempSync(join(tmpdir(), "sessiond-diff-"));
      dirs.push(dir);
      return new FileStorage({ dir, logger: silentLogger });
    },
  },
  ...REDIS_KINDS.map((kind) => ({
    name: kind,
    create: () => createTestRedisStorage(kind, { url: redis.url }),
  })),
];

for (const seed of seeds) {
  test(`every storage agrees with the spec over ${STEPS} random steps (seed ${seed})`, async (t) => {
    t.diagnostic(`seed ${seed} (replay with SESSIOND_DIFF_SEED=${seed})`);
    await retryOnStall(async () => {
      const report = await runDifferential(targets, { seed, steps: STEPS });
      t.diagnostic(JSON.stringify(report.counts));
    });
  });
}
