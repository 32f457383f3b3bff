// `sessiond/redis`: sessions in Redis (standalone, Sentinel or Cluster), as one value per
// session or as a hash; optionally encrypted. Needs the optional peer dependency ioredis.
export type { RedisAddress } from "./client/RedisTarget.js";
export type { RedisConnectionOptions, RedisStorageKind } from "./createRedisStorage.js";
export { createRedisStorage } from "./createRedisStorage.js";
export { EncryptedRedisHashStorage } from "./EncryptedRedisHashStorage.js";
export { EncryptedRedisStorage } from "./EncryptedRedisStorage.js";
export type { EncryptedRedisStorageOptions } from "./EncryptedRedisStorageBase.js";
export { RedisHashStorage } from "./RedisHashStorage.js";
export { RedisStorage } from "./RedisStorage.js";
export type { RedisStorageOptions } from "./RedisStorageBase.js";
export type { RedisBacked, RedisBackedStorage } from "./redisBacked.js";
export { REDIS_BACKED } from "./redisBacked.js";
export { redisIdHashKey } from "./redisIdHashKey.js";
