import { open } from "node:fs/promises";

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
  /** Directory fsyncs done: what a test reads to see writes share them. */
  syncs = 0;

  constructor(dir: string) {
    this.#dir = dir;
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

  /**
   * Opened each time rather than kept open: a directory removed and made again (tmp
   * cleaners do that; see SessionFiles.#writeTemp) is then the one synced.
   */
  async #fsync(): Promise<void> {
    const handle = await open(this.#dir, "r");
    try {
      await handle.sync();
      this.syncs++;
    } finally {
      await handle.close();
    }
  }
}
