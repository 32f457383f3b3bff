import { ConfigError } from "../core/ConfigError.js";
import { defaultLimits } from "../core/Limits.js";
import { DEFAULT_TTL_MS } from "../core/session/Manager.js";
import { DEFAULT_REQUEST_ID_WINDOW_MS } from "../core/session/requestId.js";
import { DEFAULT_MAX_FILES } from "../file/DiskBudget.js";
import { DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
import {
  DEFAULT_PREFIX,
  DEFAULT_REDIS_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
} from "../redis/defaults.js";
import { defaultFileDir } from "./defaultFileDir.js";
import { parseIdHashKeyFile, parseKeyFile, parseKeyList } from "./keyParsers.js";
import {
  durationText,
  type HostPort,
  parseBoolean,
  parseBudget,
  parseByteSize,
  parseChoice,
  parseDuration,
  parseHostPortList,
  parseInteger,
  parseKey32,
  parseMetadataKey,
  parseNameList,
  parseNonEmpty,
  parsePemFile,
  parseReadableFile,
  parseRedisUrl,
  parseTimerDuration,
  ValueError,
} from "./parsers.js";
import { checkSecurityCombinations } from "./security/checkSecurityCombinations.js";
import { DEFAULT_MAX_CONNECTIONS_PER_PEER } from "./transport/ConnectionSlots.js";

export const STORAGE_KINDS = ["file", "memory", "redis", "redis-hash"] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];
export const LOG_LEVELS = ["info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const REFLECTION_SETTINGS = ["auto", "on", "off"] as const;
export type ReflectionSetting = (typeof REFLECTION_SETTINGS)[number];

/** Everything the server process can be told. Flat, so that a test can override one field. */
export interface ServerConfig {
  host: string;
  port: number;
  storage: StorageKind;
  fileDir: string;
  fileEncryptionKey?: Buffer;
  // At rest (README, Security: Stored data): stored names and encryption keys for every storage.
  idHashKey?: Buffer;
  encryptionKeys?: Buffer[];
  encryptionKeyFile?: Buffer[];
  ttlMs: number;
  maxLifetimeMs?: number;
  adoptUnknownIds: boolean;
  requestIdWindowMs: number;
  metadataKey: string;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxKeys: number;
  maxSessionBytes: number;
  maxOps: number;
  memoryMaxSessions?: number;
  /** Storage budgets: "auto" is the storage's default, Infinity none (see parseBudget). */
  memoryMaxBytes: number | "auto";
  fileMaxBytes: number | "auto";
  fileMaxFiles: number | "auto";
  fileMinFreeBytes: number | "auto";
  logLevel: LogLevel;
  healthCheckIntervalMs: number;
  shutdownGraceMs: number;
  /** Prometheus /metrics over HTTP (README: Metrics); off unless metricsPort is set. */
  metricsHost: string;
  metricsPort?: number;
  redisUrl?: string;
  /** CA certificates (PEM) that a rediss:// server's certificate must chain to. */
  redisTlsCa?: Buffer;
  redisClusterNodes?: HostPort[];
  redisSentinels?: HostPort[];
  redisSentinelName?: string;
  redisPrefix: string;
  redisTimeoutMs: number;
  redisWaitReplicas: number;
  redisWaitTimeoutMs: number;
  // Transport limits (README: Limits, Transport limits).
  maxConcurrentStreams: number;
  maxConnections: number;
  /** "auto": DEFAULT_MAX_CONNECTIONS_PER_PEER, or maxConnections if lower. */
  maxConnectionsPerPeer: number | "auto";
  handshakeTimeoutMs: number;
  connectionIdleTimeoutMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  maxConnectionAgeMs?: number;
  maxConnectionAgeGraceMs: number;
  requestReceiveTimeoutMs: number;
  maxConnectionOutboundBytes: number;
  // Callers: TLS, mTLS, tokens, secure defaults (README: Security; src/server/security/).
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsClientCaFile?: string;
  tlsClientNames?: string[];
  authTokensFile?: string;
  authHealth: boolean;
  reflection: ReflectionSetting;
  allowInsecure: boolean;
}

// A bad setting: one line that names the setting and what it expects. The same class
// the library's constructors throw, so one `instanceof` catches both.
export { ConfigError };

interface Setting<K extends keyof ServerConfig> {
  /** SESSIOND_<name> is the env var; --<name in kebab case> is the flag. */
  name: string;
  key: K;
  /** Text form, parsed like any input, so --help shows exactly what applies. */
  default?: string;
  parse(raw: string): NonNullable<ServerConfig[K]>;
  description: string;
  /** Never echoed back in an error message (keys, URLs with passwords). */
  secret?: boolean;
  /**
   * Refused as a flag: a command line is visible to every local user (`ps`, /proc). `use`
   * says where to put the value instead; `when`, if given, says which values carry a
   * secret (a Redis URL only with a password).
   */
  notAsFlag?: { use: string; when?: (raw: string) => boolean };
  /** A bare `--flag` means "true". */
  boolean?: boolean;
}

type AnySetting = { [K in keyof ServerConfig]-?: Setting<K> }[keyof ServerConfig];

const positive = (raw: string) => parseInteger(raw, 1);
const SIZE = "a size such as 1048576, 512MiB, 2GiB or 1.5GB";

/** The single source of truth: parsing, --help and the README table all come from it. */
export const SETTINGS: readonly AnySetting[] = [
  {
    name: "HOST",
    key: "host",
    default: "127.0.0.1",
    parse: (raw) => parseNonEmpty(raw, "a host name or IP address"),
    description: "Address to listen on (0.0.0.0 or :: for every interface).",
  },
  {
    name: "PORT",
    key: "port",
    default: "50051",
    parse: (raw) => parseInteger(raw, 0, 65_535),
    description: "TCP port; 0 picks a free port (the 'listening' log line names it).",
  },
  {
    name: "STORAGE",
    key: "storage",
    default: "file",
    parse: (raw) => parseChoice(raw, STORAGE_KINDS),
    description: "Where sessions live: file, memory, redis (one key per session) or redis-hash.",
  },
  {
    name: "FILE_DIR",
    key: "fileDir",
    default: defaultFileDir(),
    parse: (raw) => parseNonEmpty(raw, "a directory path"),
    description:
      "Directory of the file storage, created 0700 with its parents if missing; it must belong to the user sessiond runs as and be writable by no one else.",
  },
  {
    name: "FILE_ENCRYPTION_KEY",
    key: "fileEncryptionKey",
    parse: parseKey32,
    secret: true,
    notAsFlag: { use: "set SESSIOND_FILE_ENCRYPTION_KEY, or use --encryption-key-file" },
    description:
      "Encrypts session files with AES-256-GCM: 32 bytes as 64 hex digits or base64. Environment only: the flag is refused, a command line shows in ps.",
  },
  // At rest (README, Security: Stored data): what a dump of the storage may reveal.
  {
    name: "ID_HASH_KEY_FILE",
    key: "idHashKey",
    parse: parseIdHashKeyFile,
    description:
      "File holding the secret (32+ bytes, hex or base64) that sessions are stored under an HMAC of, never their ids; every instance needs the same one (default: one generated in the file directory, or in Redis under the prefix).",
  },
  {
    name: "ENCRYPTION_KEYS",
    key: "encryptionKeys",
    parse: parseKeyList,
    secret: true,
    notAsFlag: { use: "set SESSIOND_ENCRYPTION_KEYS, or use --encryption-key-file" },
    description:
      "Encrypts stored sessions (file, redis, redis-hash) with AES-256-GCM: comma-separated 32-byte keys (hex or base64); the first encrypts, all decrypt. Environment only: the flag is refused, a command line shows in ps.",
  },
  {
    name: "ENCRYPTION_KEY_FILE",
    key: "encryptionKeyFile",
    parse: parseKeyFile,
    description:
      "Like SESSIOND_ENCRYPTION_KEYS, from a file: one key per line, the first encrypts; # starts a comment.",
  },
  {
    name: "TTL",
    key: "ttlMs",
    default: durationText(DEFAULT_TTL_MS),
    parse: (raw) => parseDuration(raw),
    description: "Idle time to live, slid by every access (500ms, 30s, 24h or milliseconds).",
  },
  {
    name: "MAX_LIFETIME",
    key: "maxLifetimeMs",
    parse: (raw) => parseDuration(raw),
    description: "Absolute lifetime from creation, whatever the activity.",
  },
  {
    name: "ADOPT_UNKNOWN_IDS",
    key: "adoptUnknownIds",
    default: "false",
    parse: parseBoolean,
    boolean: true,
    description: "Write under an unknown client id instead of issuing a new one (allows fixation).",
  },
  {
    name: "REQUEST_ID_WINDOW",
    key: "requestIdWindowMs",
    default: durationText(DEFAULT_REQUEST_ID_WINDOW_MS),
    parse: (raw) => parseDuration(raw),
    description: "How long a write's request_id answers retries with its first outcome.",
  },
  {
    name: "METADATA_KEY",
    key: "metadataKey",
    default: DEFAULT_METADATA_KEY,
    parse: parseMetadataKey,
    description: "Request/response metadata entry that carries the session id.",
  },
  {
    name: "MAX_KEY_BYTES",
    key: "maxKeyBytes",
    default: String(defaultLimits.maxKeyBytes),
    parse: positive,
    description: "Longest key, in UTF-8 bytes (longer: INVALID_ARGUMENT).",
  },
  {
    name: "MAX_VALUE_BYTES",
    key: "maxValueBytes",
    default: String(defaultLimits.maxValueBytes),
    parse: positive,
    description: "Largest value, in bytes of its JSON (larger: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MAX_KEYS",
    key: "maxKeys",
    default: String(defaultLimits.maxKeys),
    parse: positive,
    description: "Most keys in one session (more: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MAX_SESSION_BYTES",
    key: "maxSessionBytes",
    default: String(defaultLimits.maxSessionBytes),
    parse: positive,
    description: "Largest session, keys plus value JSON, in bytes (larger: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MAX_OPS",
    key: "maxOps",
    default: String(defaultLimits.maxOps),
    parse: positive,
    description:
      "Most operations one write may carry: keys of a SetMap or Remove (more: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MEMORY_MAX_SESSIONS",
    key: "memoryMaxSessions",
    parse: positive,
    description: "Memory storage only: most live sessions (more: RESOURCE_EXHAUSTED).",
  },
  // Storage budgets (README, "Storage budgets"): beyond them writes are RESOURCE_EXHAUSTED.
  {
    name: "MEMORY_MAX_BYTES",
    key: "memoryMaxBytes",
    default: "auto",
    parse: (raw) => parseBudget(raw, parseByteSize, SIZE),
    description:
      "Memory storage only: heap all sessions may take, as estimated (auto: half the old generation's limit; 0 or unlimited: no limit).",
  },
  {
    name: "FILE_MAX_BYTES",
    key: "fileMaxBytes",
    default: "auto",
    parse: (raw) => parseBudget(raw, parseByteSize, SIZE),
    description:
      "File storage only: disk all session files may take (auto: the smaller of 8GiB and half the free space at start; 0 or unlimited: no limit).",
  },
  {
    name: "FILE_MAX_FILES",
    key: "fileMaxFiles",
    default: String(DEFAULT_MAX_FILES),
    parse: (raw) => parseBudget(raw, (text) => parseInteger(text, 0), "a whole number"),
    description: "File storage only: most session files (0 or unlimited: no limit).",
  },
  {
    name: "FILE_MIN_FREE_BYTES",
    key: "fileMinFreeBytes",
    default: "auto",
    parse: (raw) => parseBudget(raw, parseByteSize, SIZE, { unlimited: false }),
    description:
      "File storage only: free space a write must leave on the filesystem, with 5% of its inodes (auto: the smaller of 1GiB and 5% of it; 0: no floor).",
  },
  {
    name: "LOG_LEVEL",
    key: "logLevel",
    default: "info",
    parse: (raw) => parseChoice(raw, LOG_LEVELS),
    description:
      "Least severe level logged (JSON lines on stderr): info, warn or error. The listening line always shows.",
  },
  {
    name: "HEALTH_CHECK_INTERVAL",
    key: "healthCheckIntervalMs",
    default: "5s",
    parse: (raw) => parseDuration(raw),
    description:
      "How often the storage is pinged; failure turns health NOT_SERVING until it answers (a Redis Cluster stays SERVING while any master answers, and logs the masters that do not: see Running on Redis).",
  },
  {
    name: "SHUTDOWN_GRACE",
    key: "shutdownGraceMs",
    default: "10s",
    parse: (raw) => parseDuration(raw, { allowZero: true }),
    description: "On SIGTERM/SIGINT, how long in-flight calls may take before they are cancelled.",
  },
  {
    name: "METRICS_HOST",
    key: "metricsHost",
    default: "127.0.0.1",
    parse: (raw) => parseNonEmpty(raw, "a host name or IP address"),
    description:
      "Address the Prometheus metrics endpoint listens on, with SESSIOND_METRICS_PORT (it has no authentication).",
  },
  {
    name: "METRICS_PORT",
    key: "metricsPort",
    parse: (raw) => parseInteger(raw, 0, 65_535),
    description:
      "TCP port of the Prometheus metrics endpoint, GET /metrics over HTTP; 0 picks a free port (default: no endpoint).",
  },
  {
    name: "REDIS_URL",
    key: "redisUrl",
    parse: parseRedisUrl,
    secret: true,
    notAsFlag: { use: "set SESSIOND_REDIS_URL instead", when: hasPassword },
    description:
      "Redis storages: single-node URL; with no Cluster or Sentinels either, redis://127.0.0.1:6379. One with a password is refused as a flag (a command line shows in ps): set it in the environment.",
  },
  {
    name: "REDIS_TLS_CA_FILE",
    key: "redisTlsCa",
    parse: parsePemFile,
    description:
      "Redis storages: PEM file of the CA that signed a rediss:// server's certificate (default: the system's CAs).",
  },
  {
    name: "REDIS_CLUSTER_NODES",
    key: "redisClusterNodes",
    parse: parseHostPortList,
    description: "Redis storages: Cluster seed nodes, comma-separated host:port.",
  },
  {
    name: "REDIS_SENTINELS",
    key: "redisSentinels",
    parse: parseHostPortList,
    description:
      "Redis storages: Sentinels, comma-separated host:port (needs SESSIOND_REDIS_SENTINEL_NAME).",
  },
  {
    name: "REDIS_SENTINEL_NAME",
    key: "redisSentinelName",
    parse: (raw) => parseNonEmpty(raw, "a Sentinel master name"),
    description: "Redis storages: name of the master the Sentinels watch.",
  },
  {
    name: "REDIS_PREFIX",
    key: "redisPrefix",
    default: DEFAULT_PREFIX,
    parse: (raw) => parseNonEmpty(raw, "a key prefix"),
    description: "Redis storages: prefix of every key.",
  },
  {
    name: "REDIS_TIMEOUT_MS",
    key: "redisTimeoutMs",
    default: String(DEFAULT_REDIS_TIMEOUT_MS),
    parse: (raw) => parseDuration(raw),
    description: "Redis storages: a command not answered in this time fails with UNAVAILABLE.",
  },
  {
    name: "REDIS_WAIT_REPLICAS",
    key: "redisWaitReplicas",
    default: "0",
    parse: (raw) => parseInteger(raw, 0, 1000),
    description:
      "Redis storages: replicas that must confirm each write (WAIT) before it is acknowledged; 0 acknowledges once the master applied it.",
  },
  {
    name: "REDIS_WAIT_TIMEOUT",
    key: "redisWaitTimeoutMs",
    default: durationText(DEFAULT_WAIT_TIMEOUT_MS),
    parse: (raw) => parseDuration(raw),
    description:
      "Redis storages: with SESSIOND_REDIS_WAIT_REPLICAS, how long a write waits for its replicas before failing with UNAVAILABLE (below SESSIOND_REDIS_TIMEOUT_MS).",
  },
  // Transport limits: what one client may hold of the server (README: Limits).
  {
    name: "MAX_CONCURRENT_STREAMS",
    key: "maxConcurrentStreams",
    default: "100",
    parse: (raw) => parseInteger(raw, 1, 2 ** 31 - 1),
    description: "Most calls in flight on one connection; a client opening more has them refused.",
  },
  {
    name: "MAX_CONNECTIONS",
    key: "maxConnections",
    default: "1000",
    parse: (raw) => parseInteger(raw, 1, 2 ** 31 - 1),
    description:
      "Most open client connections; past it the oldest connection that never made a call is closed to make room, or the new one if all have made one. Lowered at start so that 128 file descriptors (half, under an open-file limit below 256) stay free.",
  },
  {
    name: "MAX_CONNECTIONS_PER_PEER",
    key: "maxConnectionsPerPeer",
    default: "auto",
    parse: (raw) =>
      parseBudget(raw, (text) => parseInteger(text, 1, 2 ** 31 - 1), "a whole number from 1", {
        unlimited: false,
      }),
    description: `Most open connections from one client address (IPv4-mapped IPv6 counts as IPv4), at most SESSIOND_MAX_CONNECTIONS; past it that address's oldest connection that never made a call makes room, or the new one is closed (auto: ${DEFAULT_MAX_CONNECTIONS_PER_PEER}, or SESSIOND_MAX_CONNECTIONS if lower). Behind a proxy every client shares the proxy's address.`,
  },
  {
    name: "HANDSHAKE_TIMEOUT",
    key: "handshakeTimeoutMs",
    default: "5s",
    parse: parseTimerDuration,
    description:
      "A new connection that has not finished its TLS handshake and sent the HTTP/2 preface and SETTINGS this long after it was accepted is closed.",
  },
  {
    name: "CONNECTION_IDLE_TIMEOUT",
    key: "connectionIdleTimeoutMs",
    default: "5m",
    parse: parseTimerDuration,
    description:
      "A connection with no call in flight for this long is closed (a client reconnects on its next call). With tokens, a connection's calls count only once one of them has passed the token check.",
  },
  {
    name: "KEEPALIVE_TIME",
    key: "keepaliveTimeMs",
    default: "2h",
    parse: parseTimerDuration,
    description: "How often each connection is pinged to find clients that are gone.",
  },
  {
    name: "KEEPALIVE_TIMEOUT",
    key: "keepaliveTimeoutMs",
    default: "20s",
    parse: parseTimerDuration,
    description: "A ping not answered within this time closes its connection.",
  },
  {
    name: "MAX_CONNECTION_AGE",
    key: "maxConnectionAgeMs",
    parse: parseTimerDuration,
    description:
      "Connections older than this (±10%) are told to reconnect (GOAWAY), e.g. to rebalance behind a proxy.",
  },
  {
    name: "MAX_CONNECTION_AGE_GRACE",
    key: "maxConnectionAgeGraceMs",
    default: "30s",
    parse: parseTimerDuration,
    description:
      "After a GOAWAY for age or idleness, how long the calls still running may take before the connection is closed.",
  },
  {
    name: "REQUEST_RECEIVE_TIMEOUT",
    key: "requestReceiveTimeoutMs",
    default: "10s",
    parse: parseTimerDuration,
    description:
      "A call whose request has not fully arrived this long after its headers ends with RESOURCE_EXHAUSTED.",
  },
  {
    name: "MAX_CONNECTION_OUTBOUND_BYTES",
    key: "maxConnectionOutboundBytes",
    default: String(16 * 1024 * 1024),
    parse: (raw) => parseInteger(raw, 64 * 1024),
    description:
      "Response bytes one connection may leave unread; past it its calls end with RESOURCE_EXHAUSTED and it is closed.",
  },
  // Callers (README: Security). Files are re-read on change and on SIGHUP.
  {
    name: "TLS_CERT_FILE",
    key: "tlsCertFile",
    parse: parseReadableFile,
    description:
      "PEM certificate chain to serve TLS with (needs SESSIOND_TLS_KEY_FILE); re-read on change and on SIGHUP.",
  },
  {
    name: "TLS_KEY_FILE",
    key: "tlsKeyFile",
    parse: parseReadableFile,
    description: "PEM private key of SESSIOND_TLS_CERT_FILE.",
  },
  {
    name: "TLS_CLIENT_CA_FILE",
    key: "tlsClientCaFile",
    parse: parseReadableFile,
    description:
      "mTLS: PEM CA certificates; every client must present a certificate they signed, or the handshake fails.",
  },
  {
    name: "TLS_CLIENT_NAMES",
    key: "tlsClientNames",
    parse: parseNameList,
    description:
      "mTLS: comma-separated subject CNs or DNS SANs allowed; a client certificate naming none of them is UNAUTHENTICATED.",
  },
  {
    name: "AUTH_TOKENS_FILE",
    key: "authTokensFile",
    parse: parseReadableFile,
    description:
      "Caller tokens, one per line with its scopes (TOKEN read,write; scopes read, write, admin); re-read on change and on SIGHUP.",
  },
  {
    name: "AUTH_HEALTH",
    key: "authHealth",
    default: "false",
    parse: parseBoolean,
    boolean: true,
    description: "Health checks need a token (any scope) and an allowed client name too.",
  },
  {
    name: "REFLECTION",
    key: "reflection",
    default: "auto",
    parse: (raw) => parseChoice(raw, REFLECTION_SETTINGS),
    description: "Serve gRPC server reflection: on, off, or auto (on when --host is loopback).",
  },
  {
    name: "ALLOW_INSECURE",
    key: "allowInsecure",
    default: "false",
    parse: parseBoolean,
    boolean: true,
    description:
      "Listen on a non-loopback address with neither TLS nor tokens (logged as a warning).",
  },
];

export const envName = (s: AnySetting): string => `SESSIOND_${s.name}`;
export const flagName = (s: AnySetting): string => `--${s.name.toLowerCase().replaceAll("_", "-")}`;

export interface ParsedConfig {
  config: ServerConfig;
  /** Things worth a log line that do not stop start-up (e.g. an unknown SESSIOND_ variable). */
  warnings: string[];
}

/** True when the command line asks for --help / -h. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === "--help" || arg === "-h");
}

/**
 * Reads every setting from flags (which win) and environment variables, falling back to
 * the defaults. Throws ConfigError with a one-line message on the first bad value.
 */
export function parseConfig(
  argv: readonly string[] = [],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedConfig {
  const fromFlags = readFlags(argv);
  const config: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const flag = fromFlags.get(setting);
    const envValue = env[envName(setting)];
    const [raw, source] =
      flag !== undefined
        ? [flag, `${flagName(setting)} (${envName(setting)})`]
        : envValue !== undefined
          ? [envValue, `${envName(setting)} (${flagName(setting)})`]
          : [setting.default, `default of ${envName(setting)}`];
    if (raw === undefined) continue;
    try {
      config[setting.key] = setting.parse(raw);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      const shown = setting.secret ? "(value hidden)" : `got ${quote(raw)}`;
      throw new ConfigError(`${source}: expected ${err.message}; ${shown}`);
    }
  }
  const parsed = config as unknown as ServerConfig;
  checkCombinations(parsed);
  const known = new Set(SETTINGS.map(envName));
  const warnings = Object.keys(env)
    .filter((name) => name.startsWith("SESSIOND_") && !known.has(name))
    .map((name) => `unknown environment variable ${name} ignored (see --help)`);
  return { config: parsed, warnings };
}

/** The defaults, with `overrides` on top: what startServer() uses for a partial config. */
export function resolveConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const base = parseConfig([], {}).config;
  const merged: Record<string, unknown> = { ...base };
  const byKey = new Map<string, AnySetting>(SETTINGS.map((s) => [s.key, s]));
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const setting = byKey.get(key);
    if (setting === undefined) {
      throw new ConfigError(`option ${key}: unknown setting (see --help for the settings)`);
    }
    merged[key] = checkOverride(setting, value, merged[key]);
  }
  const config = merged as unknown as ServerConfig;
  checkCombinations(config);
  return config;
}

