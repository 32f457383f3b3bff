import { ConfigError } from "../core/ConfigError.js";
import type { Logger } from "../core/Logger.js";
import { MemoryStorage } from "../core/memory/MemoryStorage.js";
import type { SettingNames } from "../core/settingNames.js";
import type { Storage } from "../core/storage/Storage.js";
import { FileStorage } from "../file/FileStorage.js";
import type { RedisConnectionOptions } from "../redis/createRedisStorage.js";
import type { ServerConfig } from "./config/ServerConfig.js";

/**
 * The storage the settings ask for, open (a file storage's directory is prepared here, so
 * a bad one stops the start). Storages that keep data outside the process (file, redis)
 * are keyed by hashed ids (see HashedIdStorage), so no stored name is a session id: the
 * library's default, with the key of SESSIOND_ID_HASH_KEY_FILE when set, else the one the
 * storage keeps (`<dir>/.id-hash-key`, `<prefix>id-hash-key` in Redis). The memory storage
 * is not: it keeps nothing at rest, every id passes through the same process's memory
 * anyway, and hashing would cost every call an HMAC and every session longer keys. The
 * caller owns it and closes it.
 */
export async function createStorage(config: ServerConfig, logger: Logger): Promise<Storage> {
  switch (config.storage) {
    case "file": {
      const storage = new FileStorage({
        dir: config.fileDir,
        logger,
        idHashKey: config.idHashKey,
        encryptionKeys: encryptionKeys(config),
        maxTotalBytes: budget(config.fileMaxBytes),
        maxFiles: budget(config.fileMaxFiles),
        // Kept as long as the session would have lived idle, then swept.
        corruptRetentionMs: config.ttlMs,
        minFreeBytes: budget(config.fileMinFreeBytes),
        settingNames: FILE_SETTINGS,
      });
      try {
        // Prepares the directory and reads (or creates) the id-hash key file in it.
        await storage.open();
        return storage;
      } catch (err) {
        await storage.close().catch(() => {});
        // The keys and budgets are validated already: what fails here is the directory
        // (create, chmod, probe) or the id-hash key file in it.
        throw new ConfigError(`SESSIOND_FILE_DIR (--file-dir): ${(err as Error).message}`);
      }
    }
    case "memory":
      if (encryptionKeys(config) !== undefined) {
        logger.warn(
          "memory storage keeps sessions in this process only, unencrypted: the encryption keys apply to the file and redis storages",
        );
      }
      return new MemoryStorage({
        maxSessions: config.memoryMaxSessions,
        maxTotalBytes: budget(config.memoryMaxBytes),
        settingNames: MEMORY_SETTINGS,
      });
    case "redis":
    case "redis-hash": {
      // Loaded only when asked for: ioredis is an optional dependency.
      const redis = await loadRedis();
      try {
        return redis.createRedisStorage(
          config.storage,
          { ...redisOptions(config), idHashKey: config.idHashKey },
          logger,
        );
      } catch (err) {
        if (err instanceof ConfigError && err.option !== undefined) {
          // "clusterNodes[2].port" is set by SESSIOND_REDIS_CLUSTER_NODES.
          const where = REDIS_SETTINGS[err.option.replace(/\[.*$/, "")];
          if (where !== undefined) throw new ConfigError(`${where}: ${err.reason}`);
        }
        throw err;
      }
    }
    default:
      // resolveConfig refuses any other kind; this keeps a new kind from falling through.
      throw new ConfigError(
        `SESSIOND_STORAGE (--storage): no storage of kind ${JSON.stringify(config.storage satisfies never)}`,
      );
  }
}

/** How the server's settings are named in the library's refusals (see core/settingNames.ts). */
export const MEMORY_SETTINGS: SettingNames = {
  maxTotalBytes: "server setting SESSIOND_MEMORY_MAX_BYTES",
  maxSessions: "server setting SESSIOND_MEMORY_MAX_SESSIONS",
};
export const FILE_SETTINGS: SettingNames = {
  maxTotalBytes: "server setting SESSIOND_FILE_MAX_BYTES",
  maxFiles: "server setting SESSIOND_FILE_MAX_FILES",
  minFreeBytes: "server setting SESSIOND_FILE_MIN_FREE_BYTES",
};
/** A library option of the redis storage, as the server's settings name it. */
const REDIS_SETTINGS: SettingNames = {
  url: "SESSIOND_REDIS_URL (--redis-url)",
  tls: "SESSIOND_REDIS_TLS_CA_FILE (--redis-tls-ca-file)",
  clusterNodes: "SESSIOND_REDIS_CLUSTER_NODES (--redis-cluster-nodes)",
  sentinels: "SESSIOND_REDIS_SENTINELS (--redis-sentinels)",
  sentinelName: "SESSIOND_REDIS_SENTINEL_NAME (--redis-sentinel-name)",
  prefix: "SESSIOND_REDIS_PREFIX (--redis-prefix)",
  commandTimeoutMs: "SESSIOND_REDIS_TIMEOUT_MS (--redis-timeout-ms)",
  waitReplicas: "SESSIOND_REDIS_WAIT_REPLICAS (--redis-wait-replicas)",
  waitTimeoutMs: "SESSIOND_REDIS_WAIT_TIMEOUT (--redis-wait-timeout)",
  clientCache: "SESSIOND_REDIS_CLIENT_CACHE (--redis-client-cache)",
};

/** The encryption keys of every setting that names some (checkCombinations allows one of them). */
function encryptionKeys(config: ServerConfig): Buffer[] | undefined {
  if (config.fileEncryptionKey !== undefined) return [config.fileEncryptionKey];
  return config.encryptionKeys ?? config.encryptionKeyFile;
}

async function loadRedis(): Promise<typeof import("../redis/index.js")> {
  try {
    return await import("../redis/index.js");
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" &&
      /ioredis/.test(String(err))
    ) {
      throw new ConfigError(
        "SESSIOND_STORAGE (--storage): the redis storages need the ioredis package: npm install ioredis",
      );
    }
    throw err;
  }
}

/** "auto": leave it to the storage's default. */
function budget(value: number | "auto"): number | undefined {
  return value === "auto" ? undefined : value;
}

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

function redisOptions(config: ServerConfig): RedisConnectionOptions {
  const cluster = config.redisClusterNodes;
  const sentinels = config.redisSentinels;
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
    clientCache: config.redisClientCache > 0 ? { maxBytes: config.redisClientCache } : undefined,
    // SESSIOND_FILE_ENCRYPTION_KEY is the file storage's, as its name says.
    encryptionKeys: config.encryptionKeys ?? config.encryptionKeyFile,
  };
}
