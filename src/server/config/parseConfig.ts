import { ConfigError } from "../../core/ConfigError.js";
import { ValueError } from "../parsers.js";
import { checkCombinations } from "./checkCombinations.js";
import { quote } from "./quote.js";
import type { ServerConfig } from "./ServerConfig.js";
import { type AnySetting, envName, flagName } from "./Setting.js";
import { SETTINGS } from "./settings.js";

export interface ParsedConfig {
  config: ServerConfig;
  /** Things worth a log line that do not stop start-up (e.g. an unknown SESSIOND_ variable). */
  warnings: string[];
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
