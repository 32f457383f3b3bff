import { randomBytes } from "node:crypto";
import { constants, lstatSync, type Stats, type StatsFs } from "node:fs";
import {
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  readFile,
  rename,
  statfs,
  unlink,
  utimes,
} from "node:fs/promises";
import { join } from "node:path";
import { type Logger, redactId } from "../core/Logger.js";
import { SessionError } from "../core/SessionError.js";
import { pruneRecords, type RequestRecord } from "../core/storage/requestRecords.js";
import { type Expiry, expireAt, MAX_REQUEST_RECORDS } from "../core/storage/Storage.js";
import { DirSync } from "./DirSync.js";
import { DiskBudget, type DiskBudgetSettings } from "./DiskBudget.js";
import { errorCode, failure, fsError } from "./fsErrors.js";
import { prepareDir, TEMP_SUFFIX } from "./prepareDir.js";
import { ReadCache } from "./ReadCache.js";
import { CorruptFileError, type SessionFileCodec, type StoredSession } from "./SessionFileCodec.js";

export const SUFFIX = ".session";
/** A cached session checked against its file this recently is validated synchronously. */
const HOT_MS = 2000;

/** A session file as read: its content, with what the file itself says of it. */
export interface StoredFile extends StoredSession {
  /** The file's mtime: the instant the session expires. */
  expireTime: number;
  /** The file's size, for the disk budget. */
  size: number;
}

export interface SessionFilesSettings {
  dir: string;
  logger: Logger;
  codec: SessionFileCodec;
  fsync: boolean;
  readCacheBytes: number;
  budget: DiskBudgetSettings;
}

/**
 * The session files of one directory and every way they are read, written and deleted:
 * what the file storage's store and its sweeper share. It keeps the budget's count true
 * (every write is admitted first, every delete goes back to it) and the read cache
 * coherent (every write and delete drops the id's entry).
 *
 * Locking is not done here: callers hold the id's lock (see FileDocumentStore.exclusive).
 */
export class SessionFiles {
  readonly dir: string;
  readonly logger: Logger;
  readonly cache: ReadCache;
  readonly #codec: SessionFileCodec;
  readonly #fsync: boolean;
  /** The directory's fsync, shared by the writes that land while one is in flight. */
  readonly dirSync: DirSync;
  readonly #budgetSettings: DiskBudgetSettings;
  /** Set by prepare(): the constructor does no I/O. */
  #budget: DiskBudget | undefined;
  #closed = false;
  /** Session files deleted because they had expired (see FileStorage.expired). */
  expired = 0;

  constructor(settings: SessionFilesSettings) {
    this.dir = settings.dir;
    this.logger = settings.logger;
    this.#codec = settings.codec;
    this.#fsync = settings.fsync;
    this.dirSync = new DirSync(settings.dir);
    this.cache = new ReadCache(settings.readCacheBytes);
    this.#budgetSettings = settings.budget;
  }

  /**
   * Creates the directory 0700, refuses one planted by another user, checks the
   * filesystem's timestamps, and reads the free space for the budget.
   */
  async prepare(): Promise<void> {
    this.assertOpen();
    prepareDir(this.dir, this.logger);
    let fs: StatsFs;
    try {
      fs = await statfs(this.dir);
    } catch (err) {
      throw fsError(err, "read the free space of the filesystem", this.dir);
    }
    this.assertOpen();
    this.#budget = new DiskBudget(this.dir, this.#budgetSettings, fs);
  }

  /** Whether prepare() has run: the budget exists. */
  get prepared(): boolean {
    return this.#budget !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    this.cache.clear();
  }

