import type { Stats } from "node:fs";
import type { StoredSession } from "./SessionFileCodec.js";

interface Cached {
  session: StoredSession;
  bytes: number;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  /** When the file was last found unchanged (ms since the epoch). */
  checkedAt: number;
}

/**
 * Decoded sessions, each tied to the identity of the file it was decoded from (device,
 * inode, size, mtime, ctime). A read that finds the file unchanged since (one lstat) skips
 * open, read, close and decoding; any change to the file (a rename from any writer makes
 * a new inode; writing or touching it moves ctime) makes the entry miss, so the cache
 * never serves what the disk no longer says. Least recently used entries go first once
 * the decoded files add up to more than `maxBytes`.
 *
 * Entries are shared: whoever hands data out copies it.
 */
export class ReadCache {
  readonly #entries = new Map<string, Cached>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The session decoded from the file `stats` describes, if that is the file cached. */
  get(id: string, stats: Stats, now: number): StoredSession | undefined {
    const hit = this.#entries.get(id);
    if (hit === undefined) return undefined;
    if (
      hit.ino !== stats.ino ||
      hit.dev !== stats.dev ||
      hit.size !== stats.size ||
      hit.mtimeMs !== stats.mtimeMs ||
      hit.ctimeMs !== stats.ctimeMs
    ) {
      this.delete(id);
      return undefined;
    }
    hit.checkedAt = now;
    // Most recently used last: Map iteration order is insertion order.
    this.#entries.delete(id);
    this.#entries.set(id, hit);
    return hit.session;
  }

  /** undefined: nothing cached; else whether the entry was checked at or after `since`. */
  checkedSince(id: string, since: number): boolean | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined ? undefined : entry.checkedAt >= since;
  }

  set(id: string, stats: Stats, session: StoredSession, now: number): void {
    if (stats.size > this.#maxBytes) return;
    this.delete(id);
    const { dev, ino, size, mtimeMs, ctimeMs } = stats;
    this.#entries.set(id, {
      session,
      bytes: size,
      dev,
      ino,
      size,
      mtimeMs,
      ctimeMs,
      checkedAt: now,
    });
    this.#bytes += size;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  delete(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}
