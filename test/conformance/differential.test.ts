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
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { FileStorage, type FileStorageOptions } from "../../src/file/FileStorage.js";
import { differentialTests } from "../support/differentialSeeds.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function inFreshDir(options: Omit<FileStorageOptions, "dir">): FileStorage {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-diff-"));
  dirs.push(dir);
  return new FileStorage({ ...options, dir, logger: silentLogger });
}

// The kinds the conformance suite runs, encrypted ones included (as conformance.test.ts
// builds them): each must agree with the spec, not merely with the plain file storage.
differentialTests("memory and file", () => [
  { name: "memory", create: () => new MemoryStorage() },
  { name: "file", create: () => inFreshDir({}) },
  {
    name: "file (encrypted)",
    create: () => inFreshDir({ encryptionKey: Buffer.alloc(32, 7) }),
  },
  {
    name: "file (encrypted, hashed ids, rotated keys)",
    create: () =>
      new HashedIdStorage(
        inFreshDir({ encryptionKeys: [Buffer.alloc(32, 8), Buffer.alloc(32, 7)] }),
        Buffer.alloc(32, 9),
      ),
  },
]);