  /** The budget, which exists once prepare() has run (every operation waits for it). */
  opened(): DiskBudget {
    if (this.#budget === undefined) throw new Error("file storage: call open() first");
    return this.#budget;
  }

  /** The budget, or undefined before prepare(): for what metrics read at any time. */
  get budget(): DiskBudget | undefined {
    return this.#budget;
  }

  assertOpen(): void {
    if (this.#closed)
      throw new SessionError("unavailable", "file storage is closed", {
        reason: "STORAGE_UNAVAILABLE",
      });
  }

  /** Ids reach here checked (SessionEngine refuses any outside the safe alphabet). */
  path(id: string): string {
    return join(this.dir, `${id}${SUFFIX}`);
  }

  /** The live session in `path` (see loadAny); a tombstone reads as missing. */
  async loadLive(
    id: string,
    path: string,
    now: number,
    expiry: Expiry,
  ): Promise<StoredFile | undefined> {
    const loaded = await this.loadAny(id, path, now, expiry);
    return loaded?.gone ? undefined : loaded;
  }

  /**
   * The live session or tombstone in `path`; undefined when missing, expired (deleted) or
   * corrupt (moved). Its data may be shared with the read cache: copy before handing it out.
   *
   * The mtime is only the idle expiry, and anyone who can write to the directory can move
   * it: with `expiry` (the call's), a session also expires when the absolute lifetime its
   * sealed creation time gives has run out, whatever the mtime says, and the expiry it
   * reports is capped by it. Without (a write's load, a create's record file) only the
   * mtime counts: SessionEngine applies the lifetime to what a write loads.
   */
  async loadAny(
    id: string,
    path: string,
    now: number,
    expiry?: Expiry,
  ): Promise<StoredFile | undefined> {
    const loaded = await this.#loadFile(id, path, now);
    const life = expiry?.maxLifetimeMs;
    if (loaded === undefined || loaded.gone || life === undefined) return loaded;
    const end = loaded.createTime + life;
    if (end > now) {
      if (end < loaded.expireTime) loaded.expireTime = end;
      return loaded;
    }
    this.expired++;
    return this.retire(id, path, loaded.size, now, loaded);
  }

  /** loadAny by the file alone: its mtime is its expiry. */
  async #loadFile(id: string, path: string, now: number): Promise<StoredFile | undefined> {
    const hot = this.cache.checkedSince(id, now - HOT_MS);
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
        this.cache.delete(id);
        return undefined;
      }
      const cached = stats.isFile() ? this.cache.get(id, stats, now) : undefined;
      if (cached !== undefined) {
        const expireTime = mtime(stats.mtimeMs);
        if (expireTime > now) return withExpiry(cached, expireTime, stats.size);
        this.expired++;
        return this.retire(id, path, stats.size, now, cached);
      }
      this.cache.delete(id);
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
        this.expired++;
        return this.retire(id, path, stats.size, now);
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
      this.cache.set(id, stats, session, now);
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
  ): Promise<StoredFile> {
    try {
      await this.write(id, path, session, expireTime, true, size);
      return withExpiry(session, expireTime, (await lstat(path)).size);
    } catch {
      // Left as it was: it still opens, under the old key.
      return withExpiry(session, expireTime, size);
    }
  }

