import type { ServerConfig, StorageKind } from "./ServerConfig.js";

export interface Setting<K extends keyof ServerConfig> {
  /** SESSIOND_<name> is the env var; --<name in kebab case> is the flag. */
  name: string;
  key: K;
  /** Text form, parsed like any input, so --help shows exactly what applies. */
  default?: string;
  /**
   * What applies when the setting is left out and that is not a value to parse (a port
   * that means "no endpoint", a key generated at start): --help and docs/operations.md show it as
   * the default. Never together with `default`.
   */
  defaultText?: string;
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
  /**
   * The storages that read this setting; given (as a flag or a variable) while
   * SESSIOND_STORAGE names another, it is refused at start (it would do nothing). Absent:
   * every storage reads it.
   */
  storages?: readonly StorageKind[];
  /**
   * The name of the setting without which this one does nothing (SESSIOND_METRICS_HOST
   * without SESSIOND_METRICS_PORT): given alone, it is refused at start.
   */
  needs?: string;
}

export type AnySetting = { [K in keyof ServerConfig]-?: Setting<K> }[keyof ServerConfig];

/** Read by the file storage only. */
export const FILE_ONLY: readonly StorageKind[] = ["file"];
/** Read by the memory storage only. */
export const MEMORY_ONLY: readonly StorageKind[] = ["memory"];
/** Read by the two Redis storages only. */
export const REDIS_ONLY: readonly StorageKind[] = ["redis", "redis-hash"];
/** Read by the storages that keep data outside the process (at rest: file and Redis). */
export const AT_REST: readonly StorageKind[] = ["file", "redis", "redis-hash"];

export const envName = (s: AnySetting): string => `SESSIOND_${s.name}`;
export const flagName = (s: AnySetting): string => `--${s.name.toLowerCase().replaceAll("_", "-")}`;

/** How --help shows the flag: `--port <value>`, or `--adopt-unknown-ids [true|false]`. */
export const flagUsage = (s: AnySetting): string =>
  `${flagName(s)} ${s.boolean ? "[true|false]" : "<value>"}`;

/** What --help and docs/operations.md give as the default: the value, the text, or none. */
export const defaultShown = (s: AnySetting): string => s.default ?? s.defaultText ?? "none";
