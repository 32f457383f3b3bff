import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { BUDGETED, capabilityOf } from "../../src/core/storage/capabilities.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { FileStorage, type FileStorageOptions } from "../../src/file/FileStorage.js";
import { describeStorageConformance } from "../../src/testing/index.js";

/** Sweeps often enough that the suite sees an expired file go (the default is 60 s). */
const SWEEP_INTERVAL_MS = 200;

/** The sessions a MemoryStorage holds, expired ones not yet swept included. */
async function memorySessions(storage: Storage): Promise<number> {
  const sessions = capabilityOf(storage, BUDGETED)?.usage()?.sessions;
  assert.ok(sessions !== undefined);
  return sessions;
}

/** The directory each file storage below was made on, by the storage the suite gets. */
const dirs = new WeakMap<Storage, string>();

/** A file storage in a fresh directory, kept in `dirs`; `wrap` puts what the suite gets around it. */
function inFreshDir(
  prefix: string,
  options: Omit<FileStorageOptions, "dir">,
  wrap: (file: FileStorage) => Storage = (file) => file,
): Storage {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const storage = wrap(new FileStorage({ ...options, dir }));
  dirs.set(storage, dir);
  return storage;
}

/** Everything in a file storage's directory. */
async function filesInDir(storage: Storage): Promise<number> {
  const dir = dirs.get(storage);
  assert.ok(dir !== undefined);
  return (await readdir(dir)).length;
}

describeStorageConformance({
  name: "memory",
  create: () => new MemoryStorage(),
  countStored: memorySessions,
});

describeStorageConformance({
  name: "file",
  create: () =>
    inFreshDir("sessiond-conf-", { logger: silentLogger, sweepIntervalMs: SWEEP_INTERVAL_MS }),
  countStored: filesInDir,
});

describeStorageConformance({
  name: "file (encrypted)",
  create: () =>
    inFreshDir("sessiond-conf-enc-", {
      logger: silentLogger,
      encryptionKey: Buffer.alloc(32, 7),
      sweepIntervalMs: SWEEP_INTERVAL_MS,
    }),
  countStored: filesInDir,
});

describeStorageConformance({
  name: "file (hashed ids, rotated keys)",
  create: () =>
    inFreshDir(
      "sessiond-conf-hashed-",
      {
        logger: silentLogger,
        encryptionKeys: [Buffer.alloc(32, 8), Buffer.alloc(32, 7)],
        sweepIntervalMs: SWEEP_INTERVAL_MS,
      },
      (file) => new HashedIdStorage(file, Buffer.alloc(32, 9)),
    ),
  countStored: filesInDir,
});
