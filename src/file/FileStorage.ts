import { resolve } from "node:path";
import { ConfigError } from "../core/ConfigError.js";
import { SessionEngine } from "../core/engine/SessionEngine.js";
import { integerOption } from "../core/integerOption.js";
import { AdoptableLogger, type Logger } from "../core/Logger.js";
import { type CapabilityKey, CapabilitySet, LOGGER_TARGET } from "../core/storage/capabilities.js";
import { encryptionKeyBytes } from "../core/storage/encryptionKey.js";
import { HashedIdStorage, type IdHashKeySource } from "../core/storage/HashedIdStorage.js";
import { KeyRing } from "../core/storage/KeyRing.js";
import { StorageDecorator } from "../core/storage/StorageDecorator.js";
import { type DiskBudgetOptions, diskBudgetSettings } from "./DiskBudget.js";
import { FileDocumentStore, type FileRevision } from "./FileDocumentStore.js";
import { fileIdHashKey } from "./idHashKeyFile.js";
import { SessionFileCodec } from "./SessionFileCodec.js";
import { SessionFiles } from "./SessionFiles.js";

/** The budgets (maxTotalBytes, maxFiles, minFreeBytes) are described in file/DiskBudget.ts. */
export interface FileStorageOptions extends DiskBudgetOptions {
  /**
   * Where session files live; required (one directory per app: nothing else may write
   * there). Created 0700 by open() if missing.
   */
  dir: string;
  /**
   * Warnings (corrupt files) and sweep problems go here. Default: the logger of the
   * Manager this storage is given to (LOGGER_TARGET), else nowhere.
   */
  logger?: Logger;
  /**
   * How sessions are named on disk. "hashed" (the default): by a keyed hash of the id
   * (HMAC-SHA-256, see HashedIdStorage), so neither a listing of the directory nor a copy
   * of it gives a session id away. "raw": by the id itself, `<id>.session`, as releases
   * before 0.x did; only to keep the sessions such a release stored (see docs/security.md,
   * "Upgrading").
   */
  ids?: "hashed" | "raw";
  /**
   * The id-hash key of hashed ids: at least 32 bytes (the same on every process sharing
   * the directory), or a lookup that loads them. Default: generated once into
   * `<dir>/.id-hash-key` (0600) by open() and read from there after, as the server does.
   */
  idHashKey?: IdHashKeySource;
  /** How often expired files are deleted. Default 60 s. */
  sweepIntervalMs?: number;
  /**
   * How long a file set aside as corrupt (`<id>.<ms>.corrupt`) is kept for an operator to
   * look at before a sweep deletes it; its bytes count in maxTotalBytes meanwhile. Default
   * 24 h (the server passes its TTL).
   */
  corruptRetentionMs?: number;
  /** Seals every file with AES-256-GCM under this key of 32 bytes. */
  encryptionKey?: Uint8Array;
  /**
   * Key rotation: the first key seals, every key opens (files sealed under an older key
   * keep reading). 32 bytes each; give this or encryptionKey, not both.
   */
  encryptionKeys?: readonly Uint8Array[];
  /**
   * Default true: every write is durable before it resolves. Each file is fsynced before it
   * replaces the old one, so a crash of the machine never loses both, and the directory
   * after, so the replacement itself survives one; the directory's fsync is shared by the
   * writes that land while one is in flight. False: neither (a process crash still loses
   * nothing the call acknowledged; a crash of the machine can).
   */
  fsync?: boolean;
  /**
   * Decoded sessions kept to serve repeated reads with one lstat instead of open, read and
   * decode; an entry is used only while its file is unchanged (see file/ReadCache.ts).
   * Bytes of session files, default 32 MiB; 0 turns it off.
   */
  readCacheBytes?: number;
}

