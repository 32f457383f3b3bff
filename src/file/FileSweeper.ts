import { lstat, opendir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { SAFE_ID } from "../core/storage/safeId.js";
import { fsError } from "./fsErrors.js";
import { TEMP_SUFFIX } from "./prepareDir.js";
import { mtime, type SessionFiles, SUFFIX, unlinkQuietly } from "./SessionFiles.js";

/** Session files a sweep looks at concurrently. */
const SWEEP_PARALLEL = 32;
const CORRUPT_SUFFIX = ".corrupt";
/** Temp files this old are leftovers of a crash, not writes in progress. */
const STALE_TEMP_MS = 10 * 60 * 1000;

/** Runs `fn` under the lock of the session file `id` (see FileDocumentStore.exclusive). */
export type LockRunner = <T>(id: string, fn: () => Promise<T>) => Promise<T>;

/**
 * Deletes expired session files (keeping their live request records in a tombstone),
 * files set aside as corrupt once kept long enough, and temp files left by a crash; and
 * recounts the directory for the disk budget as it goes, since it looks at every file.
 */
export class FileSweeper {
  readonly #files: SessionFiles;
  readonly #locked: LockRunner;
  readonly #corruptRetentionMs: number;
  #sweeping: Promise<number> | undefined;

  constructor(files: SessionFiles, locked: LockRunner, corruptRetentionMs: number) {
    this.#files = files;
    this.#locked = locked;
    this.#corruptRetentionMs = corruptRetentionMs;
  }

  /** Concurrent calls share one pass. Resolves to the number of session files deleted. */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepOnce().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  /** Resolves once a pass in flight (if any) has ended, whatever its outcome. */
  async idle(): Promise<void> {
    await this.#sweeping?.catch(() => {});
  }

  /**
   * Also recounts the session files for the budget: it looks at every one anyway. Files
   * are looked at SWEEP_PARALLEL at a time (a million take seconds, not a minute).
   */
  async #sweepOnce(): Promise<number> {
    const files = this.#files;
    let freed = 0;
    let failed: { err: unknown } | undefined;
    const inFlight = new Set<Promise<void>>();
    const usage = files.opened().usage;
    usage.beginCount();
    try {
      const dir = await opendir(files.dir, { bufferSize: 256 }).catch((err) => {
        throw fsError(err, "list", files.dir);
      });
      for await (const entry of dir) {
        if (files.closed || failed) break;
        const name = entry.name;
        if (name.endsWith(SUFFIX)) {
          const id = name.slice(0, -SUFFIX.length);
          if (!SAFE_ID.test(id)) continue;
          const job: Promise<void> = this.#sweepSession(id, join(files.dir, name)).then(
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
          await this.#sweepAside(join(files.dir, name));
        } else if (name.startsWith(".") && name.endsWith(TEMP_SUFFIX)) {
          const path = join(files.dir, name);
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
    if (files.closed) usage.abortCount();
    else usage.endCount();
    return freed;
  }

  /** Deletes the file if expired; tells the count what it found (sizes of regular files only). */
  async #sweepSession(id: string, path: string): Promise<number> {
    const files = this.#files;
    const usage = files.opened().usage;
    const before = await lstat(path).catch(() => undefined);
    if (!before || mtime(before.mtimeMs) > Date.now()) {
      usage.saw(id, before?.isFile() ? before.size : undefined);
      return 0;
    }
    // Look again under the lock: a write may have replaced the file since.
    return this.#locked(id, async () => {
      const stats = await lstat(path).catch(() => undefined);
      if (!stats || mtime(stats.mtimeMs) > Date.now()) {
        usage.saw(id, stats?.isFile() ? stats.size : undefined);
        return 0;
      }
      if (stats.isFile()) await files.retire(id, path, stats.size, Date.now());
      else await files.unlink(id, path, undefined);
      files.cache.delete(id);
      usage.saw(id, undefined);
      files.expired++;
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
    this.#files.opened().usage.sawAside(stats.size);
  }
}
