import {
  DEFAULT_PREFIX,
  DEFAULT_REDIS_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
} from "../../redis/defaults.js";
import {
  durationText,
  parseByteSize,
  parseDuration,
  parseHostPortList,
  parseInteger,
  parseNonEmpty,
  parsePemFile,
  parseRedisUrl,
  ValueError,
} from "../parsers.js";
import { type AnySetting, REDIS_ONLY } from "./Setting.js";

/** The Redis storages: where Redis is, and how writes wait for it (docs/redis.md). */
export const REDIS_SETTINGS: readonly AnySetting[] = [
  {
    name: "REDIS_URL",
    key: "redisUrl",
    storages: REDIS_ONLY,
    parse: parseRedisUrl,
    secret: true,
    notAsFlag: { use: "set SESSIOND_REDIS_URL instead", when: hasPassword },
    defaultText: "redis://127.0.0.1:6379 unless a Cluster or Sentinels are named",
    description:
      "Redis storages: single-node URL. One with a password is refused as a flag (a command line shows in ps): set it in the environment.",
  },
  {
    name: "REDIS_TLS_CA_FILE",
    key: "redisTlsCa",
    storages: REDIS_ONLY,
    parse: parsePemFile,
    defaultText: "the system's CAs",
    description: "Redis storages: PEM file of the CA that signed a rediss:// server's certificate.",
  },
  {
    name: "REDIS_CLUSTER_NODES",
    key: "redisClusterNodes",
    storages: REDIS_ONLY,
    parse: parseHostPortList,
    description: "Redis storages: Cluster seed nodes, comma-separated host:port.",
  },
  {
    name: "REDIS_SENTINELS",
    key: "redisSentinels",
    storages: REDIS_ONLY,
    parse: parseHostPortList,
    description:
      "Redis storages: Sentinels, comma-separated host:port (needs SESSIOND_REDIS_SENTINEL_NAME).",
  },
  {
    name: "REDIS_SENTINEL_NAME",
    key: "redisSentinelName",
    storages: REDIS_ONLY,
    parse: (raw) => parseNonEmpty(raw, "a Sentinel master name"),
    needs: "REDIS_SENTINELS",
    description: "Redis storages: name of the master the Sentinels watch.",
  },
  {
    name: "REDIS_PREFIX",
    key: "redisPrefix",
    storages: REDIS_ONLY,
    default: DEFAULT_PREFIX,
    parse: (raw) => parseNonEmpty(raw, "a key prefix"),
    description: "Redis storages: prefix of every key.",
  },
  {
    name: "REDIS_TIMEOUT_MS",
    key: "redisTimeoutMs",
    storages: REDIS_ONLY,
    default: String(DEFAULT_REDIS_TIMEOUT_MS),
    parse: (raw) => parseDuration(raw),
    description: "Redis storages: a command not answered in this time fails with UNAVAILABLE.",
  },
  {
    name: "REDIS_WAIT_REPLICAS",
    key: "redisWaitReplicas",
    storages: REDIS_ONLY,
    default: "0",
    parse: (raw) => parseInteger(raw, 0, 1000),
    description:
      "Redis storages: replicas that must confirm each write (WAIT) before it is acknowledged; 0 acknowledges once the master applied it.",
  },
  {
    name: "REDIS_WAIT_TIMEOUT",
    key: "redisWaitTimeoutMs",
    storages: REDIS_ONLY,
    default: durationText(DEFAULT_WAIT_TIMEOUT_MS),
    needs: "REDIS_WAIT_REPLICAS",
    parse: (raw) => parseDuration(raw),
    description:
      "Redis storages: with SESSIOND_REDIS_WAIT_REPLICAS, how long a write waits for its replicas before failing with UNAVAILABLE (below SESSIOND_REDIS_TIMEOUT_MS).",
  },
  {
    name: "REDIS_CLIENT_CACHE",
    key: "redisClientCache",
    storages: REDIS_ONLY,
    parse: parseCacheBytes,
    default: "off",
    description:
      "Redis storages, plain only (not encrypted): keep a local copy of Get reads within this many bytes, kept coherent by Redis client tracking (docs/redis.md, Client-side caching); off unless set.",
  },
];

/** A cache budget: a size of at least 1KiB, or off (0 too), as 0. */
function parseCacheBytes(raw: string): number {
  const text = raw.trim().toLowerCase();
  if (text === "off" || text === "0") return 0;
  let bytes: number;
  try {
    bytes = parseByteSize(text);
  } catch {
    throw new ValueError("a size of at least 1KiB such as 64MiB, or off");
  }
  if (bytes < 1024) throw new ValueError("a size of at least 1KiB such as 64MiB, or off");
  return bytes;
}

/** A URL with a password in it (an unparsable one is left to the setting's own parser). */
function hasPassword(raw: string): boolean {
  try {
    return new URL(raw.trim()).password !== "";
  } catch {
    return false;
  }
}