const DEFAULT_READ_CACHE_BYTES = 32 * 1024 * 1024;
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** As long as a session lives idle by default (Manager's TTL). */
const DEFAULT_CORRUPT_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * One file per session, `<dir>/<stored name>.session`, holding version, creation time and data as
 * JSON (optionally AES-256-GCM sealed). The expiry is the file's mtime, so sliding it is a
 * utimes() call that never rewrites data.
 *
 * Writes go to a temp file in the same directory that then replaces the session file by
 * rename(), so a reader sees the old file or the new one, never a part. Operations on one
 * id are serialised by an in-process lock; several processes sharing one directory are
 * not coordinated beyond that (use Redis for more than one node).
 *
 * The stored name is a keyed hash of the session id (HashedIdStorage, with the key kept in
 * `<dir>/.id-hash-key` unless `idHashKey` gives one), or the id itself with `ids: "raw"`.
 *
 * A file that cannot be read as a session (truncated, garbage, failed authentication) is
 * logged as a warning, moved aside to `<stored name>.<epoch ms>.corrupt` for an operator
 * to look at, and the session reads as missing.
 *
 * The session rules are SessionEngine's; the files are FileDocumentStore's; the names are
 * HashedIdStorage's, which this storage wraps around its engine (nothing else to wrap).
 */
export class FileStorage extends StorageDecorator {
  readonly dir: string;
  /** The storage under the names: SessionEngine over the files, keyed by stored names. */
  readonly engine: SessionEngine<FileRevision>;
  readonly #store: FileDocumentStore;
  readonly #hashed: HashedIdStorage | undefined;
  readonly #capabilities: CapabilitySet;

  constructor(options: FileStorageOptions) {
    if (typeof options?.dir !== "string" || options.dir === "") {
      // No default: a directory every app on the host would share is a surprise, not a default.
      throw new ConfigError(
        "is required: the directory this app's session files live in (created 0700 if missing)",
        "dir",
      );
    }
    const dir = resolve(options.dir);
    const ids = options.ids ?? "hashed";
    if (ids !== "hashed" && ids !== "raw") {
      throw new ConfigError(`must be "hashed" or "raw", got ${JSON.stringify(ids)}`, "ids");
    }
    if (ids === "raw" && options.idHashKey !== undefined) {
      throw new ConfigError('applies to hashed ids: give it or ids: "raw", not both', "idHashKey");
    }
    const logger = new AdoptableLogger(options.logger);
    const files = new SessionFiles({
      dir,
      logger,
      codec: new SessionFileCodec(keyRing(options)),
      fsync: options.fsync ?? true,
      readCacheBytes: integerOption("readCacheBytes", options.readCacheBytes, {
        min: 0,
        fallback: DEFAULT_READ_CACHE_BYTES,
        unit: "bytes",
      }),
      budget: diskBudgetSettings(options),
    });
    const store = new FileDocumentStore(files, {
      sweepIntervalMs: integerOption("sweepIntervalMs", options.sweepIntervalMs, {
        min: 1,
        fallback: DEFAULT_SWEEP_INTERVAL_MS,
        unit: "milliseconds",
      }),
      corruptRetentionMs: integerOption("corruptRetentionMs", options.corruptRetentionMs, {
        min: 0,
        fallback: DEFAULT_CORRUPT_RETENTION_MS,
        unit: "milliseconds",
      }),
    });
    const engine = new SessionEngine(store);
    // The key file is read after the directory is prepared, so no call finds it missing.
    const hashed =
      ids === "raw"
        ? undefined
        : new HashedIdStorage(
            engine,
            options.idHashKey ?? {
              load: async () => {
                await store.open();
                return fileIdHashKey(dir);
              },
            },
          );
    super(hashed ?? engine);
    this.dir = dir;
    this.engine = engine;
    this.#store = store;
    this.#hashed = hashed;
    this.#capabilities = new CapabilitySet().with(LOGGER_TARGET, logger);
  }

  /** The files: FileDocumentStore over this directory. */
  get store(): FileDocumentStore {
    return this.#store;
  }

  /**
   * The name the session `id` is stored under (`<dir>/<name>.session`): its keyed hash, or
   * `id` itself with `ids: "raw"`. Loads the key (opening the storage) when needed.
   */
  async storedName(id: string): Promise<string> {
    return this.#hashed === undefined ? id : this.#hashed.storedId(id);
  }

  override capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key) ?? super.capability(key);
  }

  /**
   * Prepares the directory (creates it 0700, refuses one planted by another user, checks
   * the filesystem's timestamps), reads the free space and starts counting and sweeping.
   * With hashed ids (the default) it also reads the id-hash key, creating
   * `<dir>/.id-hash-key` (0600) the first time. The first operation does all this by
   * itself; call it to fail fast at start-up. A failed open is tried again by the next call.
   */
  async open(): Promise<void> {
    await this.store.open();
    await this.#hashed?.loadKey();
  }

  /**
   * Resolves once the directory has been counted at start. Until then the budgets are
   * checked against what the count found so far plus what was written since.
   */
  counted(): Promise<void> {
    return this.store.counted();
  }

  /**
   * Deletes expired session files (and temp files left by a crash). Runs on the interval;
   * callable directly. Concurrent calls share one pass. Resolves to the number deleted.
   */
  sweep(): Promise<number> {
    return this.store.sweep();
  }

  /**
   * Session files deleted because they had expired (by a sweep, or found expired when read),
   * since the storage was created. A plain count, so that whoever exports metrics needs no
   * hook. It includes the tombstones an idempotent destroy leaves for its request-id window:
   * telling one from a session would cost reading every expired file.
   */
  get expired(): number {
    return this.store.files.expired;
  }

  /** What the session files take and the budgets, as last counted (see file/DiskUsage.ts). */
  get budget(): {
    files: number;
    bytes: number;
    maxTotalBytes: number;
    maxFiles: number;
    minFreeBytes: number;
  } {
    const budget = this.store.files.opened();
    const { files, bytes } = budget.usage;
    return { files, bytes, ...budget.limits };
  }
}

function keyRing(options: FileStorageOptions): KeyRing | undefined {
  const { encryptionKey, encryptionKeys } = options;
  if (encryptionKey !== undefined && encryptionKeys !== undefined) {
    throw new ConfigError(
      "give encryptionKey or encryptionKeys, not both (put the old key after the new one in encryptionKeys)",
    );
  }
  if (encryptionKeys !== undefined) return new KeyRing(encryptionKeys);
  if (encryptionKey === undefined) return undefined;
  return new KeyRing([encryptionKeyBytes(encryptionKey)]);
}
