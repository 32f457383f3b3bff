import { HashedIdStorage, type IdHashKeySource } from "../core/storage/HashedIdStorage.js";
import type { RedisConnection } from "./client/RedisConnection.js";
import type { RedisBacked, RedisBackedStorage } from "./redisBacked.js";
import type { SessionKeys } from "./storage/sessionKeys.js";

/**
 * A Redis storage keyed by hashed ids (HashedIdStorage), with the Redis side of the storage
 * it wraps at hand: what createRedisStorage returns unless told `ids: "raw"`. `keyOf` takes
 * a stored name (`await storage.storedId(id)`), never a session id.
 */
export class HashedRedisStorage extends HashedIdStorage implements RedisBacked {
  readonly #redis: RedisBackedStorage;

  constructor(inner: RedisBackedStorage, key: IdHashKeySource) {
    super(inner, key);
    this.#redis = inner;
  }

  get connection(): RedisConnection {
    return this.#redis.connection;
  }

  get keys(): SessionKeys {
    return this.#redis.keys;
  }

  /** The Redis key of the session stored under `storedId` (see HashedIdStorage.storedId). */
  keyOf(storedId: string): string {
    return this.#redis.keyOf(storedId);
  }
}
