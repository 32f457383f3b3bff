// `sessiond/redis`: sessions in Redis (standalone, Sentinel or Cluster), as one value per
// session or as a hash; optionally encrypted. Needs the optional peer dependency ioredis.
export type { RedisAddress } from "./client/RedisTarget.js";
export type { RedisConnectionOptions, RedisStorageKind } from "./createRedisStorage.js";
export { createRedisStorage } from "./createRedisStorage.js";
export { HashedRedisStorage } from "./HashedRedisStorage.js";
export type { RedisBacked, RedisBackedStorage } from "./redisBacked.js";
export { REDIS_BACKED } from "./redisBacked.js";
export { redisIdHashKey } from "./redisIdHashKey.js";
export { EncryptedRedisHashStorage } from "./storage/EncryptedRedisHashStorage.js";
export { EncryptedRedisStorage } from "./storage/EncryptedRedisStorage.js";
export type { EncryptedRedisStorageOptions } from "./storage/EncryptedRedisStore.js";
export { RedisHashStorage } from "./storage/RedisHashStorage.js";
export type { ClientCacheOptions, RedisStorageOptions } from "./storage/RedisSide.js";
export { RedisStorage } from "./storage/RedisStorage.js";
