import { ConfigError } from "../../core/ConfigError.js";
import { ValueError } from "../parsers.js";
import { checkCombinations } from "./checkCombinations.js";
import { parseConfig } from "./parseConfig.js";
import { quote } from "./quote.js";
import type { ServerConfig } from "./ServerConfig.js";
import { type AnySetting, envName } from "./Setting.js";
import { SETTINGS } from "./settings.js";

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
