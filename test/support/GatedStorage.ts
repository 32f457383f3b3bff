import type {
  CallSignal,
  KeyRead,
  ReadOptions,
  SessionRecord,
} from "../../src/core/storage/Storage.js";
import { StorageDecorator } from "../../src/core/storage/StorageDecorator.js";

/**
 * A real storage whose reads can be held at a gate, so that a test can keep calls in
 * flight for as long as it needs (a certificate rotation, say) and count them.
 */
export class GatedStorage extends StorageDecorator {
  /** Reads that are waiting at the gate now. */
  waiting = 0;
  reads = 0;
  /** The signal the last read came with (see core/storage/cancellation.ts). */
  lastSignal: CallSignal | undefined;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  hold(): void {
    this.#gate ??= new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  async #pass(): Promise<void> {
    this.reads++;
    const gate = this.#gate;
    if (gate === undefined) return;
    this.waiting++;
    await gate;
    this.waiting--;
  }

  override async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    this.lastSignal = expiry.signal;
    await this.#pass();
    return this.inner.read(id, expiry);
  }
  override async readKey(
    id: string,
    key: string,
    expiry: ReadOptions,
  ): Promise<KeyRead | undefined> {
    this.lastSignal = expiry.signal;
    await this.#pass();
    return this.inner.readKey(id, key, expiry);
  }
}
