import type { ServerConfig } from "./ServerConfig.js";

export interface Setting<K extends keyof ServerConfig> {
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

export type AnySetting = { [K in keyof ServerConfig]-?: Setting<K> }[keyof ServerConfig];

export const envName = (s: AnySetting): string => `SESSIOND_${s.name}`;
export const flagName = (s: AnySetting): string => `--${s.name.toLowerCase().replaceAll("_", "-")}`;
