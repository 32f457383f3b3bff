import type { ConnectionOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import { ConfigError } from "../core/ConfigError.js";
import { integerOption } from "../core/integerOption.js";
import type { Logger } from "../core/Logger.js";
import { checkIdHashKey, type IdHashKeySource } from "../core/storage/HashedIdStorage.js";
import { KeyRing } from "../core/storage/KeyRing.js";
import type { RedisAddress, RedisTarget } from "./client/RedisTarget.js";
import { redactUrl } from "./client/redactUrl.js";
import { DEFAULT_PREFIX, DEFAULT_REDIS_TIMEOUT_MS, DEFAULT_WAIT_TIMEOUT_MS } from "./defaults.js";
import { HashedRedisStorage } from "./HashedRedisStorage.js";
import type { RedisBackedStorage } from "./redisBacked.js";
import { redisIdHashKey } from "./redisIdHashKey.js";
import { EncryptedRedisHashStorage } from "./storage/EncryptedRedisHashStorage.js";
import { EncryptedRedisStorage } from "./storage/EncryptedRedisStorage.js";
import { RedisHashStorage } from "./storage/RedisHashStorage.js";
import { type ClientCacheOptions, clientCacheBytes } from "./storage/RedisSide.js";
import { RedisStorage } from "./storage/RedisStorage.js";
import { assertValidPrefix } from "./storage/sessionKeys.js";

export type RedisStorageKind = "redis" | "redis-hash";

/** Where Redis is: exactly one of url, clusterNodes, sentinels (+ sentinelName). */
export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS). */
  url?: string;
  /**
   * TLS settings for a rediss:// url (Node's tls.connect options), typically `{ ca }` for a
   * server whose certificate a private CA signed. Without it the system's CAs are trusted.
   */
  tls?: ConnectionOptions;
  /** Redis Cluster seed nodes. */
  clusterNodes?: readonly RedisAddress[];
  /** Sentinels; needs sentinelName. */
  sentinels?: readonly RedisAddress[];
  /** The master group name the Sentinels watch. */
  sentinelName?: string;
  /** Prepended to every key. Default "sessiond:". */
  prefix?: string;
  /** Every storage call ends within this bound (unavailable otherwise). Default 1000 ms. */
  commandTimeoutMs?: number;
  /**
   * Replicas that must confirm each write (Redis WAIT, one per batch of writes) before it
   * is acknowledged; 0 (the default) acknowledges once the master applied it.
   */
  waitReplicas?: number;
  /** How long one WAIT may block; must be below commandTimeoutMs. Default 250 ms. */
  waitTimeoutMs?: number;
  /**
   * Encrypts every stored session (see EncryptedRedisStorage, EncryptedRedisHashStorage):
   * AES-256 keys, the first seals and every one opens (rotation).
   */
  encryptionKeys?: readonly Uint8Array[];
  /**
   * How sessions are named in Redis. "hashed" (the default): by a keyed hash of the id
   * (HMAC-SHA-256, see HashedIdStorage), so no key name, dump or MONITOR trace gives a
   * session id away. "raw": by the id itself, as releases before 0.x did; only to keep the
   * sessions such a release stored (see docs/security.md, "Upgrading").
   */
  ids?: "hashed" | "raw";
  /**
   * The id-hash key of hashed ids: at least 32 bytes, the same on every instance, or a
   * lookup. Default: kept in Redis itself under `<prefix>id-hash-key`, created by the first
   * instance (SET NX) and read by the others, as the server does (see redisIdHashKey).
   */
  idHashKey?: IdHashKeySource;
  /**
   * Server-assisted client-side caching of Get, off by default; plain storages only (not
   * with encryptionKeys). See RedisStorageOptions.clientCache and docs/redis.md.
   */
  clientCache?: ClientCacheOptions;
}

/**
 * Builds a `redis` or `redis-hash` storage with its own client, configured so that a
 * call never queues behind a dead connection: no offline queue, no replay of in-flight
 * commands after a reconnect (a call reported unavailable must not be applied later),
 * and quick reconnects so the storage recovers by itself when Redis returns.
 *
 * Sessions are keyed by hashed ids (a HashedRedisStorage around the storage of `kind`)
 * unless `ids: "raw"`. Every kind, plain or encrypted, is returned with its connection and
 * key names; wrapped, they are REDIS_BACKED.
 *
 * `logger` gets connection changes and undecryptable values; without one, the storage
 * logs through the Manager it is given to (LOGGER_TARGET), else nowhere.
 */
