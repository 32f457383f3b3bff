/**
 * Optional capabilities of a storage: what some storages can do beyond the Storage contract
 * (report shards down, count what they hold, derive a request-id secret, hand out their
 * Redis connection). Each is a typed key; a storage answers `capability(key)` with the
 * object that implements it, or undefined. A decorator (StorageDecorator) passes every
 * lookup it does not answer itself to the storage it wraps, so a new capability reaches
 * the server through HashedIdStorage, MeteredStorage and any other wrapper without
 * editing them, and nothing above a storage needs `instanceof` or a cast to find it.
 *
 * The keys of capabilities every layer may ask about live here; a backend's own (the Redis
 * storages' REDIS_BACKED) lives in its folder, because its type names backend classes.
 * Later capabilities (a per-user index, a change feed) are keys like these: no storage,
 * decorator or lookup changes to add one.
 */

import type { Logger } from "../Logger.js";

/**
 * Names a capability whose implementation has type T. Compared by identity: two keys made
 * with the same name are different capabilities, so no two modules can collide by accident.
 */
export interface CapabilityKey<T> {
  /** For messages and debugging only. */
  readonly name: string;
  /** Never set: carries T, so that a lookup is typed by its key. */
  readonly type?: T;
}

export function capabilityKey<T>(name: string): CapabilityKey<T> {
  return Object.freeze({ name });
}

/** Anything a capability can be asked of: a Storage (see Storage.capability). */
export interface CapabilityHolder {
  capability?<T>(key: CapabilityKey<T>): T | undefined;
}

/**
 * The one lookup: what `storage` (through every decorator around it) offers under `key`,
 * or undefined when it does not have that capability (a storage without `capability()`
 * has none).
 */
export function capabilityOf<T>(storage: CapabilityHolder, key: CapabilityKey<T>): T | undefined {
  return storage.capability?.(key);
}

/**
 * A storage's own capabilities, as a typed table: `with` takes a key and a value of that
 * key's type, so `get` is typed without a cast at each storage.
 */
export class CapabilitySet {
  readonly #entries = new Map<CapabilityKey<unknown>, unknown>();

  with<T>(key: CapabilityKey<T>, value: T): this {
    this.#entries.set(key, value);
    return this;
  }

  get<T>(key: CapabilityKey<T>): T | undefined {
    // Only `with` adds entries, and it pairs each key with a value of its type.
    return this.#entries.get(key) as T | undefined;
  }
}

/** A storage spread over shards (Redis Cluster). */
export interface Sharded {
  /**
   * The shards its last ping found down while others answered; empty when all answer.
   * The server's health check logs them (the storage stays SERVING while any shard answers).
   */
  shardTrouble(): readonly string[];
}
export const SHARDED = capabilityKey<Sharded>("sessiond.sharded");

/** A storage that frees expired sessions itself and counts them (memory, file). */
export interface ExpiryCounted {
  /** Sessions freed because they had expired, since the storage was created. */
  expired(): number;
}
export const EXPIRY_COUNTED = capabilityKey<ExpiryCounted>("sessiond.expiryCounted");

/** What a budgeted storage holds against its budget, as last counted. */
export interface BudgetUsage {
  /** Sessions held (memory: expired ones not yet swept included; file: files, tombstones included). */
  sessions: number;
  /** Bytes charged against maxBytes (memory: estimated heap; file: whole filesystem blocks). */
  usedBytes: number;
  /** The byte budget; Infinity when there is none. */
  maxBytes: number;
  /** The file budget (file storage only); Infinity when there is none. */
  maxFiles?: number;
  /** Free space the file storage leaves on its filesystem (file storage only). */
  minFreeBytes?: number;
}

/** A storage that keeps what it holds within a budget (memory: heap; file: disk). */
export interface Budgeted {
  /**
   * What the budget is spent on; metrics name their gauges after it (sessiond_memory_*,
   * sessiond_file_*), so one server's dashboards do not depend on which class stores.
   */
  readonly medium: "memory" | "file";
  /** Undefined while not known yet (a file storage not open). */
  usage(): BudgetUsage | undefined;
}
export const BUDGETED = capabilityKey<Budgeted>("sessiond.budgeted");

/**
 * A storage keyed by a secret that every instance sharing the store shares (HashedIdStorage):
 * Manager keys request records with a secret derived from it, so that a retry reaching
 * another instance (or a restarted one) finds the first attempt's record.
 */
export interface RequestIdSecretProvider {
  requestIdSecret(): { load(): Promise<Buffer> };
}
export const REQUEST_ID_SECRET = capabilityKey<RequestIdSecretProvider>("sessiond.requestIdSecret");

/**
 * A storage built without a logger of its own (FileStorage, the Redis storages), which
 * takes one given later: Manager hands its logger over at construction, so a logger given
 * once reaches the storage's warnings (a corrupt file set aside, a Redis connection lost).
 * A storage given its own logger keeps it; the first logger adopted stays.
 */
export interface LoggerTarget {
  adoptLogger(logger: Logger): void;
}
export const LOGGER_TARGET = capabilityKey<LoggerTarget>("sessiond.loggerTarget");
