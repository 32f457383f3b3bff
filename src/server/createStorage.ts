import type { Logger } from "../common/Logger.js";
import { SessionError } from "../common/SessionError.js";
import { FileStorage } from "../storage/FileStorage.js";
import { MemoryStorage } from "../storage/MemoryStorage.js";
import {
  createRedisStorage,
  type RedisConnectionOptions,
} from "../storage/redis/createRedisStorage.js";
import type { Storage } from "../storage/Storage.js";
import { ConfigError, type ServerConfig } from "./config.js";
import type { HostPort } from "./parsers.js";

/** The storage the settings ask for. The caller owns it and closes it. */
export async function createStorage(config: ServerConfig, logger: Logger): Promise<Storage> {
  switch (config.storage) {
    case "file":
      try {
        return new FileStorage({
          dir: config.fileDir,
          logger,
          encryptionKey: config.fileEncryptionKey,
          maxTotalBytes: budget(config.fileMaxBytes),
          maxFiles: budget(config.fileMaxFiles),
          minFreeBytes: budget(config.fileMinFreeBytes),
        });
      } catch (err) {
        // The key is validated already: what fails here is the directory (create, chmod, probe).
        if (err instanceof SessionError) {
          throw new ConfigError(`SESSIOND_FILE_DIR (--file-dir): ${err.message}`);
        }
        throw err;
      }
    case "memory":
      return new MemoryStorage({
        maxSessions: config.memoryMaxSessions,
        maxTotalBytes: budget(config.memoryMaxBytes),
      });
    case "redis":
    case "redis-hash":
      try {
        return createRedisStorage(config.storage, redisOptions(config), logger);
      } catch (err) {
        if (err instanceof SessionError && err.code === "invalid_argument") {
          throw new ConfigError(`redis settings: ${err.message}`);
        }
        throw err;
      }
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
  };
}

function hostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
