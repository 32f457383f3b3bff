import type { CapabilityKey } from "./capabilities.js";
import type { Storage } from "./Storage.js";

/**
 * The base of every storage that wraps another (HashedIdStorage, the server's
 * MeteredStorage): each method, and every capability lookup, goes to `inner` unchanged. A
 * decorator overrides only what it changes, so a method or capability added later reaches
 * the wrapped storage through every decorator without editing them (shardTrouble was once
 * forwarded by hand, and forgotten by one wrapper).
 *
 * A decorator that changes what a capability means (one that renames ids, say, under a
 * capability that hands out ids) must override capability() and answer that key itself.
 * Arguments are passed on as they are, options the contract may grow included.
 */
export abstract class StorageDecorator implements Storage {
  readonly inner: Storage;

  constructor(inner: Storage) {
    this.inner = inner;
  }

  read(...args: Parameters<Storage["read"]>): ReturnType<Storage["read"]> {
    return this.inner.read(...args);
  }

  readKey(...args: Parameters<Storage["readKey"]>): ReturnType<Storage["readKey"]> {
    return this.inner.readKey(...args);
  }

  apply(...args: Parameters<Storage["apply"]>): ReturnType<Storage["apply"]> {
    return this.inner.apply(...args);
  }

  regenerate(...args: Parameters<Storage["regenerate"]>): ReturnType<Storage["regenerate"]> {
    return this.inner.regenerate(...args);
  }

  touch(...args: Parameters<Storage["touch"]>): ReturnType<Storage["touch"]> {
    return this.inner.touch(...args);
  }

  destroy(...args: Parameters<Storage["destroy"]>): ReturnType<Storage["destroy"]> {
    return this.inner.destroy(...args);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.inner.capability?.(key);
  }
}
