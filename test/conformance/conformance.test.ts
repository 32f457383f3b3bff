import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { describeStorageConformance } from "../../src/testing/index.js";

/** Sweeps often enough that the suite sees an expired file go (the default is 60 s). */
const SWEEP_INTERVAL_MS = 200;

/** The sessions a MemoryStorage holds, expired ones not yet swept included. */
async function memorySessions(storage: Storage): Promise<number> {
  assert.ok(storage instanceof MemoryStorage);
  return storage.size;
}

/** Everything in a FileStorage's directory, under HashedIdStorage or not. */
async function filesInDir(storage: Storage): Promise<number> {
  const file = storage instanceof HashedIdStorage ? storage.inner : storage;
  assert.ok(file instanceof FileStorage);
  return (await readdir(file.dir)).length;
}

describeStorageConformance({
  name: "memory",
  create: () => new MemoryStorage(),
  countStored: memorySessions,
});

describeStorageConformance({
  name: "file",
  create: () =>
    new FileStorage({
      dir: mkdtempSync(join(tmpdir(), "sessiond-conf-")),
      logger: silentLogger,
      sweepIntervalMs: SWEEP_INTERVAL_MS,
    }),
  countStored: filesInDir,
});

describeStorageConformance({
  name: "file (encrypted)",
  create: () =>
    new FileStorage({
      dir: mkdtempSync(join(tmpdir(), "sessiond-conf-enc-")),
      logger: silentLogger,
      encryptionKey: Buffer.alloc(32, 7),
      sweepIntervalMs: SWEEP_INTERVAL_MS,
    }),
  countStored: filesInDir,
});

describeStorageConformance({
  name: "file (hashed ids, rotated keys)",
  create: () =>
    new HashedIdStorage(
      new FileStorage({
        dir: mkdtempSync(join(tmpdir(), "sessiond-conf-hashed-")),
        logger: silentLogger,
        encryptionKeys: [Buffer.alloc(32, 8), Buffer.alloc(32, 7)],
        sweepIntervalMs: SWEEP_INTERVAL_MS,
      }),
      Buffer.alloc(32, 9),
    ),
  countStored: filesInDir,
});
