import type { ConnectionOptions } from "node:tls";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../core/Logger.js";
import { SessionError } from "../core/SessionError.js";
import { KeyRing } from "../core/storage/KeyRing.js";
import type { Storage } from "../core/storage/Storage.js";
import { EncryptedRedisHashStorage } from "./EncryptedRedisHashStorage.js";
import { EncryptedRedisStorage } from "./EncryptedRedisStorage.js";
import { DEFAULT_WAIT_TIMEOUT_MS } from "./RedisConnection.js";
import { RedisHashStorage } from "./RedisHashStorage.js";
import { RedisStorage } from "./RedisStorage.js";
import { redactUrl } from "./redactUrl.js";
import { assertValidPrefix, DEFAULT_PREFIX } from "./sessionKeys.js";

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
  /** Redis Cluster seed nodes, "host:port". */
  clusterNodes?: string[];
  /** Sentinels, "host:port"; needs sentinelName. */
  sentinels?: string[];
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
  encryptionKeys?: readonly (Buffer | Uint8Array | string)[];
}

export const DEFAULT_REDIS_TIMEOUT_MS = 1000;

/**
 * Builds a `redis` or `redis-hash` storage with its own client, configured so that a
 * call never queues behind a dead connection: no offline queue, no replay of in-flight
 * commands after a reconnect (a call reported unavailable must not be applied later),
 * and quick reconnects so the storage recovers by itself when Redis returns.
 */
export function createRedisStorage(
  kind: RedisStorageKind,
  options: RedisConnectionOptions,
  logger: Logger,
): Storage {
  if (kind !== "redis" && kind !== "redis-hash") {
    throw new SessionError(
      "invalid_argument",
      `redis storage kind must be "redis" or "redis-hash", got ${JSON.stringify(kind)}`,
    );
  }
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new SessionError(
      "invalid_argument",
      `redis commandTimeoutMs must be a positive integer, got ${timeoutMs}`,
    );
  }
  const waitReplicas = options.waitReplicas ?? 0;
  if (!Number.isSafeInteger(waitReplicas) || waitReplicas < 0) {
    throw new SessionError(
      "invalid_argument",
      `redis waitReplicas must be a whole number of replicas (0 for none), got ${waitReplicas}`,
    );
  }
  const waitTimeoutMs =
    options.waitTimeoutMs ??
    Math.max(1, Math.min(DEFAULT_WAIT_TIMEOUT_MS, Math.floor(timeoutMs / 2)));
  if (
    !Number.isSafeInteger(waitTimeoutMs) ||
    waitTimeoutMs <= 0 ||
    (waitReplicas > 0 && waitTimeoutMs >= timeoutMs)
  ) {
    throw new SessionError(
      "invalid_argument",
      `redis waitTimeoutMs must be a positive integer below commandTimeoutMs (${timeoutMs}), got ${waitTimeoutMs}`,
    );
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertValidPrefix(prefix);
  // Checked before connecting: a bad key must not leave a client reconnecting forever.
  const keys = options.encryptionKeys;
  const encryptionKeys = keys === undefined ? undefined : new KeyRing(keys);
  const { client, target } = connect(options, timeoutMs);
  const settings = {
    prefix,
    timeoutMs,
    logger,
    target,
    ownsClient: true,
    waitReplicas,
    waitTimeoutMs,
  };
  if (encryptionKeys) {
    const Sealed = kind === "redis" ? EncryptedRedisStorage : EncryptedRedisHashStorage;
    return new Sealed(client, { ...settings, encryptionKeys });
  }
  const Kind = kind === "redis" ? RedisStorage : RedisHashStorage;
  return new Kind(client, settings);
}

function connect(
  options: RedisConnectionOptions,
  timeoutMs: number,
): { client: Redis | Cluster; target: string } {
  const given = [
    options.url !== undefined && "url",
    options.clusterNodes !== undefined && "clusterNodes",
    options.sentinels !== undefined && "sentinels",
  ].filter(Boolean);
  if (given.length !== 1) {
    throw new SessionError(
      "invalid_argument",
      `redis storage needs exactly one of url (SESSIOND_REDIS_URL), clusterNodes (SESSIOND_REDIS_CLUSTER_NODES) or sentinels + sentinelName (SESSIOND_REDIS_SENTINELS, SESSIOND_REDIS_SENTINEL_NAME); got ${given.length === 0 ? "none" : given.join(" and ")}`,
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
    throw new SessionError(
      "invalid_argument",
      "redis tls settings apply to a rediss:// url only (SESSIOND_REDIS_URL)",
    );
  }
  if (options.url !== undefined) {
    const url = parseUrl(options.url);
    const tls = options.tls === undefined ? {} : { tls: options.tls };
    return { client: new Redis(url, { ...single, ...tls }), target: redactUrl(url) };
  }
  if (options.clusterNodes !== undefined) {
    const nodes = parseHostPorts(options.clusterNodes, "clusterNodes");
    // Never connected: RedisConnection routes commands itself, one connection per master
    // (ClusterRouter), and takes only the seeds and node options from it.
    const client = new Cluster(nodes, { lazyConnect: true, redisOptions: perNode });
    return { client, target: `cluster ${nodes.map((n) => `${n.host}:${n.port}`).join(",")}` };
  }
  const sentinels = parseHostPorts(options.sentinels ?? [], "sentinels");
  const name = options.sentinelName;
  if (typeof name !== "string" || name.length === 0) {
    throw new SessionError(
      "invalid_argument",
      "redis sentinels need sentinelName (SESSIOND_REDIS_SENTINEL_NAME): the master group name",
    );
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
    client,
    target: `sentinel ${name}@${sentinels.map((n) => `${n.host}:${n.port}`).join(",")}`,
  };
}

function parseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SessionError("invalid_argument", "redis url (SESSIOND_REDIS_URL) is not a URL");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new SessionError(
      "invalid_argument",
      `redis url (SESSIOND_REDIS_URL) must start with redis:// or rediss://, got ${parsed.protocol}//`,
    );
  }
  return url;
}

function parseHostPorts(list: string[], what: string): { host: string; port: number }[] {
  if (!Array.isArray(list) || list.length === 0) {
    throw new SessionError("invalid_argument", `redis ${what} must list at least one host:port`);
  }
  return list.map((entry) => {
    const match = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(String(entry).trim());
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new SessionError(
        "invalid_argument",
        `redis ${what} entry ${JSON.stringify(entry)} is not host:port`,
      );
    }
    return { host: match[1] as string, port };
  });
}
