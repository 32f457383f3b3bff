import { ConfigError } from "../../core/ConfigError.js";
import { checkSecurityCombinations } from "../security/checkSecurityCombinations.js";
import type { ServerConfig } from "./ServerConfig.js";
import { type AnySetting, envName, flagName } from "./Setting.js";
import { SETTINGS } from "./settings.js";

/** A setting the operator gave, and how: its flag or its variable, as messages name it. */
export interface Given {
  setting: AnySetting;
  /** "--redis-url" or "SESSIOND_REDIS_URL": the form the operator used. */
  as: string;
  /** "--redis-url (SESSIOND_REDIS_URL)": how a message starts. */
  source: string;
}

/**
 * Settings given that would do nothing, as the table says (Setting.storages and
 * Setting.needs): one the chosen storage does not read, or one without the setting it
 * works with. Defaults never count: only what the operator gave. Throws ConfigError naming
 * the fix.
 */
export function checkGivenSettings(given: readonly Given[], config: ServerConfig): void {
  const storage = given.find((g) => g.setting.key === "storage");
  const storageIs =
    storage === undefined
      ? `SESSIOND_STORAGE is ${config.storage} (the default)`
      : `${storage.as} is ${config.storage}`;
  for (const { setting, as, source } of given) {
    const storages = setting.storages;
    if (storages === undefined || storages.includes(config.storage)) continue;
    const kinds = storages.join(" or ");
    const set =
      storage?.as.startsWith("--") === true ? `--storage ${kinds}` : `SESSIOND_STORAGE=${kinds}`;
    const readers =
      storages.length === 1
        ? `the ${kinds} storage`
        : `the ${storages.slice(0, -1).join(", ")} and ${storages.at(-1)} storages`;
    throw new ConfigError(
      `${source}: read by ${readers} only, and ${storageIs}; set ${set}, or remove ${as}`,
    );
  }
  const byName = new Map(SETTINGS.map((s) => [s.name, s]));
  for (const { setting, as, source } of given) {
    if (setting.needs === undefined) continue;
    const needed = byName.get(setting.needs);
    if (needed === undefined || given.some((g) => g.setting === needed)) continue;
    const form = as.startsWith("--") ? flagName(needed) : envName(needed);
    throw new ConfigError(
      `${source}: does nothing without ${envName(needed)} (${flagName(needed)}); set ${form} too, or remove ${as}`,
    );
  }
}

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