export function createRedisStorage(
  kind: RedisStorageKind,
  options: RedisConnectionOptions,
  logger?: Logger,
): RedisBackedStorage {
  if (kind !== "redis" && kind !== "redis-hash") {
    throw new ConfigError(
      `must be "redis" or "redis-hash", got ${JSON.stringify(kind)}`,
      "redis storage kind",
    );
  }
  const timeoutMs = integerOption("commandTimeoutMs", options.commandTimeoutMs, {
    min: 1,
    fallback: DEFAULT_REDIS_TIMEOUT_MS,
    unit: "milliseconds",
  });
  const waitReplicas = integerOption("waitReplicas", options.waitReplicas, {
    min: 0,
    fallback: 0,
    unit: "replicas",
  });
  const waitTimeoutMs = integerOption("waitTimeoutMs", options.waitTimeoutMs, {
    min: 1,
    fallback: Math.max(1, Math.min(DEFAULT_WAIT_TIMEOUT_MS, Math.floor(timeoutMs / 2))),
    unit: "milliseconds",
  });
  if (waitReplicas > 0 && waitTimeoutMs >= timeoutMs) {
    throw new ConfigError(
      `must be below commandTimeoutMs (${timeoutMs}), got ${waitTimeoutMs}`,
      "waitTimeoutMs",
    );
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertValidPrefix(prefix);
  const ids = options.ids ?? "hashed";
  if (ids !== "hashed" && ids !== "raw") {
    throw new ConfigError(`must be "hashed" or "raw", got ${JSON.stringify(ids)}`, "ids");
  }
  if (ids === "raw" && options.idHashKey !== undefined) {
    throw new ConfigError('applies to hashed ids: give it or ids: "raw", not both', "idHashKey");
  }
  // Checked before connecting: a bad key must not leave a client reconnecting forever.
  const keys = options.encryptionKeys;
  const encryptionKeys = keys === undefined ? undefined : new KeyRing(keys);
  if (options.idHashKey instanceof Uint8Array) checkIdHashKey(Buffer.from(options.idHashKey));
  if (options.clientCache !== undefined && encryptionKeys) {
    throw new ConfigError(
      "is not available with encryptionKeys (plain storages only)",
      "clientCache",
    );
  }
  // Checked before connecting too: a refused option must not leave a client behind.
  clientCacheBytes(options.clientCache);
  const { connection, target } = connect(options, timeoutMs);
  const settings = {
    prefix,
    timeoutMs,
    logger,
    target,
    ownsClient: true,
    waitReplicas,
    waitTimeoutMs,
  };
  let storage: RedisBackedStorage;
  if (encryptionKeys) {
    const Sealed = kind === "redis" ? EncryptedRedisStorage : EncryptedRedisHashStorage;
    storage = new Sealed(connection, { ...settings, encryptionKeys });
  } else {
    const Kind = kind === "redis" ? RedisStorage : RedisHashStorage;
    storage = new Kind(connection, { ...settings, clientCache: options.clientCache });
  }
  if (ids === "raw") return storage;
  return new HashedRedisStorage(
    storage,
    options.idHashKey ?? redisIdHashKey(storage.connection, storage.keys.prefix),
  );
}

function connect(
  options: RedisConnectionOptions,
  timeoutMs: number,
): { connection: RedisTarget; target: string } {
  const given = [
    options.url !== undefined && "url",
    options.clusterNodes !== undefined && "clusterNodes",
    options.sentinels !== undefined && "sentinels",
  ].filter(Boolean);
  if (given.length !== 1) {
    throw new ConfigError(
      `redis storage needs exactly one of url, clusterNodes or sentinels + sentinelName; got ${given.length === 0 ? "none" : given.join(" and ")}`,
    );
  }
  // No ioredis commandTimeout: RedisConnection.run already bounds every call, and a second
  // timer per command (which ioredis also removes with `delete`, turning each Command into
  // a slow dictionary object) cost CPU on every call for nothing.
  const perNode = {
    connectTimeout: Math.max(timeoutMs, 1000),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  } satisfies RedisOptions;
  const single: RedisOptions = {
    ...perNode,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 50, 500),
    // After a fail-over the old master comes back as a replica: find the new one.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
  };

  if (options.tls !== undefined && !/^rediss:\/\//i.test(options.url ?? "")) {
    throw new ConfigError("applies to a rediss:// url only", "tls");
  }
  if (options.url !== undefined) {
    const url = parseUrl(options.url);
    const tls = options.tls === undefined ? {} : { tls: options.tls };
    const client = new Redis(url, { ...single, ...tls });
    return { connection: { kind: "node", client }, target: redactUrl(url) };
  }
  if (options.clusterNodes !== undefined) {
    const nodes = addresses(options.clusterNodes, "clusterNodes");
    // No ioredis Cluster client: RedisConnection routes commands itself, one connection per
    // master (ClusterRouter), from these seeds and node options.
    return {
      connection: { kind: "cluster", seeds: nodes, nodeOptions: perNode },
      target: `cluster ${nodes.map((n) => `${n.host}:${n.port}`).join(",")}`,
    };
  }
  const sentinels = addresses(options.sentinels ?? [], "sentinels");
  const name = options.sentinelName;
  if (typeof name !== "string" || name.length === 0) {
    throw new ConfigError("is required with sentinels: the master group name", "sentinelName");
  }
  const client = new Redis({
    ...single,
    sentinels,
    name,
    sentinelCommandTimeout: timeoutMs,
    sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
    // Not failoverDetector: a +switch-master arriving while ioredis is still reconnecting
    // makes it give up for good (status "end"). A killed master closes the socket anyway.
  });
  return {
    connection: { kind: "sentinel", client, masterName: name },
    target: `sentinel ${name}@${sentinels.map((n) => `${n.host}:${n.port}`).join(",")}`,
  };
}

function parseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError("is not a URL", "url");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new ConfigError(`must start with redis:// or rediss://, got ${parsed.protocol}//`, "url");
  }
  return url;
}

function addresses(list: readonly RedisAddress[], option: string): RedisAddress[] {
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError("must list at least one { host, port }", option);
  }
  return list.map((entry, i) => {
    const { host, port } = (entry ?? {}) as Partial<RedisAddress>;
    if (typeof host !== "string" || host === "" || !Number.isInteger(port)) {
      throw new ConfigError(
        `must be { host, port }, got ${JSON.stringify(entry)}`,
        `${option}[${i}]`,
      );
    }
    integerOption(`${option}[${i}].port`, port, { min: 1, fallback: 0 });
    if ((port as number) > 65_535) {
      throw new ConfigError(`must be a TCP port (1-65535), got ${port}`, `${option}[${i}].port`);
    }
    return { host, port: port as number };
  });
}
