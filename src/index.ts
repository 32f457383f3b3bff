export type { ClientTlsOptions, Pem, TokenOption } from "./client/connectionOptions.js";
export type { SessionClientOptions } from "./client/SessionClient.js";
export { DEFAULT_DEADLINE_MS, SessionClient } from "./client/SessionClient.js";
export type {
  CallOptions,
  SessionDescription,
  WriteOptions,
  WriteResult,
} from "./client/SessionHandle.js";
export { SessionHandle } from "./client/SessionHandle.js";
export type { JsonValue, SessionData } from "./common/json.js";
export { assignKey, ownValue } from "./common/json.js";
export type { Limits } from "./common/Limits.js";
export { checkSessionSize, defaultLimits, resolveLimits } from "./common/Limits.js";
export type { Logger } from "./common/Logger.js";
export { jsonLogger, silentLogger } from "./common/Logger.js";
export type { ErrorCode } from "./common/SessionError.js";
export { SessionError } from "./common/SessionError.js";
export { getSession } from "./interceptor/getSession.js";
export { DEFAULT_METADATA_KEY } from "./interceptor/metadataKey.js";
export type { SessionInterceptorOptions } from "./interceptor/sessionInterceptor.js";
export { sessionInterceptor } from "./interceptor/sessionInterceptor.js";
export type { ServerConfig, StorageKind } from "./server/config.js";
export { ConfigError, parseConfig, resolveConfig } from "./server/config.js";
export type { RunningServer, StartOptions } from "./server/startServer.js";
export { startServer } from "./server/startServer.js";
export { bidiStreamingHandler } from "./service/bidiStreamingHandler.js";
export { clientStreamingHandler } from "./service/clientStreamingHandler.js";
export { ServerError } from "./service/ServerError.js";
export { serverStreamingHandler } from "./service/serverStreamingHandler.js";
export type { SessionServiceOptions } from "./service/sessionService.js";
export { sessionServiceImplementation } from "./service/sessionService.js";
export { sessionServiceDefinition } from "./service/sessionServiceDefinition.js";
export type { WireStatus } from "./service/toStatus.js";
export { toStatus } from "./service/toStatus.js";
export type { HandlerOptions } from "./service/unaryHandler.js";
export { unaryHandler } from "./service/unaryHandler.js";
export { isValidSessionId, newSessionId } from "./session/ids.js";
export type { ManagerOptions } from "./session/Manager.js";
export { DEFAULT_TTL_MS, Manager } from "./session/Manager.js";
export type { CommitOptions, SessionInfo } from "./session/Session.js";
export { Session } from "./session/Session.js";
export {
  applyOps,
  assertExpectedVersion,
  assertExpiry,
  sessionBytes,
} from "./storage/applyOps.js";
export type { FileStorageOptions } from "./storage/FileStorage.js";
export { FileStorage } from "./storage/FileStorage.js";
export { fileIdHashKey } from "./storage/file/idHashKeyFile.js";
export type { IdHashKeyLookup, IdHashKeySource } from "./storage/HashedIdStorage.js";
export { HashedIdStorage } from "./storage/HashedIdStorage.js";
export { KeyRing } from "./storage/KeyRing.js";
export type { MemoryStorageOptions } from "./storage/MemoryStorage.js";
export { MemoryStorage } from "./storage/MemoryStorage.js";
export type {
  RedisConnectionOptions,
  RedisStorageKind,
} from "./storage/redis/createRedisStorage.js";
export { createRedisStorage } from "./storage/redis/createRedisStorage.js";
export { EncryptedRedisHashStorage } from "./storage/redis/EncryptedRedisHashStorage.js";
export { EncryptedRedisStorage } from "./storage/redis/EncryptedRedisStorage.js";
export type { EncryptedRedisStorageOptions } from "./storage/redis/EncryptedRedisStorageBase.js";
export { RedisHashStorage } from "./storage/redis/RedisHashStorage.js";
export { RedisStorage } from "./storage/redis/RedisStorage.js";
export type { RedisStorageOptions } from "./storage/redis/RedisStorageBase.js";
export { redisIdHashKey } from "./storage/redis/redisIdHashKey.js";
export type * from "./storage/Storage.js";
export { expireAt } from "./storage/Storage.js";
