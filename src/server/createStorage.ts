import type { Logger } from "../core/Logger.js";
import { MemoryStorage } from "../core/memory/MemoryStorage.js";
import { SessionError } from "../core/SessionError.js";
import { HashedIdStorage, type IdHashKeySource } from "../core/storage/HashedIdStorage.js";
import type { Storage } from "../core/storage/Storage.js";
import { FileStorage } from "../file/FileStorage.js";
import { fileIdHashKey } from "../file/idHashKeyFile.js";
import { createRedisStorage, type RedisConnectionOptions } from "../redis/createRedisStorage.js";
import type { EncryptedRedisStorageBase } from "../redis/EncryptedRedisStorageBase.js";
import type { RedisStorageBase } from "../redis/RedisStorageBase.js";
import { redisIdHashKey } from "../redis/redisIdHashKey.js";
import { ConfigError, type ServerConfig } from "./config.js";
import type { HostPort } from "./parsers.js";

/**
 * The storage the settings ask for. Storages that keep data outside the process (file,
 * redis) are keyed by hashed ids (see HashedIdStorage), so no stored name is a session id.
 * The memory storage is not: it keeps nothing at rest, every id passes through the same
 * process's memory anyway, and hashing would cost every call an HMAC and every session
 * longer keys. The caller owns it and closes it.
 */
export async function createStorage(config: ServerConfig, logger: Logger): Promise<Storage> {
  const { storage, idHashKey } = createKeyedStorage(config, logger);
  if (idHashKey === undefined) return storage;
  return new HashedIdStorage(storage, config.idHashKey ?? idHashKey);
}

/** The encryption keys of every setting that names some (config.ts allows one of them). */
function encryptionKeys(config: ServerConfig): Buffer[] | undefined {
  if (config.fileEncryptionKey !== undefined) return [config.fileEncryptionKey];
  return config.encryptionKeys ?? config.encryptionKeyFile;
}

function createKeyedStorage(
  config: ServerConfig,
  logger: Logger,
): { storage: Storage; idHashKey: IdHashKeySource | undefined } {
  switch (config.storage) {
    case "file": {
      let storage: FileStorage | undefined;
      try {
        storage = new FileStorage({
          dir: config.fileDir,
          logger,
          encryptionKeys: encryptionKeys(config),
          maxTotalBytes: budget(config.fileMaxBytes),
          maxFiles: budget(config.fileMaxFiles),
          minFreeBytes: budget(config.fileMinFreeBytes),
        });
        return { storage, idHashKey: config.idHashKey ?? fileIdHashKey(storage.dir) };
      } catch (err) {
        storage?.close().catch(() => {});
        // The keys are validated already: what fails here is the directory (create, chmod,
        // probe) or the id-hash key file in it.
        if (err instanceof SessionError) {
          throw new ConfigError(`SESSIOND_FILE_DIR (--file-dir): ${err.message}`);
        }
        throw err;
      }
    }
    case "memory":
      if (encryptionKeys(config) !== undefined) {
        logger.warn(
          "memory storage keeps sessions in this process only, unencrypted: the encryption keys apply to the file and redis storages",
        );
      }
      return {
        storage: new MemoryStorage({
          maxSessions: config.memoryMaxSessions,
          maxTotalBytes: budget(config.memoryMaxBytes),
        }),
        idHashKey: undefined,
      };
    case "redis":
    case "redis-hash":
      try {
        // Both kinds, plain or encrypted, have a connection and key names.
        const storage = createRedisStorage(config.storage, redisOptions(config), logger) as
          | RedisStorageBase
          | EncryptedRedisStorageBase;
        return {
          storage,
          idHashKey: config.idHashKey ?? redisIdHashKey(storage.connection, storage.keys.prefix),
        };
      } catch (err) {
        if (err instanceof SessionError && err.code === "invalid_argument") {
          throw new ConfigError(`redis settings: ${err.message}`);
        }
        throw err;
      }
    default:
      // resolveConfig refuses any other kind; this keeps a new kind from falling through.
      throw new ConfigError(
        `SESSIOND_STORAGE (--storage): no storage of kind ${JSON.stringify(config.storage satisfies never)}`,
      );
  }
}

/** "auto": leave it to the storage's default. */
function budget(value: number | "auto"): number | undefined {
  return value === "auto" ? undefined : value;
}

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

function redisOptions(config: ServerConfig): RedisConnectionOptions {
  const cluster = config.redisClusterNodes?.map(hostPort);
  const sentinels = config.redisSentinels?.map(hostPort);
  return {
    // A local single node unless a cluster or sentinels are named.
    url: config.redisUrl ?? (cluster || sentinels ? undefined : DEFAULT_REDIS_URL),
    tls: config.redisTlsCa === undefined ? undefined : { ca: config.redisTlsCa },
    clusterNodes: cluster,
    sentinels,
    sentinelName: config.redisSentinelName,
    prefix: config.redisPrefix,
    commandTimeoutMs: config.redisTimeoutMs,
    waitReplicas: config.redisWaitReplicas,
    waitTimeoutMs: config.redisWaitTimeoutMs,
    // SESSIOND_FILE_ENCRYPTION_KEY is the file storage's, as its name says.
    encryptionKeys: config.encryptionKeys ?? config.encryptionKeyFile,
  };
}

function hostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
