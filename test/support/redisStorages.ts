/** Builds fresh, isolated Redis storages for tests: each gets its own key prefix. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type Logger, silentLogger } from "../../src/core/Logger.js";
import { capabilityOf } from "../../src/core/storage/capabilities.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import {
  createRedisStorage,
  type RedisConnectionOptions,
  type RedisStorageKind,
} from "../../src/redis/createRedisStorage.js";
import {
  REDIS_BACKED,
  type RedisBacked,
  type RedisBackedStorage,
} from "../../src/redis/redisBacked.js";
import type { RedisProcess } from "./redisServers.js";

export const REDIS_KINDS: readonly RedisStorageKind[] = ["redis", "redis-hash"];

/** A prefix no other test uses, so tests sharing one server never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString("hex")}:`;
}

/**
 * A Redis storage under a prefix of its own. Raw ids unless `options.ids` says "hashed":
 * most Redis tests look a session's key up by its id (`keyOf(id)`); what createRedisStorage
 * gives by default (hashed ids) is what conformanceRedis and redisStorage's key-name tests
 * run on.
 */
export function createTestRedisStorage(
  kind: RedisStorageKind,
  connection: Omit<RedisConnectionOptions, "prefix">,
  options: { prefix?: string; logger?: Logger; ids?: "hashed" | "raw" } = {},
): RedisBackedStorage {
  return createRedisStorage(
    kind,
    { ...connection, prefix: options.prefix ?? uniquePrefix(), ids: options.ids ?? "raw" },
    options.logger ?? silentLogger,
  );
}

/** A logger that keeps every line, for assertions on what was logged. */
export function memoryLogger(): Logger & {
  lines: { level: string; msg: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (msg, fields) => lines.push({ level: "info", msg, fields }),
    warn: (msg, fields) => lines.push({ level: "warn", msg, fields }),
    error: (msg, fields) => lines.push({ level: "error", msg, fields }),
  };
}

/** The Redis side of `storage`, through whatever wraps it (HashedIdStorage, say). */
export function redisOf(storage: Storage): RedisBacked {
  const redis = capabilityOf(storage, REDIS_BACKED);
  assert.ok(redis, "not a Redis storage");
  return redis;
}

/**
 * Keys under the storage's own prefix, through its own client (conformance's countStored).
 * KEYS, not SCAN: KEYS hides a key past its expiry without deleting it, so only Redis's own
 * expiry takes it off the count.
 */
export async function keysUnderPrefix(storage: Storage): Promise<number> {
  const inner = redisOf(storage);
  const client = inner.connection.client;
  if (client === undefined) throw new Error("keysUnderPrefix: a Cluster has no one client");
  return (await client.keys(`${inner.keys.prefix}*`)).length;
}

/** The same on a Cluster: the keys live on its masters, which are asked one by one. */
export function clusterKeysUnderPrefix(masters: readonly RedisProcess[]) {
  return async (storage: Storage): Promise<number> => {
    const prefix = redisOf(storage).keys.prefix;
    let count = 0;
    for (const node of masters) {
      const out = await node.cliAsync("--raw", "keys", `${prefix}*`);
      count += out.split("\n").filter((line) => line.trim() !== "").length;
    }
    return count;
  };
}
