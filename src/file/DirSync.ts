import { close, fsync, open } from "node:fs";
import { promisify } from "node:util";

const openFd = promisify(open);
const fsyncFd = promisify(fsync);
const closeFd = (fd: number) => close(fd, () => {});
/**
 * A DirSync dropped without close() (a storage never closed) closes its descriptor when
 * collected. A plain descriptor rather than a FileHandle, which warns when collected open.
 */
const unclosed = new FinalizationRegistry<Set<number>>((fds) => {
  for (const fd of fds) closeFd(fd);
});

/**
 * fsync of one directory, shared by every caller that needs it at about the same time
 * (group commit): a rename() or link() is durable only once its directory is synced.
 *
 * The promise sync() returns resolves after an fsync of the directory that STARTED after
 * sync() was called, so it covers every change the caller made to the directory before
 * calling. While one fsync is in flight, callers arriving meanwhile share the next one,
 * which starts as soon as it ends: however many writes land during one fsync, the next
 * covers all of them, and at most two are ever outstanding.
 */
export class DirSync {
  readonly #dir: string;
  /** The fsync in flight, if any. */
  #running: Promise<void> | undefined;
  /** The fsync that starts when the one in flight ends, shared by everyone waiting for it. */
  #next: Promise<void> | undefined;
  /** The directory, opened by the first fsync and kept: two calls fewer per fsync. */
  #opening: Promise<number> | undefined;
  /** The descriptors open (the one kept, and one being retired), for close and the finalizer. */
  readonly #fds = new Set<number>();
  /** Directory fsyncs done: what a test reads to see writes share them. */
  syncs = 0;

  constructor(dir: string) {
    this.#dir = dir;
    unclosed.register(this, this.#fds);
  }

  sync(): Promise<void> {
    const running = this.#running;
    if (running === undefined) return this.#start();
    this.#next ??= running
      .catch(() => {})
      .then(() => {
        this.#next = undefined;
        return this.#start();
      });
    return this.#next;
  }

  #start(): Promise<void> {
    const run = this.#fsync().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #fsync(): Promise<void> {
    this.#opening ??= this.#open();
    const opening = this.#opening;
    let fd: number;
    try {
      fd = await opening;
    } catch (err) {
      if (this.#opening === opening) this.#opening = undefined;
      throw err;
    }
    await fsyncFd(fd);
    this.syncs++;
  }

  async #open(): Promise<number> {
    const fd = await openFd(this.#dir, "r");
    this.#fds.add(fd);
    return fd;
  }

  /**
   * Forgets the directory opened: the next fsync opens it again. For when it was made
   * again (tmp cleaners remove it; see SessionFiles.#writeTemp): the descriptor kept would
   * sync the removed one. Its last fsync may still be in flight: it is closed after that.
   */
  reopen(): void {
    const opening = this.#opening;
    if (opening === undefined) return;
    this.#opening = undefined;
    void Promise.allSettled([this.#running])
      .then(() => opening)
      .then(
        (fd) => {
          if (this.#fds.delete(fd)) closeFd(fd);
        },
        () => {},
      );
  }

  /** Closes the directory kept open, once the fsyncs in flight are done. */
  async close(): Promise<void> {
    await this.#running?.catch(() => {});
    await this.#next?.catch(() => {});
    this.#opening = undefined;
    for (const fd of this.#fds) closeFd(fd);
    this.#fds.clear();
  }
}
