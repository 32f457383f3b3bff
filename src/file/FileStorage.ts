import { randomBytes } from "node:crypto";
import { constants, lstatSync, type Stats, type StatsFs } from "node:fs";
import {
  access,
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  opendir,
  readFile,
  rename,
  statfs,
  unlink,
  utimes,
} from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConfigError } from "../core/ConfigError.js";
import { integerOption } from "../core/integerOption.js";
import { cloneJson, type JsonValue } from "../core/json.js";
import { checkOpCount } from "../core/Limits.js";
import { type Logger, redactId, silentLogger } from "../core/Logger.js";
import { SessionError } from "../core/SessionError.js";
import {
  accepted,
  applyDelta,
  assertExpectedVersion,
  assertExpiry,
} from "../core/storage/applyOps.js";
import { throwIfCancelled } from "../core/storage/cancellation.js";
import {
  BUDGETED,
  type CapabilityKey,
  CapabilitySet,
  EXPIRY_COUNTED,
} from "../core/storage/capabilities.js";
import { encryptionKeyBytes } from "../core/storage/encryptionKey.js";
import { KeyedLock } from "../core/storage/KeyedLock.js";
import { KeyRing } from "../core/storage/KeyRing.js";
import {
  assertIdempotency,
  isLive,
  pruneRecords,
  type RequestRecord,
  recordOf,
  refusalRecord,
  replay,
} from "../core/storage/requestRecords.js";
import {
  type ApplyOptions,
  type ApplyResult,
  type CallSignal,
  type Delta,
  type DestroyOptions,
  type Expiry,
  expireAt,
  type Idempotency,
  type KeyRead,
  MAX_REQUEST_RECORDS,
  type ReadOptions,
  type RegenerateOptions,
  type RegenerateResult,
  type Replay,
  type SessionMeta,
  type SessionRecord,
  type Storage,
  type TouchOptions,
} from "../core/storage/Storage.js";
import { isSafeId, SAFE_ID } from "../core/storage/safeId.js";
import {
  DiskBudget,
  type DiskBudgetOptions,
  type DiskBudgetSettings,
  diskBudgetSettings,
} from "./DiskBudget.js";
import { errorCode, fsError } from "./fsErrors.js";
import { prepareDir, TEMP_SUFFIX } from "./prepareDir.js";
import { ReadCache } from "./ReadCache.js";
import { CorruptFileError, SessionFileCodec, type StoredSession } from "./SessionFileCodec.js";

/** The budgets (maxTotalBytes, maxFiles, minFreeBytes) are described in file/DiskBudget.ts. */
export interface FileStorageOptions extends DiskBudgetOptions {
  /**
   * Where session files live; required (one directory per app: nothing else may write
   * there). Created 0700 by open() if missing.
   */
  dir: string;
  /** Warnings (corrupt files) and sweep problems go here. Default: nowhere. */
  logger?: Logger;
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
  /** fsync each file before it replaces the old one, so a crash never loses both. Default true. */
  fsync?: boolean;
  /**
   * Decoded sessions kept to serve repeated reads with one lstat instead of open, read and
   * decode; an entry is used only while its file is unchanged (see file/ReadCache.ts).
   * Bytes of session files, default 32 MiB; 0 turns it off.
   */
  readCacheBytes?: number;
}

const SUFFIX = ".session";
const DEFAULT_READ_CACHE_BYTES = 32 * 1024 * 1024;
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** A cached session checked against its file this recently is validated synchronously. */
const HOT_MS = 2000;
/** Session files a sweep looks at concurrently. */
const SWEEP_PARALLEL = 32;
/**
 * A create's request record lives in a tombstone file of its own, `_r_<key>.session`: the
 * new session's id is not known to a retry, the record's key is. Session ids never hold
 * "_", so the name cannot be a session's.
 */
const CREATE_RECORD = "_r_";
const CORRUPT_SUFFIX = ".corrupt";
/** As long as a session lives idle by default (Manager's TTL). */
const DEFAULT_CORRUPT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Temp files this old are leftovers of a crash, not writes in progress. */
const STALE_TEMP_MS = 10 * 60 * 1000;

interface Loaded extends StoredSession {
  /** The file's mtime: the instant the session expires. */
  expireTime: number;
  /** The file's size, for the disk budget. */
  size: number;
}

/**
 * One file per session, `<dir>/<id>.session`, holding version, creation time and data as
 * JSON (optionally AES-256-GCM sealed). The expiry is the file's mtime, so sliding it is a
 * utimes() call that never rewrites data.
 *
 * Writes go to a temp file in the same directory that then replaces the session file by
 * rename(), so a reader sees the old file or the new one, never a part. Operations on one
 * id are serialised by an in-process lock; several processes sharing one directory are
 * not coordinated beyond that (use Redis for more than one node).
 *
 * A file that cannot be read as a session (truncated, garbage, failed authentication) is
 * logged as a warning, moved aside to `<id>.<epoch ms>.corrupt` for an operator to look
 * at, and the session reads as missing.
 */
