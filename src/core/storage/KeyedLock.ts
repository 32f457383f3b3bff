/**
 * Per-key mutual exclusion inside one process: tasks for one key run one after another,
 * tasks for different keys run freely. Entries are dropped as soon as a key is idle, so
 * the map holds only keys with work in flight.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Resolves once every task queued so far has finished. */
  async idle(): Promise<void> {
    await Promise.all(this.#tails.values());
  }

  /** Keys with a task running or queued. */
  get busy(): number {
    return this.#tails.size;
  }
}
