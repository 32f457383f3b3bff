import {
  type CapabilityKey,
  CapabilitySet,
  capabilityKey,
  SHARDED,
} from "../core/storage/capabilities.js";
import type { Storage } from "../core/storage/Storage.js";
import type { RedisConnection } from "./client/RedisConnection.js";
import type { SessionKeys } from "./storage/sessionKeys.js";

/**
 * What every Redis storage (plain or encrypted, kv or hash) offers beyond Storage: the
 * server keeps its id-hash key through the same connection under the same prefix, and
 * tests count and inspect keys. A capability of this folder, not of core: its type names
 * Redis classes, which the core must not know.
 */
export interface RedisBacked {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  /**
   * The Redis key holding the session stored under `id`. Under HashedIdStorage the stored
   * id is the hashed name (HashedIdStorage.storedId), not the session id.
   */
  keyOf(id: string): string;
}

export const REDIS_BACKED: CapabilityKey<RedisBacked> =
  capabilityKey<RedisBacked>("sessiond.redisBacked");

/** What createRedisStorage returns: a storage with its connection and key names at hand. */
export type RedisBackedStorage = Storage & RedisBacked;

/**
 * The capabilities every Redis storage answers, built in one place so that no kind can
 * miss one (the encrypted storages once lacked shardTrouble, so the health check never
 * reported a partly-down encrypted Cluster): REDIS_BACKED, and SHARDED from the connection
 * (always empty outside a Cluster).
 */
export function redisCapabilities(storage: RedisBacked): CapabilitySet {
  // Read through `storage` at call time: a storage builds this in a field initializer,
  // before its constructor has set the connection.
  return new CapabilitySet()
    .with(REDIS_BACKED, storage)
    .with(SHARDED, { shardTrouble: () => storage.connection.shardTrouble() });
}
