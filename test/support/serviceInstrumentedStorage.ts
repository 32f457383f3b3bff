import type {
  ApplyOptions,
  ApplyResult,
  Delta,
  DestroyOptions,
  Expiry,
  KeyRead,
  RegenerateOptions,
  RegenerateResult,
  Replay,
  SessionMeta,
  SessionRecord,
  TouchOptions,
} from "../../src/core/storage/Storage.js";
import { StorageDecorator } from "../../src/core/storage/StorageDecorator.js";

export type StorageMethod =
  | "read"
  | "readKey"
  | "apply"
  | "touch"
  | "regenerate"
  | "destroy"
  | "ping";

/**
 * Wraps a real storage to count calls and, on demand, fail or slow them — so tests can
 * observe what the interceptor and handlers ask of any storage (memory, file, redis).
 * close() and capabilities pass through (StorageDecorator).
 */
export class InstrumentedStorage extends StorageDecorator {
  readonly calls: Record<StorageMethod, number> = {
    read: 0,
    readKey: 0,
    apply: 0,
    touch: 0,
    regenerate: 0,
    destroy: 0,
    ping: 0,
  };
  /** When set, the listed methods (all when `only` is empty) throw this instead of running. */
  failure: { error: unknown; only?: StorageMethod[] } | undefined;
  /** Added before every call, to let deadlines run out. */
  delayMs = 0;
  /**
   * Added after every call has run, before its result is handed back: the write is done
   * but its reply is held, so a caller's deadline can pass on an applied write.
   */
  holdReplyMs = 0;

  get totalCalls(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  resetCounts(): void {
    for (const key of Object.keys(this.calls) as StorageMethod[]) this.calls[key] = 0;
  }

  override read(id: string, expiry: Expiry): Promise<SessionRecord | undefined> {
    return this.#run("read", () => this.inner.read(id, expiry));
  }
  override readKey(id: string, key: string, expiry: Expiry): Promise<KeyRead | undefined> {
    return this.#run("readKey", () => this.inner.readKey(id, key, expiry));
  }
  override apply(
    id: string,
    delta: Delta,
    options: ApplyOptions,
  ): Promise<ApplyResult | undefined> {
    return this.#run("apply", () => this.inner.apply(id, delta, options));
  }
  override touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined> {
    return this.#run("touch", () => this.inner.touch(id, options));
  }
  override regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    return this.#run("regenerate", () => this.inner.regenerate(oldId, newId, options));
  }
  // biome-ignore lint/suspicious/noConfusingVoidType: the Storage contract's return type
  override destroy(id: string, options?: DestroyOptions): Promise<Replay | undefined | void> {
    return this.#run("destroy", () => this.inner.destroy(id, options));
  }
  override ping(): Promise<void> {
    return this.#run("ping", () => this.inner.ping());
  }
  async #run<T>(method: StorageMethod, fn: () => Promise<T>): Promise<T> {
    this.calls[method]++;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const failure = this.failure;
    if (failure && (!failure.only || failure.only.includes(method))) throw failure.error;
    const result = await fn();
    if (this.holdReplyMs > 0) await new Promise((r) => setTimeout(r, this.holdReplyMs));
    return result;
  }
}