  /** Warns first, then moves the file aside so nothing overwrites what an operator may need. */
  async #quarantine(id: string, path: string, reason: string, size?: number): Promise<undefined> {
    const aside = join(this.dir, `${id}.${Date.now()}.corrupt`);
    this.logger.warn("file storage: unreadable session file treated as missing", {
      session: redactId(id),
      dir: this.dir,
      reason,
      movedTo: `${redactId(id)}.<epoch ms>.corrupt`,
    });
    // Moved aside, it is no longer a session file, but its bytes count until it is swept.
    const usage = this.opened().usage;
    if (size !== undefined) usage.change(id, size, undefined);
    try {
      await rename(path, aside);
      // Its size now, not the one the budget knew: it may have changed behind our back.
      const moved = await lstat(aside).catch(() => undefined);
      if (moved?.isFile()) usage.setAside(moved.size);
    } catch (err) {
      if (size !== undefined && errorCode(err) !== "ENOENT") usage.change(id, undefined, size);
      if (errorCode(err) !== "ENOENT") {
        this.logger.error("file storage: could not move an unreadable session file aside", {
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
  async slide(path: string, loaded: StoredFile, expiry: Expiry, force: boolean): Promise<number> {
    const now = Date.now();
    const next = expireAt(now, loaded.createTime, expiry);
    const gain = next - loaded.expireTime;
    if (!force && gain >= 0 && gain < Math.min(1000, expiry.ttlMs / 20)) return loaded.expireTime;
    await this.setExpiry(path, now, next);
    return next;
  }

  /** Sets the file's mtime, which is its expiry; the data is not rewritten. */
  async setExpiry(path: string, now: number, expireTime: number): Promise<void> {
    try {
      await utimes(path, now / 1000, expireTime / 1000);
    } catch (err) {
      throw fsError(err, "update a session file's expiry", this.dir);
    }
  }

  /**
   * Writes `session` to a temp file (mtime = expiry, synced), then moves it into place:
   * rename() when replacing, link() when creating, so a create never clobbers a file
   * another process made meanwhile. False when creating found the id taken. `before` is
   * the size of the file it replaces (undefined: none), for the budget, which refuses the
   * write (resource_exhausted) before anything is written when it does not fit.
   *
   * With fsync (the default) it resolves once the write is durable: the temp file's data
   * and mtime are synced before the move (so a crash of the machine leaves the old file or
   * the new one, never a part), and the directory after it (so the move itself survives
   * one). The directory's fsync is shared (DirSync): the writes that land while one is in
   * flight are all covered by the next, so concurrent writes pay one between them. When
   * it fails the file is already in place: the error says the write may have been applied.
   */
  async write(
    id: string,
    path: string,
    session: StoredSession,
    expireTime: number,
    replace: boolean,
    before: number | undefined,
  ): Promise<boolean> {
    this.cache.delete(id);
    const body = this.#codec.encode(id, session);
    this.opened().admit(id, before, body.length);
    const temp = join(this.dir, `.${id}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
    try {
      await this.#writeTemp(temp, body, expireTime);
      if (!(await this.#place(temp, path, replace))) {
        this.opened().usage.change(id, body.length, before);
        await unlinkQuietly(temp);
        return false;
      }
    } catch (err) {
      this.opened().usage.change(id, body.length, before);
      await unlinkQuietly(temp);
      throw fsError(err, "write a session file", this.dir);
    }
    await this.durable("write a session file");
    return true;
  }

  /** Moves the synced temp file to `path`; false when creating found the id taken. */
  async #place(temp: string, path: string, replace: boolean): Promise<boolean> {
    if (replace) {
      await rename(temp, path);
      return true;
    }
    try {
      await link(temp, path);
    } catch (err) {
      const code = errorCode(err);
      if (code === "EEXIST") return false;
      // Filesystems without hard links: the in-process lock still keeps creates exclusive.
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw err;
      await rename(temp, path);
      return true;
    }
    // The temp name's removal need not be durable: a sweep deletes temp files a crash left.
    await unlinkQuietly(temp);
    return true;
  }

  /**
   * With fsync, waits for the directory's fsync to cover what this call changed in it (see
   * DirSync). The change is made already: a failure says it may have been applied.
   */
  async durable(action: string): Promise<void> {
    if (!this.#fsync) return;
    try {
      await this.dirSync.sync();
    } catch (err) {
      const cause = fsError(err, action, this.dir);
      throw new SessionError(
        "unavailable",
        `${cause.message}: could not sync the directory after the change; it may have been applied`,
        { cause, reason: "WRITE_OUTCOME_UNKNOWN" },
      );
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
      this.dirSync.reopen();
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

  /** A tombstone holding `requests` replaces whatever `path` holds; it expires with them. */
  async writeTombstone(
    id: string,
    path: string,
    requests: Record<string, RequestRecord>,
    before: number | undefined,
  ): Promise<StoredFile> {
    let expireTime = Date.now();
    for (const record of Object.values(requests)) expireTime = Math.max(expireTime, record.e);
    const tombstone: StoredSession = {
      version: 0,
      createTime: Date.now(),
      data: {},
      requests,
      gone: true,
    };
    await this.write(id, path, tombstone, expireTime, true, before);
    return withExpiry(tombstone, expireTime, (await lstat(path)).size);
  }

  /**
   * The session in `path` (expired, or moved away) goes; its live request records stay, in
   * a tombstone, for their window (see Idempotency): so a retry after the session expired
   * is still answered. `session`: the file's content when the caller has it; else it is
   * read (a file that does not decode is simply deleted, as before records outlived it).
   * `extra`: a record to keep with them. `durable`: see unlink (a tombstone is written
   * durably anyway). Returns the tombstone, if one was left: what the
   * id now holds.
   */
  async retire(
    id: string,
    path: string,
    size: number,
    now: number,
    session?: StoredSession,
    extra?: { key: string; record: RequestRecord },
    durable = false,
  ): Promise<StoredFile | undefined> {
    this.cache.delete(id);
    let stored = session;
    if (stored === undefined) {
      try {
        stored = this.#codec.decode(id, await readFile(path));
      } catch {
        stored = undefined;
      }
    }
    const kept = extra
      ? withRecord(stored?.requests, now, extra.key, extra.record)
      : liveRecords(stored?.requests, now);
    if (kept !== undefined && Object.keys(kept).length > 0) {
      return this.writeTombstone(id, path, kept, size);
    }
    await this.unlink(id, path, size, durable);
    return undefined;
  }

  /**
   * Every delete goes through here; `size` (a regular file's) goes back to the budget.
   * `durable`: with fsync, resolve only once the directory is synced (a destroy; the
   * deletes of expired files need not wait, an expired file that comes back is expired).
   */
  async unlink(id: string, path: string, size: number | undefined, durable = false): Promise<void> {
    const usage = this.opened().usage;
    if (size !== undefined) usage.change(id, size, undefined);
    try {
      await unlink(path);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return;
      if (size !== undefined) usage.change(id, undefined, size);
      throw fsError(err, "delete a session file", this.dir);
    }
    if (durable) await this.durable("delete a session file");
  }
}

/** Timestamps read back as floats; the expiry was written in whole milliseconds. */
export function mtime(ms: number): number {
  return Math.round(ms);
}

export async function unlinkQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}

/**
 * A decoded session with its expiry. Spelled out rather than `{ ...session, expireTime }`:
 * in Node 20's V8 a spread followed by another property takes a slow path, ~0.6 us each
 * time, and this is on every read.
 */
function withExpiry(session: StoredSession, expireTime: number, size: number): StoredFile {
  const { version, createTime, data, requests, gone } = session;
  return { version, createTime, expireTime, data, size, requests, gone };
}

/** `records` plus `record` under `key`, without expired ones, at most MAX_REQUEST_RECORDS. */
export function withRecord(
  records: Record<string, RequestRecord> | undefined,
  now: number,
  key: string,
  record: RequestRecord,
): Record<string, RequestRecord> {
  const all: Record<string, RequestRecord> = { ...records };
  all[key] = record;
  return pruneRecords(all, now, MAX_REQUEST_RECORDS);
}

/** The records a rewritten file carries on: its live ones (undefined when none). */
export function liveRecords(
  records: Record<string, RequestRecord> | undefined,
  now: number,
): Record<string, RequestRecord> | undefined {
  if (records === undefined) return undefined;
  const live = pruneRecords(records, now, MAX_REQUEST_RECORDS);
  return Object.keys(live).length === 0 ? undefined : live;
}
