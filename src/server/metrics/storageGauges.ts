import { Counter, Gauge, type Registry } from "prom-client";
import { BUDGETED, capabilityOf, EXPIRY_COUNTED } from "../../core/storage/capabilities.js";
import type { Storage } from "../../core/storage/Storage.js";

/**
 * What the storage already keeps count of, read at scrape time (nothing is counted twice
 * on the hot path): expired sessions freed, and the memory or file storage's size against
 * its budget. Redis expires keys itself, unseen by sessiond. Found by capability
 * (EXPIRY_COUNTED, BUDGETED) through whatever wraps the storage, so a custom storage that
 * declares them gets the same gauges.
 */
export function addStorageGauges(registry: Registry, storage: Storage): void {
  const expired = capabilityOf(storage, EXPIRY_COUNTED);
  new Counter({
    name: "sessiond_sessions_expired_total",
    help: "Expired sessions the storage freed (swept, or found expired when used). Memory and file storages only (file: tombstones of idempotent RemoveAll calls included); Redis expires keys itself, unseen by sessiond, so this stays 0 there.",
    registers: [registry],
    collect() {
      if (expired === undefined) return;
      this.reset();
      this.inc(expired.expired());
    },
  });
  const budgeted = capabilityOf(storage, BUDGETED);
  // usage() is undefined until a file storage is open; a scrape then leaves these out.
  const usage = () => budgeted?.usage();
  if (budgeted?.medium === "memory") {
    gauge(
      registry,
      "sessiond_memory_sessions",
      "Sessions the memory storage holds (expired ones not yet swept included).",
      () => usage()?.sessions,
    );
    gauge(
      registry,
      "sessiond_memory_used_bytes",
      "Heap the memory storage's sessions and request records are charged, as estimated (see SESSIOND_MEMORY_MAX_BYTES).",
      () => usage()?.usedBytes,
    );
    gauge(
      registry,
      "sessiond_memory_max_bytes",
      "The memory storage's budget, SESSIOND_MEMORY_MAX_BYTES (+Inf: none).",
      () => usage()?.maxBytes,
    );
  }
  if (budgeted?.medium === "file") {
    gauge(
      registry,
      "sessiond_file_sessions",
      "Session files in the file storage's directory, as last counted (tombstones included).",
      () => usage()?.sessions,
    );
    gauge(
      registry,
      "sessiond_file_used_bytes",
      "Disk the session files take, in whole filesystem blocks, as last counted.",
      () => usage()?.usedBytes,
    );
    gauge(
      registry,
      "sessiond_file_max_bytes",
      "The file storage's disk budget, SESSIOND_FILE_MAX_BYTES (+Inf: none).",
      () => usage()?.maxBytes,
    );
    gauge(
      registry,
      "sessiond_file_max_files",
      "The file storage's file budget, SESSIOND_FILE_MAX_FILES (+Inf: none).",
      () => usage()?.maxFiles,
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
