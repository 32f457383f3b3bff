/** How a session file changed while the directory was being counted. */
interface Change {
  /** Its size when the count began; undefined: there was no file. */
  original: number | undefined;
  current: number | undefined;
  /** The file was deleted at some point during the count. */
  deleted: boolean;
  /** The count looked at it after the change began (so it did not count what it saw). */
  seen: boolean;
}

interface Count {
  files: number;
  bytes: number;
  changed: Map<string, Change>;
  /** Files set aside as corrupt that the walk saw, and those set aside since it began. */
  asideBytes: number;
  asideAdded: number;
}

/**
 * The session files a directory holds and the disk they take: kept up to date by every
 * write and delete of this process, and recounted by walking the directory (at start, and
 * on every sweep, which looks at every file anyway), so that what other processes, an
 * operator or a crash did is picked up within one sweep.
 *
 * A count runs while writes go on. Writers report a change before they make it on disk;
 * the count ignores what it sees of a file once a change to it began and takes the file's
 * state from the writers instead. What it cannot know is whether it saw, before the
 * deletion, a file deleted during the count (a directory walk may or may not list it);
 * such a file may be counted twice, which errs on the side of refusing a little early,
 * until the next count.
 *
 * Until the first count is complete, files and bytes are what it has counted so far plus
 * the changes since: less than the truth, the best known.
 *
 * A file is charged its size rounded up to whole filesystem blocks: what the disk loses.
 *
 * Files set aside as corrupt (`<id>.<ms>.corrupt`) take disk too: their bytes count, but
 * they are not sessions, so not in `files`. Only the count knows them (FileStorage's
 * sweep deletes them after a retention), besides those set aside since; one set aside
 * while a count runs may be counted twice until the next count.
 */
export class DiskUsage {
  readonly #blockSize: number;
  /** The totals as last counted, kept up to date by changes since. */
  #files = 0;
  #bytes = 0;
  #asideBytes = 0;
  #count: Count | undefined;
  #everCounted = false;
  /** What the first complete count found (undefined until there is one). */
  bytesAtStart: number | undefined;

  constructor(blockSize: number) {
    this.#blockSize = blockSize;
  }

  get files(): number {
    return this.#files + (this.#everCounted ? 0 : (this.#count?.files ?? 0));
  }

  get bytes(): number {
    const counting = this.#everCounted
      ? 0
      : (this.#count?.bytes ?? 0) + (this.#count?.asideBytes ?? 0);
    return this.#bytes + this.#asideBytes + counting;
  }

  /** The disk a file of `size` bytes takes (0: no file). */
  cost(size: number | undefined): number {
    if (size === undefined) return 0;
    return Math.max(1, Math.ceil(size / this.#blockSize)) * this.#blockSize;
  }

  /**
   * A session file goes from `before` to `after` bytes (undefined: no file). Reported
   * before the change is made, and reported back (after, before) if it fails.
   */
  change(id: string, before: number | undefined, after: number | undefined): void {
    this.#files += (after === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
    this.#bytes += this.cost(after) - this.cost(before);
    const count = this.#count;
    if (count === undefined) return;
    const known = count.changed.get(id);
    if (known === undefined) {
      count.changed.set(id, {
        original: before,
        current: after,
        deleted: after === undefined,
        seen: false,
      });
    } else {
      known.current = after;
      if (after === undefined) known.deleted = true;
    }
  }

  /** A session file of `size` bytes was set aside as corrupt (after change(id, size, undefined)). */
  setAside(size: number): void {
    this.#asideBytes += this.cost(size);
    if (this.#count !== undefined) this.#count.asideAdded += this.cost(size);
  }

  /** The count found a file set aside as corrupt, of `size` bytes, that stays. */
  sawAside(size: number): void {
    if (this.#count !== undefined) this.#count.asideBytes += this.cost(size);
  }

  beginCount(): void {
    this.#count = { files: 0, bytes: 0, changed: new Map(), asideBytes: 0, asideAdded: 0 };
  }

  /** The count found session file `id` of `size` bytes (undefined: it is gone, or going). */
  saw(id: string, size: number | undefined): void {
    const count = this.#count;
    if (count === undefined) return;
    const changed = count.changed.get(id);
    if (changed !== undefined) changed.seen = true;
    else if (size !== undefined) {
      count.files++;
      count.bytes += this.cost(size);
    }
  }

  /** The walk is complete: what it counted, corrected by what changed meanwhile, is the truth. */
  endCount(): void {
    const count = this.#count;
    if (count === undefined) return;
    this.#count = undefined;
    let { files, bytes } = count;
    for (const { original, current, deleted, seen } of count.changed.values()) {
      // Unseen and never deleted: the file was there throughout, so the walk counted it
      // (as it was before the change). Otherwise the walk did not count it, or may not have.
      const counted = !seen && original !== undefined && !deleted;
      files += (current === undefined ? 0 : 1) - (counted ? 1 : 0);
      bytes += this.cost(current) - (counted ? this.cost(original) : 0);
    }
    this.#files = files;
    this.#bytes = bytes;
    this.#asideBytes = count.asideBytes + count.asideAdded;
    this.#everCounted = true;
    this.bytesAtStart ??= bytes + this.#asideBytes;
  }

  /** The walk failed or was cut short: keep the running totals. */
  abortCount(): void {
    this.#count = undefined;
  }
}