/**
 * An object option goes through the same parser as its env var, so that a JavaScript caller
 * (or a cast) cannot start a server on a value SESSIOND_<name> would refuse. Strings, numbers
 * and booleans are parsed from their text; already-parsed values (a Buffer key, a host:port
 * list) are taken as they are, but never where the setting is a plain value.
 */
function checkOverride(setting: AnySetting, value: unknown, defaultValue: unknown): unknown {
  const source = `option ${setting.key} (${envName(setting)})`;
  if (typeof value === "object" || typeof value === "function") {
    if (defaultValue !== undefined && typeof defaultValue !== "object") {
      throw new ConfigError(`${source}: expected a ${typeof defaultValue}; got an object`);
    }
    return value;
  }
  const raw = String(value);
  try {
    return setting.parse(raw);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    const shown = setting.secret ? "(value hidden)" : `got ${quote(raw)}`;
    throw new ConfigError(`${source}: expected ${err.message}; ${shown}`);
  }
}

function checkCombinations(config: ServerConfig): void {
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

function readFlags(argv: readonly string[]): Map<AnySetting, string> {
  const byFlag = new Map(SETTINGS.map((s) => [flagName(s), s]));
  const values = new Map<AnySetting, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const setting = byFlag.get(flag);
    if (!setting) {
      throw new ConfigError(
        arg.startsWith("-")
          ? `unknown option ${quote(flag)}: expected one of the flags listed by --help`
          : `unexpected argument ${quote(arg)}: expected --flag value or --flag=value`,
      );
    }
    let value: string | undefined;
    if (flag !== arg) value = arg.slice(eq + 1);
    else if (setting.boolean && (i + 1 >= argv.length || argv[i + 1]?.startsWith("--"))) {
      value = "true";
    } else {
      value = argv[++i];
    }
    if (value === undefined) {
      throw new ConfigError(`${flag} (${envName(setting)}): expected a value after it`);
    }
    const notAsFlag = setting.notAsFlag;
    if (notAsFlag !== undefined && (notAsFlag.when?.(value) ?? true)) {
      throw new ConfigError(
        `${flag} (${envName(setting)}): refused on the command line, where every local user can read it (ps); ${notAsFlag.use}`,
      );
    }
    values.set(setting, value);
  }
  return values;
}

/** A URL with a password in it (an unparsable one is left to the setting's own parser). */
function hasPassword(raw: string): boolean {
  try {
    return new URL(raw.trim()).password !== "";
  } catch {
    return false;
  }
}

function quote(raw: string): string {
  const short = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  return JSON.stringify(short);
}
