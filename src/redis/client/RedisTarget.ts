import type { Cluster, Redis, RedisOptions } from "ioredis";
import { ConfigError } from "../../core/ConfigError.js";

/** A Redis node or Sentinel. Text forms ("host:port") are parsed by the caller (the server). */
export interface RedisAddress {
  host: string;
  port: number;
}

/** An ioredis client a user hands to a storage: a single node, a Sentinel set-up or a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * What a RedisConnection talks to, said by whoever knows it (createRedisStorage from its
 * options; `targetOf` from a user's client and its documented fields), never read back
 * from ioredis' private state.
 */
export type RedisTarget =
  /** One server through this client. */
  | { kind: "node"; client: Redis }
  /** The master a Sentinel group names, through this client (ioredis in Sentinel mode). */
  | { kind: "sentinel"; client: Redis; masterName: string }
  /**
   * A Cluster, from its seeds: sessiond opens one plain connection per master itself
   * (ClusterRouter) with `nodeOptions` (password, TLS...), so no ioredis Cluster client is
   * made or used.
   */
  | { kind: "cluster"; seeds: readonly RedisAddress[]; nodeOptions: RedisOptions };

/**
 * The target of a client a user passed in. A Cluster's seeds must be given (`clusterNodes`):
 * ioredis keeps the startup nodes private. A Sentinel client is recognised by its public
 * `options.sentinels` and `options.name`.
 */
export function targetOf(
  client: RedisClient | RedisTarget,
  clusterNodes?: readonly RedisAddress[],
): RedisTarget {
  if (!isClient(client)) return client;
  const given = client;
  if (given.isCluster) {
    if (clusterNodes === undefined || clusterNodes.length === 0) {
      throw new ConfigError(
        "is required with an ioredis Cluster client: its seed nodes, as { host, port } (ioredis does not expose the ones it was given)",
        "clusterNodes",
      );
    }
    return {
      kind: "cluster",
      seeds: clusterNodes,
      nodeOptions: (given as Cluster).options.redisOptions ?? {},
    };
  }
  const redis = given as Redis;
  const { sentinels, name } = redis.options;
  if (Array.isArray(sentinels) && sentinels.length > 0 && name !== undefined) {
    return { kind: "sentinel", client: redis, masterName: name };
  }
  return { kind: "node", client: redis };
}

/** ioredis clients (Redis and Cluster alike) send commands; a target is plain data. */
function isClient(value: RedisClient | RedisTarget): value is RedisClient {
  return typeof (value as { sendCommand?: unknown }).sendCommand === "function";
}
