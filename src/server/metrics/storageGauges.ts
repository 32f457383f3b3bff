import { Counter, Gauge, type Registry } from "prom-client";
import { MemoryStorage } from "../../core/memory/MemoryStorage.js";
import { HashedIdStorage } from "../../core/storage/HashedIdStorage.js";
import type { Storage } from "../../core/storage/Storage.js";
import { FileStorage } from "../../file/FileStorage.js";

/**
 * What the storage already keeps count of, read at scrape time (nothing is counted twice
 * on the hot path): expired sessions freed, and the memory or file storage's size against
 * its budget. Redis expires keys itself, unseen by sessiond.
 */
export function addStorageGauges(registry: Registry, storage: Storage): void {
  const inner = unwrap(storage);
  const expired =
    inner instanceof MemoryStorage || inner instanceof FileStorage ? inner : undefined;
  new Counter({
    name: "sessiond_sessions_expired_total",
    help: "Expired sessions the storage freed (swept, or found expired when used). Memory and file storages only (file: tombstones of idempotent RemoveAll calls included); Redis expires keys itself, unseen by sessiond, so this stays 0 there.",
    registers: [registry],
    collect() {
      if (expired === undefined) return;
      this.reset();
      this.inc(expired.expired);
    },
  });
  if (inner instanceof MemoryStorage) {
    gauge(
      registry,
      "sessiond_memory_sessions",
      "Sessions the memory storage holds (expired ones not yet swept included).",
      () => inner.size,
    );
    gauge(
      registry,
      "sessiond_memory_used_bytes",
      "Heap the memory storage's sessions and request records are charged, as estimated (see SESSIOND_MEMORY_MAX_BYTES).",
      () => inner.budget.usedBytes,
    );
    gauge(
      registry,
      "sessiond_memory_max_bytes",
      "The memory storage's budget, SESSIOND_MEMORY_MAX_BYTES (+Inf: none).",
      () => inner.budget.maxTotalBytes,
    );
  }
  if (inner instanceof FileStorage) {
    // budget throws until the storage is open; a scrape then leaves these out.
    const budget = () => {
      try {
        return inner.budget;
      } catch {
        return undefined;
      }
    };
    gauge(
      registry,
      "sessiond_file_sessions",
      "Session files in the file storage's directory, as last counted (tombstones included).",
      () => budget()?.files,
    );
    gauge(
      registry,
      "sessiond_file_used_bytes",
      "Disk the session files take, in whole filesystem blocks, as last counted.",
      () => budget()?.bytes,
    );
    gauge(
      registry,
      "sessiond_file_max_bytes",
      "The file storage's disk budget, SESSIOND_FILE_MAX_BYTES (+Inf: none).",
      () => budget()?.maxTotalBytes,
    );
    gauge(
      registry,
      "sessiond_file_max_files",
      "The file storage's file budget, SESSIOND_FILE_MAX_FILES (+Inf: none).",
      () => budget()?.maxFiles,
    );
  }
}

function gauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number | undefined,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const value = read();
      if (value === undefined) this.reset();
      else this.set(value);
    },
  });
}

/** The storage that holds the sessions, under the id hashing the server puts on top. */
function unwrap(storage: Storage): Storage {
  let inner = storage;
  while (inner instanceof HashedIdStorage) inner = inner.inner;
  return inner;
}
