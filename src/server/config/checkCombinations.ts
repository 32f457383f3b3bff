import { ConfigError } from "../../core/ConfigError.js";
import { checkSecurityCombinations } from "../security/checkSecurityCombinations.js";
import type { ServerConfig } from "./ServerConfig.js";

/** Settings that are each valid but not together; throws ConfigError on the first such pair. */
export function checkCombinations(config: ServerConfig): void {
  const keySettings = [
    config.fileEncryptionKey !== undefined && "SESSIOND_FILE_ENCRYPTION_KEY",
    config.encryptionKeys !== undefined && "SESSIOND_ENCRYPTION_KEYS",
    config.encryptionKeyFile !== undefined && "SESSIOND_ENCRYPTION_KEY_FILE",
  ].filter((name) => name !== false);
  if (keySettings.length > 1) {
    throw new ConfigError(
      `${keySettings.join(" and ")}: expected at most one of them (list an old key after the new one to rotate)`,
    );
  }
  if (config.redisSentinels && !config.redisSentinelName) {
    throw new ConfigError(
      "SESSIOND_REDIS_SENTINEL_NAME (--redis-sentinel-name): expected the master name, required when SESSIOND_REDIS_SENTINELS is set",
    );
  }
  const targets = [
    config.redisUrl !== undefined && "SESSIOND_REDIS_URL",
    config.redisClusterNodes !== undefined && "SESSIOND_REDIS_CLUSTER_NODES",
    config.redisSentinels !== undefined && "SESSIOND_REDIS_SENTINELS",
  ].filter((name) => name !== false);
  if (targets.length > 1) {
    throw new ConfigError(
      `${targets.join(" and ")}: expected at most one of them (a single node, a Cluster or Sentinels)`,
    );
  }
  if (config.redisWaitReplicas > 0 && config.redisWaitTimeoutMs >= config.redisTimeoutMs) {
    throw new ConfigError(
      `SESSIOND_REDIS_WAIT_TIMEOUT (--redis-wait-timeout): expected less than SESSIOND_REDIS_TIMEOUT_MS (${config.redisTimeoutMs} ms), the bound on the whole call; got ${config.redisWaitTimeoutMs} ms`,
    );
  }
  if (config.redisTlsCa !== undefined && !/^rediss:\/\//i.test(config.redisUrl ?? "")) {
    throw new ConfigError(
      "SESSIOND_REDIS_TLS_CA_FILE (--redis-tls-ca-file): applies to a rediss:// SESSIOND_REDIS_URL only; set one, or leave the CA file out",
    );
  }
  if (
    config.maxConnectionsPerPeer !== "auto" &&
    config.maxConnectionsPerPeer > config.maxConnections
  ) {
    throw new ConfigError(
      `SESSIOND_MAX_CONNECTIONS_PER_PEER (--max-connections-per-peer): expected at most SESSIOND_MAX_CONNECTIONS (${config.maxConnections}), the connections of all clients together; got ${config.maxConnectionsPerPeer}`,
    );
  }
  const security = checkSecurityCombinations(config);
  if (security !== undefined) throw new ConfigError(security);
}
