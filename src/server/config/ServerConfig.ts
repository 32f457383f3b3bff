import type { HostPort } from "../parsers.js";

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
  // At rest (docs/security.md, "Stored data"): stored names and encryption keys for every storage.
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
  /** SIGTERM: health NOT_SERVING this long, calls still served, before the shutdown. */
  shutdownDrainMs: number;
  /** Plaintext grpc.health.v1-only listener (docs/operations.md, "Running in production"); off unless healthPort is set. */
  healthHost: string;
  healthPort?: number;
  /** Prometheus /metrics over HTTP (docs/operations.md, "Metrics"); off unless metricsPort is set. */
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
  /** Bytes of Redis client-side cache; 0: off. */
  redisClientCache: number;
  // Transport limits (docs/limits.md, "Transport limits").
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
  // Callers: TLS, mTLS, tokens, secure defaults (docs/security.md; src/server/security/).
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsClientCaFile?: string;
  tlsClientNames?: string[];
  authTokensFile?: string;
  authHealth: boolean;
  reflection: ReflectionSetting;
  allowInsecure: boolean;
}
