import { ConfigError } from "../../core/ConfigError.js";
import { integerOption } from "../../core/integerOption.js";
import { AdoptableLogger, type Logger } from "../../core/Logger.js";
import { type CapabilityKey, LOGGER_TARGET } from "../../core/storage/capabilities.js";
import type { CallSignal } from "../../core/storage/Storage.js";
import { RedisConnection } from "../client/RedisConnection.js";
import {
  type RedisAddress,
  type RedisClient,
  type RedisTarget,
  targetOf,
} from "../client/RedisTarget.js";
import { DEFAULT_CLIENT_CACHE_BYTES } from "../defaults.js";
import { type RedisBacked, redisCapabilities } from "../redisBacked.js";
import { type ScriptCommands, STORAGE_SCRIPTS } from "./scripts.js";
import { SessionKeys } from "./sessionKeys.js";

export interface RedisStorageOptions {
  /** Prepended to every key; default "sessiond:". */
  prefix?: string;
  /** Bound on every call, waiting for a connection included. Default 1000 ms. */
  timeoutMs?: number;
  /**
   * Connection changes and undecryptable values go here. Default: the logger of the
   * Manager this storage is given to (LOGGER_TARGET), else nowhere.
   */
  logger?: Logger;
  /** Close the client when the storage closes. Default false (the caller owns it). */
  ownsClient?: boolean;
  /** Where the client points, for logs; never include a password. */
  target?: string;
  /** Replicas that must confirm each write before it is acknowledged (Redis WAIT). Default 0. */
  waitReplicas?: number;
  /** How long one WAIT may block (below timeoutMs). Default 250 ms. */
  waitTimeoutMs?: number;
  /**
   * The seed nodes of a Cluster client passed in (required then, ignored otherwise):
   * ioredis does not expose the ones it was given, and sessiond connects to each master
   * itself (one plain connection per master), using the Cluster's `redisOptions`.
   */
  clusterNodes?: readonly RedisAddress[];
  /**
   * Server-assisted client-side caching of Get (off by default): a local copy of the keys
   * this instance read, within `maxBytes` (least recently used first out), kept coherent by
   * Redis' CLIENT TRACKING (invalidations on a second connection per node) and a barrier
   * before each hit, and dropped whole when tracking is lost. Plain storages only.
   * See docs/redis.md, "Client-side caching".
   */
  clientCache?: ClientCacheOptions;
}

/** See RedisStorageOptions.clientCache. */
export interface ClientCacheOptions {
  /** The most the cache may hold, in bytes (an estimate of the heap it takes). */
  maxBytes: number;
}

/**
 * What every Redis storage stands on, whatever its layout and write strategy: the
 * connection (every script defined on every node), the key names under the prefix, the
 * layout's key of a session, and the capabilities (REDIS_BACKED, SHARDED).
 */
export class RedisSide implements RedisBacked {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  readonly #key: (keys: SessionKeys, id: string) => string;
  /** The logger given, else the one a Manager hands over (LOGGER_TARGET), else none. */
  readonly logger: AdoptableLogger;
  // Read through `this` at call time: built before the constructor sets the logger.
  readonly #capabilities = redisCapabilities(this).with(LOGGER_TARGET, {
    adoptLogger: (logger) => this.logger.adoptLogger(logger),
  });

  constructor(
    client: RedisClient | RedisTarget,
    key: (keys: SessionKeys, id: string) => string,
    options: RedisStorageOptions,
  ) {
    this.keys = new SessionKeys(options.prefix);
    this.#key = key;
    this.logger = new AdoptableLogger(options.logger);
    this.connection = new RedisConnection(targetOf(client, options.clusterNodes), {
      scripts: STORAGE_SCRIPTS,
      timeoutMs: options.timeoutMs,
      logger: this.logger,
      target: options.target,
      ownsClient: options.ownsClient,
      waitReplicas: options.waitReplicas,
      waitTimeoutMs: options.waitTimeoutMs,
      clientCacheBytes: clientCacheBytes(options.clientCache),
    });
  }

  /** The Redis key holding session `id` (tests check its expiry and slot). */
  keyOf(id: string): string {
    return this.#key(this.keys, id);
  }

  /** REDIS_BACKED, and SHARDED: the Cluster masters the last ping found down (see redisBacked.ts). */
  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key);
  }

  /** One command (or pipeline) on `key`'s node; `write` for what changes a session or its records. */
  run<T>(
    op: (c: ScriptCommands) => Promise<T>,
    key: string,
    write = false,
    signal?: CallSignal,
  ): Promise<T> {
    return this.connection.run(op, { key, write, signal });
  }
}

/** The cache's budget in bytes, or undefined when off; a ConfigError for a bad option. */
export function clientCacheBytes(option: ClientCacheOptions | undefined): number | undefined {
  if (option === undefined) return undefined;
  if (typeof option !== "object" || option === null) {
    throw new ConfigError("must be { maxBytes }", "clientCache");
  }
  return integerOption("clientCache.maxBytes", option.maxBytes, {
    min: 1024,
    fallback: DEFAULT_CLIENT_CACHE_BYTES,
    unit: "bytes",
  });
}
