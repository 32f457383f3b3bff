/** Builds fresh, isolated Redis storages for tests: each gets its own key prefix. */
import { randomBytes } from "node:crypto";
import { type Logger, silentLogger } from "../../src/core/Logger.js";
import {
  createRedisStorage,
  type RedisConnectionOptions,
  type RedisStorageKind,
} from "../../src/redis/createRedisStorage.js";
import type { RedisStorageBase } from "../../src/redis/RedisStorageBase.js";

export const REDIS_KINDS: readonly RedisStorageKind[] = ["redis", "redis-hash"];

/** A prefix no other test uses, so tests sharing one server never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString("hex")}:`;
}

export function createTestRedisStorage(
  kind: RedisStorageKind,
  connection: Omit<RedisConnectionOptions, "prefix">,
  options: { prefix?: string; logger?: Logger } = {},
): RedisStorageBase {
  return createRedisStorage(
    kind,
    { ...connection, prefix: options.prefix ?? uniquePrefix() },
    options.logger ?? silentLogger,
  ) as RedisStorageBase;
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
