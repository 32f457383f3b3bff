// The differential test: seeded random sequences of deltas, reads, regenerates, touches,
// destroys and expiries applied to every storage and to the executable spec
// (src/testing/SpecStorage.ts), which must agree step by step. Each run prints its seeds;
// SESSIOND_DIFF_SEED=n replays one. This file holds the storages that need no redis-server
// (it is in `npm run test:unit`); differentialRedis.test.ts runs it on Redis.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { differentialTests } from "../support/differentialSeeds.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

differentialTests("memory and file", () => [
  { name: "memory", create: () => new MemoryStorage() },
  {
    name: "file",
    create: () => {
      const dir = mkdtempSync(join(tmpdir(), "sessiond-diff-"));
      dirs.push(dir);
      return new FileStorage({ dir, logger: silentLogger });
    },
  },
]);