export class FileStorage implements Storage {
  readonly dir: string;
  readonly #logger: Logger;
  readonly #codec: SessionFileCodec;
  readonly #fsync: boolean;
  readonly #locks = new KeyedLock();
  readonly #cache: ReadCache;
  readonly #sweepIntervalMs: number;
  readonly #corruptRetentionMs: number;
  readonly #budgetSettings: DiskBudgetSettings;
  /** Set by open(), like everything below: the constructor does no I/O. */
  #opening: Promise<void> | undefined;
  #budget: DiskBudget | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The first count of the directory (see counted()). */
  #counted: Promise<void> = Promise.resolve();
  #sweeping: Promise<number> | undefined;
  #closed = false;
  #expired = 0;

  constructor(options: FileStorageOptions) {
    if (typeof options?.dir !== "string" || options.dir === "") {
      // No default: a directory every app on the host would share is a surprise, not a default.
      throw new ConfigError(
        "is required: the directory this app's session files live in (created 0700 if missing)",
        "dir",
      );
    }
    this.dir = resolve(options.dir);
    this.#logger = options.logger ?? silentLogger;
    this.#codec = new SessionFileCodec(keyRing(options));
    this.#fsync = options.fsync ?? true;
    const cacheBytes = integerOption("readCacheBytes", options.readCacheBytes, {
      min: 0,
      fallback: DEFAULT_READ_CACHE_BYTES,
      unit: "bytes",
    });
    this.#cache = new ReadCache(cacheBytes);
    this.#sweepIntervalMs = integerOption("sweepIntervalMs", options.sweepIntervalMs, {
      min: 1,
      fallback: DEFAULT_SWEEP_INTERVAL_MS,
      unit: "milliseconds",
    });
    this.#corruptRetentionMs = integerOption("corruptRetentionMs", options.corruptRetentionMs, {
      min: 0,
      fallback: DEFAULT_CORRUPT_RETENTION_MS,
      unit: "milliseconds",
    });
    this.#budgetSettings = diskBudgetSettings(options);
  }

  /**
   * Prepares the directory (creates it 0700, refuses one planted by another user, checks
   * the filesystem's timestamps), reads the free space and starts counting and sweeping.
   * The first operation does this by itself; call it to fail fast at start-up. A failed
   * open is tried again by the next call.
   */
  open(): Promise<void> {
    this.#opening ??= this.#open().catch((err) => {
      this.#opening = undefined;
      throw err;
    });
    return this.#opening;
  }

  async #open(): Promise<void> {
    this.#assertOpen();
    prepareDir(this.dir, this.#logger);
    let fs: StatsFs;
    try {
      fs = await statfs(this.dir);
    } catch (err) {
      throw fsError(err, "read the free space of the filesystem", this.dir);
    }
    this.#assertOpen();
    this.#budget = new DiskBudget(this.dir, this.#budgetSettings, fs);
    // The first sweep counts what is there, in the background: a million files take many
    // seconds, for which nothing waits; the budget meanwhile goes by what it counted so far.
    const started = Date.now();
    this.#counted = this.sweep()
      .then(
        () => {
          // Said only when worth knowing: the budget was soft until then.
          const ms = Date.now() - started;
          if (ms >= 1000) this.#logger.info("file storage: counted the session files", { ms });
        },
        (err) => this.#logger.warn("file storage: counting the session files failed", failure(err)),
      )
      .then(() => {
        const over = this.#budget?.overBudget();
        if (over)
          this.#logger.warn(
            `file storage: ${over}; writes that add to it are refused`,
            this.#usage(),
          );
      });
    this.#timer = setInterval(() => {
      this.sweep().catch((err) => this.#logger.warn("file storage sweep failed", failure(err)));
    }, this.#sweepIntervalMs);
    this.#timer.unref();
  }

  /**
   * Runs `fn` under the lock of `id`, once the storage is open, unless `signal` was
   * aborted meanwhile (waiting for the lock can take a while): then nothing is touched.
   */
  #run<T>(id: string, signal: CallSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const locked =
      signal === undefined
        ? fn
        : () => {
            throwIfCancelled(signal);
            return fn();
          };
    if (this.#budget !== undefined) return this.#locks.run(id, locked);
    return this.open().then(() => this.#locks.run(id, locked));
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const path = this.#path(id);
    assertExpiry(expiry);
    return this.#run(id, expiry.signal, async () => {
      const loaded = await this.#load(id, path, Date.now(), expiry);
      if (!loaded) return undefined;
      const expireTime = await this.#slide(path, loaded, expiry, false);
      return {
        version: loaded.version,
        createTime: loaded.createTime,
        expireTime,
        data: cloneJson(loaded.data),
      };
    });
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    const path = this.#path(id);
    assertExpiry(expiry);
    return this.#run(id, expiry.signal, async () => {
      const loaded = await this.#load(id, path, Date.now(), expiry);
      if (!loaded) return undefined;
      await this.#slide(path, loaded, expiry, false);
      return Object.hasOwn(loaded.data, key)
        ? { found: true, value: cloneJson(loaded.data[key] as JsonValue) }
        : { found: false };
    });
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    const path = this.#path(id);
    assertExpiry(options);
    assertExpectedVersion(delta.expectedVersion);
    checkOpCount(0, delta.ops.length, options.limits);
    const idem = options.idempotency;
    assertIdempotency(idem);
    if (idem !== undefined && options.mode === "create") {
      // The record goes in its own file; the session's lock is taken inside its lock.
      return this.#underCreateRecord(idem, options.signal, () =>
        this.#run(id, options.signal, () => this.#apply(id, path, delta, options, undefined)),
      );
    }
    return this.#run(id, options.signal, () => this.#apply(id, path, delta, options, idem));
  }

  /** Under the session's lock. With `idem`, its record lands in the same file replace. */
  async #apply(
    id: string,
    path: string,
    delta: Delta,
    options: ApplyOptions,
    idem: Idempotency | undefined,
  ): Promise<ApplyResult | undefined> {
    const now = Date.now();
    const stored = await this.#loadAny(id, path, now, options);
    if (idem !== undefined) {
      const record = stored?.requests?.[idem.key];
      if (isLive(record, now)) return replay<ApplyResult>(record, idem);
    }
    const current = stored?.gone ? undefined : stored;
    if (current ? options.mode === "create" : options.mode === "existing") return undefined;
    try {
      const version = current?.version ?? 0;
      const applied = applyDelta(current?.data ?? {}, version, delta, options.limits);
      const { data, incremented } = accepted(applied);
      const createTime = current?.createTime ?? now;
      const expireTime = expireAt(now, createTime, options);
      const result: ApplyResult = { version: version + 1, createTime, expireTime, incremented };
      const next: StoredSession = { version: version + 1, createTime, data };
      const requests = keptRecords(stored?.requests, now, idem, result);
      if (requests !== undefined) next.requests = requests;
      // A create over a tombstone replaces it (keeping its records, above): the id holds no
      // session, and its records outlive the one that was there (see Idempotency).
      const replace = options.mode !== "create" || stored?.gone === true;
      const written = await this.#write(id, path, next, expireTime, replace, stored?.size);
      return written ? result : undefined;
    } catch (err) {
      if (idem !== undefined) await this.#recordRefusal(id, path, stored, idem, now, err);
      throw err;
    }
  }

  /**
   * A refusal is an outcome too: kept (in the session's file, or a tombstone) so that a
   * retry is refused alike. A refusal that cannot be kept (the disk budget) is not.
   */
  async #recordRefusal(
    id: string,
    path: string,
    stored: Loaded | undefined,
    idem: Idempotency,
    now: number,
    err: unknown,
  ): Promise<void> {
    const record = refusalRecord(idem, now, err);
    if (record === undefined) return;
    const requests = withRecord(stored?.requests, now, idem.key, record);
    try {
      if (stored !== undefined && !stored.gone) {
        const { version, createTime, data, expireTime } = stored;
        await this.#write(
          id,
          path,
          { version, createTime, data, requests },
          expireTime,
          true,
          stored.size,
        );
      } else await this.#writeTombstone(id, path, requests, stored?.size);
    } catch {
      // The refusal itself is what the caller gets; the record is best effort.
    }
  }

  /** A tombstone holding `requests` replaces whatever `path` holds; it expires with them. */
  async #writeTombstone(
    id: string,
    path: string,
    requests: Record<string, RequestRecord>,
    before: number | undefined,
  ): Promise<Loaded> {
    let expireTime = Date.now();
    for (const record of Object.values(requests)) expireTime = Math.max(expireTime, record.e);
    const tombstone: StoredSession = {
      version: 0,
      createTime: Date.now(),
      data: {},
      requests,
      gone: true,
    };
    await this.#write(id, path, tombstone, expireTime, true, before);
    return withExpiry(tombstone, expireTime, (await lstat(path)).size);
  }

  /**
   * `create` under the create record of `idem` (its own file, keyed by the request key):
   * replayed from there, or run and recorded there. The record is written right after
   * the session: a crash in between leaves a session whose id no caller was ever told.
   */
  #underCreateRecord<T extends object>(
    idem: Idempotency,
    signal: CallSignal | undefined,
    create: () => Promise<T | undefined>,
  ): Promise<(T & Replay) | undefined> {
    const id = CREATE_RECORD + idem.key;
    const path = this.#path(id);
    return this.#run(id, signal, async () => {
      const now = Date.now();
      const stored = await this.#loadAny(id, path, now);
      const record = stored?.requests?.[idem.key];
      if (isLive(record, now)) return replay<T>(record, idem);
      let result: T | undefined;
      try {
        result = await create();
      } catch (err) {
        await this.#recordRefusal(id, path, stored, idem, now, err);
        throw err;
      }
      if (result === undefined) return undefined;
      const requests = withRecord(stored?.requests, now, idem.key, recordOf(idem, now, result));
      await this.#writeTombstone(id, path, requests, stored?.size);
      return result;
    });
  }

  async regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    const oldPath = this.#path(oldId);
    const newPath = this.#path(newId);
    assertExpiry(options);
    // Into itself: one lock (taking it twice would wait on itself); the record and the old
    // id are checked as for any regenerate, and a live session finds its id taken.
    if (oldId === newId)
      return this.#run(oldId, options.signal, () => this.#regenerateInto(oldId, oldPath, options));
    // Both ids locked, always in the same order, so two regenerates cannot deadlock.
    const [first, second] = oldId < newId ? [oldId, newId] : [newId, oldId];
    return this.#run(first, options.signal, () =>
      this.#run(second, options.signal, async () => {
        const now = Date.now();
        const idem = options.idempotency;
        assertIdempotency(idem);
        const stored = await this.#loadAny(oldId, oldPath, now, options);
        if (idem !== undefined) {
          const record = stored?.requests?.[idem.key];
          if (isLive(record, now)) return replay<SessionMeta>(record, idem);
        }
        const current = stored?.gone ? undefined : stored;
        if (!current) return "missing";
        const target = await this.#loadAny(newId, newPath, now, options);
        if (target !== undefined && !target.gone) return "taken";
        const { createTime, data } = current;
        const expireTime = expireAt(now, createTime, options);
        if (expireTime <= now) {
          this.#expired++;
          await this.#retire(oldId, oldPath, current.size, now, current);
          return "missing";
        }
        const next: StoredSession = { version: 1, createTime, data };
        // A tombstone under the new id is replaced, its records kept (they outlive it).
        const kept = keptRecords(target?.requests, now, undefined, {});
        if (kept !== undefined) next.requests = kept;
        const written = target
          ? await this.#write(newId, newPath, next, expireTime, true, target.size)
          : await this.#write(newId, newPath, next, expireTime, false, undefined);
        if (!written) return "taken";
        const result: SessionMeta = { version: 1, createTime, expireTime };
        // A crash right here leaves both files: a copy too many, never a session lost.
        if (idem !== undefined) {
          // The old file keeps the record: rewritten as it was (keepOld), or a tombstone.
          const requests = withRecord(current.requests, now, idem.key, recordOf(idem, now, result));
          try {
            if (options.keepOld) {
              const { version } = current;
              const old: StoredSession = { version, createTime, data, requests };
              await this.#write(oldId, oldPath, old, current.expireTime, true, current.size);
            } else await this.#writeTombstone(oldId, oldPath, requests, current.size);
            return result;
          } catch {
            // No room for the record (the disk budget): the move still completes, unrecorded.
          }
        }
        if (!options.keepOld) await this.#retire(oldId, oldPath, current.size, now, current);
        return result;
      }),
    );
  }

  /** Regenerate of `id` into itself, under its lock: a replay, "missing", or "taken". */
  async #regenerateInto(
    id: string,
    path: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    const now = Date.now();
    const idem = options.idempotency;
    assertIdempotency(idem);
    const stored = await this.#loadAny(id, path, now, options);
    if (idem !== undefined) {
      const record = stored?.requests?.[idem.key];
      if (isLive(record, now)) return replay<SessionMeta>(record, idem);
    }
    // The old id first (see RegenerateResult): then the new one, which it is, is taken.
    return stored === undefined || stored.gone ? "missing" : "taken";
  }

  async touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined> {
    const path = this.#path(id);
    assertExpiry(options);
    const idem = options.idempotency;
    assertIdempotency(idem);
    return this.#run(id, options.signal, async () => {
      const now = Date.now();
      if (idem === undefined) {
        const loaded = await this.#load(id, path, now, options);
        if (!loaded) return undefined;
        const expireTime = await this.#slide(path, loaded, options, true);
        return { version: loaded.version, createTime: loaded.createTime, expireTime };
      }
      const stored = await this.#loadAny(id, path, now, options);
      const record = stored?.requests?.[idem.key];
      if (isLive(record, now)) return replay<SessionMeta>(record, idem);
      if (stored === undefined || stored.gone) return undefined;
      // The record must land with the slide: one rewrite instead of a utimes.
      const { version, createTime, data } = stored;
      const expireTime = expireAt(now, createTime, options);
      const result: SessionMeta = { version, createTime, expireTime };
      const requests = withRecord(stored.requests, now, idem.key, recordOf(idem, now, result));
      const next: StoredSession = { version, createTime, data, requests };
      await this.#write(id, path, next, expireTime, true, stored.size);
      return result;
    });
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<Replay | undefined> {
    const path = this.#path(id);
    const idem = options.idempotency;
    assertIdempotency(idem);
    this.#cache.delete(id);
    return this.#run(id, options.signal, async () => {
      if (idem === undefined) {
        const stats = await lstat(path).catch(() => undefined);
        if (!stats) return undefined;
        // Its live request records outlive it (see Idempotency): a tombstone keeps them.
        if (stats.isFile()) await this.#retire(id, path, stats.size, Date.now());
        else await this.#unlink(id, path, undefined);
        return undefined;
      }
      // A tombstone replaces the session in one rename, holding its records and this one.
      const now = Date.now();
      const stored = await this.#loadAny(id, path, now);
      const record = stored?.requests?.[idem.key];
      if (isLive(record, now)) return replay<object>(record, idem);
      const requests = withRecord(stored?.requests, now, idem.key, recordOf(idem, now, {}));
      await this.#writeTombstone(id, path, requests, stored?.size);
      return {};
    });
  }

  /**
   * Session files deleted because they had expired (by a sweep, or found expired when read),
   * since the storage was created. A plain count, so that whoever exports metrics needs no
   * hook. It includes the tombstones an idempotent destroy leaves for its request-id window:
   * telling one from a session would cost reading every expired file.
   */
  get expired(): number {
    return this.#expired;
  }

  /** What the session files take and the budgets, as last counted (see file/DiskUsage.ts). */
  get budget(): {
    files: number;
    bytes: number;
    maxTotalBytes: number;
    maxFiles: number;
    minFreeBytes: number;
  } {
    const budget = this.#opened();
    const { files, bytes } = budget.usage;
    return { files, bytes, ...budget.limits };
  }

  /**
   * What metrics read at scrape time (see capabilities.ts): EXPIRY_COUNTED, and BUDGETED
   * (undefined until the storage is open: the directory has not been counted).
   */
  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key);
  }

  readonly #capabilities = new CapabilitySet()
    .with(EXPIRY_COUNTED, { expired: () => this.#expired })
    .with(BUDGETED, {
      medium: "file",
      usage: () => {
        if (this.#budget === undefined) return undefined;
        const { usage, limits } = this.#budget;
        return {
          sessions: usage.files,
          usedBytes: usage.bytes,
          maxBytes: limits.maxTotalBytes,
          maxFiles: limits.maxFiles,
          minFreeBytes: limits.minFreeBytes,
        };
      },
    });

  /**
   * Resolves once the directory has been counted at start. Until then the budgets are
   * checked against what the count found so far plus what was written since.
   */
  async counted(): Promise<void> {
    await this.open();
    await this.#counted;
  }

  async ping(): Promise<void> {
    await this.open();
    try {
      await access(this.dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw fsError(err, "write", this.dir);
    }
  }

  /** Stops the sweeper and waits for operations in flight. Later calls fail with unavailable. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening?.catch(() => {});
    clearInterval(this.#timer);
    this.#cache.clear();
    await this.#sweeping?.catch(() => {});
    await this.#locks.idle();
  }

  /**
   * Deletes expired session files (and temp files left by a crash). Runs on the interval;
   * callable directly. Concurrent calls share one pass. Resolves to the number deleted.
   */
  sweep(): Promise<number> {
    if (this.#budget === undefined) return this.open().then(() => this.sweep());
    this.#sweeping ??= this.#sweepOnce().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  /**
   * Also recounts the session files for the budget: it looks at every one anyway. Files
   * are looked at SWEEP_PARALLEL at a time (a million take seconds, not a minute).
   */
  async #sweepOnce(): Promise<number> {
    let freed = 0;
    let failed: { err: unknown } | undefined;
    const inFlight = new Set<Promise<void>>();
    const usage = this.#opened().usage;
    usage.beginCount();
    try {
      const dir = await opendir(this.dir, { bufferSize: 256 }).catch((err) => {
        throw fsError(err, "list", this.dir);
      });
      for await (const entry of dir) {
        if (this.#closed || failed) break;
        const name = entry.name;
        if (name.endsWith(SUFFIX)) {
          const id = name.slice(0, -SUFFIX.length);
          if (!SAFE_ID.test(id)) continue;
          const job: Promise<void> = this.#sweepSession(id, join(this.dir, name)).then(
            (n) => {
              freed += n;
              inFlight.delete(job);
            },
            (err) => {
              failed ??= { err };
              inFlight.delete(job);
            },
          );
          inFlight.add(job);
          if (inFlight.size >= SWEEP_PARALLEL) await Promise.race(inFlight);
        } else if (name.endsWith(CORRUPT_SUFFIX)) {
          await this.#sweepAside(join(this.dir, name));
        } else if (name.startsWith(".") && name.endsWith(TEMP_SUFFIX)) {
          const path = join(this.dir, name);
          // ctime, not mtime: a temp file's mtime is already set to its session's expiry.
          const stats = await lstat(path).catch(() => undefined);
          if (stats && stats.ctimeMs < Date.now() - STALE_TEMP_MS) await unlinkQuietly(path);
        }
      }
      await Promise.all(inFlight);
      if (failed) throw failed.err;
    } catch (err) {
      await Promise.all(inFlight);
      usage.abortCount();
      throw err;
    }
    if (this.#closed) usage.abortCount();
    else usage.endCount();
    return freed;
  }

  /** Deletes the file if expired; tells the count what it found (sizes of regular files only). */
  async #sweepSession(id: string, path: string): Promise<number> {
    const usage = this.#opened().usage;
    const before = await lstat(path).catch(() => undefined);
    if (!before || mtime(before.mtimeMs) > Date.now()) {
      usage.saw(id, before?.isFile() ? before.size : undefined);
      return 0;
    }
    // Look again under the lock: a write may have replaced the file since.
    return this.#run(id, undefined, async () => {
      const stats = await lstat(path).catch(() => undefined);
      if (!stats || mtime(stats.mtimeMs) > Date.now()) {
        usage.saw(id, stats?.isFile() ? stats.size : undefined);
        return 0;
      }
      if (stats.isFile()) await this.#retire(id, path, stats.size, Date.now());
      else await this.#unlink(id, path, undefined);
      this.#cache.delete(id);
      usage.saw(id, undefined);
      this.#expired++;
      return 1;
    });
  }

  /**
   * A file set aside as corrupt: deleted once kept corruptRetentionMs, else counted. By
   * ctime, which the move aside set: its mtime is its session's expiry, which whoever
   * wrote the file chose.
   */
  async #sweepAside(path: string): Promise<void> {
    const stats = await lstat(path).catch(() => undefined);
    if (!stats?.isFile()) return;
    if (stats.ctimeMs <= Date.now() - this.#corruptRetentionMs) {
      if (
        await unlink(path).then(
          () => true,
          () => false,
        )
      )
        return;
    }
    this.#opened().usage.sawAside(stats.size);
  }

  #usage(): Record<string, unknown> {
    const budget = this.#opened();
    const { files, bytes } = budget.usage;
    return { dir: this.dir, files, bytes, ...budget.limits };
  }

  #path(id: string): string {
    this.#assertOpen();
    if (!isSafeId(id)) {
      throw new SessionError(
        "invalid_argument",
        "file storage refuses a session id outside [0-9A-Za-z_-]{1,128}",
        { reason: "MALFORMED_SESSION_ID" },
      );
    }
    return join(this.dir, `${id}${SUFFIX}`);
  }

  /** The budget, which exists once open() has run (every operation goes through #run). */
  #opened(): DiskBudget {
    if (this.#budget === undefined) throw new Error("file storage: call open() first");
    return this.#budget;
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new SessionError("unavailable", "file storage is closed", {
        reason: "STORAGE_UNAVAILABLE",
      });
  }

  /** The live session in `path` (see #loadAny); a tombstone reads as missing. */
  async #load(id: string, path: string, now: number, expiry: Expiry): Promise<Loaded | undefined> {
    const loaded = await this.#loadAny(id, path, now, expiry);
    return loaded?.gone ? undefined : loaded;
  }

  /**
   * The live session or tombstone in `path`; undefined when missing, expired (deleted) or
   * corrupt (moved). Its data may be shared with the read cache: copy before handing it out.
   *
   * The mtime is only the idle expiry, and anyone who can write to the directory can move
   * it: with `expiry` (the call's), a session also expires when the absolute lifetime its
   * sealed creation time gives has run out, whatever the mtime says, and the expiry it
   * reports is capped by it. Without (destroy, a create's record file) only the mtime counts.
   */
  async #loadAny(
    id: string,
    path: string,
    now: number,
    expiry?: Expiry,
  ): Promise<Loaded | undefined> {
    const loaded = await this.#loadFile(id, path, now);
    const life = expiry?.maxLifetimeMs;
    if (loaded === undefined || loaded.gone || life === undefined) return loaded;
    const end = loaded.createTime + life;
    if (end > now) {
      if (end < loaded.expireTime) loaded.expireTime = end;
      return loaded;
    }
    this.#expired++;
    return this.#retire(id, path, loaded.size, now, loaded);
  }

  /** #loadAny by the file alone: its mtime is its expiry. */
  async #loadFile(id: string, path: string, now: number): Promise<Loaded | undefined> {
    const hot = this.#cache.checkedSince(id, now - HOT_MS);
    if (hot !== undefined) {
      let stats: Stats | undefined;
      try {
        // A file checked moments ago has its inode in the kernel's cache, so lstat answers
        // in about a microsecond: done synchronously it costs less than the thread-pool
        // round trip of the asynchronous call, which on one core is most of a read's cost.
        // Entries not checked lately (inode possibly evicted) take the asynchronous path.
        stats = hot ? lstatSync(path) : await lstat(path);
      } catch (err) {
        if (errorCode(err) !== "ENOENT") throw fsError(err, "read a session file", this.dir);
      }
      if (stats === undefined) {
        this.#cache.delete(id);
        return undefined;
      }
      const cached = stats.isFile() ? this.#cache.get(id, stats, now) : undefined;
      if (cached !== undefined) {
        const expireTime = mtime(stats.mtimeMs);
        if (expireTime > now) return withExpiry(cached, expireTime, stats.size);
        this.#expired++;
        return this.#retire(id, path, stats.size, now, cached);
      }
      this.#cache.delete(id);
    }
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = errorCode(err);
      if (code === "ENOENT") return undefined;
      if (code === "ELOOP") return this.#quarantine(id, path, "the file is a symbolic link");
      throw fsError(err, "read a session file", this.dir);
    }
    let body: Buffer;
    let expireTime: number;
    let stats: Stats;
    try {
      stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return this.#quarantine(id, path, "the path is not a regular file");
      }
      expireTime = mtime(stats.mtimeMs);
      if (expireTime <= now) {
        await handle.close();
        this.#expired++;
        return this.#retire(id, path, stats.size, now);
      }
      body = await handle.readFile();
    } catch (err) {
      await handle.close().catch(() => {});
      throw fsError(err, "read a session file", this.dir);
    }
    await handle.close();
    try {
      const session = this.#codec.decode(id, body);
      if (this.#codec.sealedByOldKey(body))
        return this.#reseal(id, path, session, expireTime, stats.size);
      this.#cache.set(id, stats, session, now);
      return withExpiry(session, expireTime, stats.size);
    } catch (err) {
      if (err instanceof CorruptFileError) {
        return this.#quarantine(id, path, err.message, stats.size);
      }
      throw err;
    }
  }

  /**
   * Seals a session read under an older key again under the current one (same content,
   * version and expiry), once: a key rotation then completes as sessions are used. When
   * that write fails (a full disk) the session is served as read and sealed next time.
   */
  async #reseal(
    id: string,
    path: string,
    session: StoredSession,
    expireTime: number,
    size: number,
  ): Promise<Loaded> {
    try {
      await this.#write(id, path, session, expireTime, true, size);
      return withExpiry(session, expireTime, (await lstat(path)).size);
    } catch {
      // Left as it was: it still opens, under the old key.
      return withExpiry(session, expireTime, size);
    }
  }

  /** Warns first, then moves the file aside so nothing overwrites what an operator may need. */
  async #quarantine(id: string, path: string, reason: string, size?: number): Promise<undefined> {
    const aside = join(this.dir, `${id}.${Date.now()}.corrupt`);
    this.#logger.warn("file storage: unreadable session file treated as missing", {
      session: redactId(id),
      dir: this.dir,
      reason,
      movedTo: `${redactId(id)}.<epoch ms>.corrupt`,
    });
    // Moved aside, it is no longer a session file, but its bytes count until it is swept.
    const usage = this.#opened().usage;
    if (size !== undefined) usage.change(id, size, undefined);
    try {
      await rename(path, aside);
      // Its size now, not the one the budget knew: it may have changed behind our back.
      const moved = await lstat(aside).catch(() => undefined);
      if (moved?.isFile()) usage.setAside(moved.size);
    } catch (err) {
      if (size !== undefined && errorCode(err) !== "ENOENT") usage.change(id, undefined, size);
      if (errorCode(err) !== "ENOENT") {
        this.#logger.error("file storage: could not move an unreadable session file aside", {
          session: redactId(id),
          dir: this.dir,
          ...failure(err),
        });
      }
    }
    return undefined;
  }

  /**
   * Moves the expiry to now + ttl (capped by the lifetime) by setting the mtime. Slides
   * that would gain less than a twentieth of the TTL (at most 1 s) are skipped: a burst of
   * reads costs one utimes, and the session still expires no earlier than that margin.
   */
  async #slide(path: string, loaded: Loaded, expiry: Expiry, force: boolean): Promise<number> {
    const now = Date.now();
    const next = expireAt(now, loaded.createTime, expiry);
    const gain = next - loaded.expireTime;
    if (!force && gain >= 0 && gain < Math.min(1000, expiry.ttlMs / 20)) return loaded.expireTime;
    try {
      await utimes(path, now / 1000, next / 1000);
    } catch (err) {
      throw fsError(err, "update a session file's expiry", this.dir);
    }
    return next;
  }

  /**
   * Writes `session` to a temp file (mtime = expiry, synced), then moves it into place:
   * rename() when replacing, link() when creating, so a create never clobbers a file
   * another process made meanwhile. False when creating found the id taken. `before` is
   * the size of the file it replaces (undefined: none), for the budget, which refuses the
   * write (resource_exhausted) before anything is written when it does not fit.
   */
  async #write(
    id: string,
    path: string,
    session: StoredSession,
    expireTime: number,
    replace: boolean,
    before: number | undefined,
  ): Promise<boolean> {
    this.#cache.delete(id);
    const body = this.#codec.encode(id, session);
    this.#opened().admit(id, before, body.length);
    const temp = join(this.dir, `.${id}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
    try {
      await this.#writeTemp(temp, body, expireTime);
      if (replace) {
        await rename(temp, path);
        return true;
      }
      try {
        await link(temp, path);
      } catch (err) {
        const code = errorCode(err);
        if (code === "EEXIST") {
          this.#opened().usage.change(id, body.length, before);
          await unlinkQuietly(temp);
          return false;
        }
        // Filesystems without hard links: the in-process lock still keeps creates exclusive.
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw err;
        await rename(temp, path);
        return true;
      }
      await unlinkQuietly(temp);
      return true;
    } catch (err) {
      this.#opened().usage.change(id, body.length, before);
      await unlinkQuietly(temp);
      throw fsError(err, "write a session file", this.dir);
    }
  }

  async #writeTemp(temp: string, body: Buffer, expireTime: number): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(temp, "wx", 0o600);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
      // The directory vanished (tmp cleaners do that): make it again, once.
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      handle = await open(temp, "wx", 0o600);
    }
    try {
      await handle.writeFile(body);
      await handle.utimes(Date.now() / 1000, expireTime / 1000);
      if (this.#fsync) await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /**
   * The session in `path` (expired, or moved away) goes; its live request records stay, in
   * a tombstone, for their window (see Idempotency): so a retry after the session expired
   * is still answered. `session`: the file's content when the caller has it; else it is
   * read (a file that does not decode is simply deleted, as before records outlived it).
   * Returns the tombstone, if one was left: what the id now holds.
   */
  async #retire(
    id: string,
    path: string,
    size: number,
    now: number,
    session?: StoredSession,
  ): Promise<Loaded | undefined> {
    this.#cache.delete(id);
    let stored = session;
    if (stored === undefined) {
      try {
        stored = this.#codec.decode(id, await readFile(path));
      } catch {
        stored = undefined;
      }
    }
    const kept = stored?.requests && pruneRecords(stored.requests, now, MAX_REQUEST_RECORDS);
    if (kept !== undefined && Object.keys(kept).length > 0) {
      return this.#writeTombstone(id, path, kept, size);
    }
    await this.#unlink(id, path, size);
    return undefined;
  }

  /** Every delete goes through here; `size` (a regular file's) goes back to the budget. */
  async #unlink(id: string, path: string, size: number | undefined): Promise<void> {
    const usage = this.#opened().usage;
    if (size !== undefined) usage.change(id, size, undefined);
    try {
      await unlink(path);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return;
      if (size !== undefined) usage.change(id, undefined, size);
      throw fsError(err, "delete a session file", this.dir);
    }
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

/** Timestamps read back as floats; the expiry was written in whole milliseconds. */
function mtime(ms: number): number {
  return Math.round(ms);
}

async function unlinkQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}

function failure(err: unknown): Record<string, unknown> {
  return err instanceof Error
    ? { error: err.message, code: errorCode(err) }
    : { error: String(err) };
}

/**
 * A decoded session with its expiry. Spelled out rather than `{ ...session, expireTime }`:
 * in Node 20's V8 a spread followed by another property takes a slow path, ~0.6 us each
 * time, and this is on every read.
 */
function withExpiry(session: StoredSession, expireTime: number, size: number): Loaded {
  const { version, createTime, data, requests, gone } = session;
  return { version, createTime, expireTime, data, size, requests, gone };
}

/** `records` plus `record` under `key`, without expired ones, at most MAX_REQUEST_RECORDS. */
function withRecord(
  records: Record<string, RequestRecord> | undefined,
  now: number,
  key: string,
  record: RequestRecord,
): Record<string, RequestRecord> {
  const all: Record<string, RequestRecord> = { ...records };
  all[key] = record;
  return pruneRecords(all, now, MAX_REQUEST_RECORDS);
}

/** The records a rewritten session file carries on: its live ones, plus this write's. */
function keptRecords(
  records: Record<string, RequestRecord> | undefined,
  now: number,
  idem: Idempotency | undefined,
  result: object,
): Record<string, RequestRecord> | undefined {
  if (idem !== undefined) return withRecord(records, now, idem.key, recordOf(idem, now, result));
  if (records === undefined) return undefined;
  const live = pruneRecords(records, now, MAX_REQUEST_RECORDS);
  return Object.keys(live).length === 0 ? undefined : live;
}
