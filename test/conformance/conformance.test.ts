import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { BUDGETED, capabilityOf } from "../../src/core/storage/capabilities.js";
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

/**
 * A file storage in a fresh directory, kept in `dirs`. Hashed ids with the key in the
 * directory unless `options` say otherwise: the suite runs on what `new FileStorage({ dir })`
 * gives.
 */
function inFreshDir(prefix: string, options: Omit<FileStorageOptions, "dir">): Storage {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const storage = new FileStorage({ ...options, dir });
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
  name: "file (defaults: hashed ids, the key in the directory)",
  create: () => inFreshDir("sessiond-conf-", { sweepIntervalMs: SWEEP_INTERVAL_MS }),
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
  name: "file (hashed ids under a given key, rotated keys)",
  create: () =>
    inFreshDir("sessiond-conf-hashed-", {
      logger: silentLogger,
      idHashKey: Buffer.alloc(32, 9),
      encryptionKeys: [Buffer.alloc(32, 8), Buffer.alloc(32, 7)],
      sweepIntervalMs: SWEEP_INTERVAL_MS,
    }),
  countStored: filesInDir,
});

describeStorageConformance({
  name: "file (raw ids)",
  create: () =>
    inFreshDir("sessiond-conf-raw-", {
      logger: silentLogger,
      ids: "raw",
      sweepIntervalMs: SWEEP_INTERVAL_MS,
    }),
  countStored: filesInDir,
});
