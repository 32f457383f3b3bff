import { ConfigError } from "../../core/ConfigError.js";
import { ValueError } from "../parsers.js";
import { checkCombinations, checkGivenSettings, type Given } from "./checkCombinations.js";
import { closest } from "./closest.js";
import { quote } from "./quote.js";
import type { ServerConfig } from "./ServerConfig.js";
import { type AnySetting, envName, flagName } from "./Setting.js";
import { SETTINGS } from "./settings.js";

export interface ParsedConfig {
  config: ServerConfig;
  /** Things worth a log line that do not stop start-up (none today; main.ts logs them). */
  warnings: string[];
}

/**
 * SESSIOND_ variables that are not settings and that the server leaves alone: the test
 * harness's own (docs/operations.md, "Configuration"). Every other SESSIOND_ name is refused, so that a
 * misspelt setting stops the start instead of being silently ignored.
 */
export const NOT_SETTINGS: readonly string[] = ["SESSIOND_DIFF_SEED", "SESSIOND_GRPC_JS"];
/** Names under this prefix are never settings either: tests use them for their own values. */
export const NOT_SETTINGS_PREFIX = "SESSIOND_TEST_";

const PREFIX = "SESSIOND_";

/**
 * Reads every setting from flags (which win) and environment variables, falling back to
 * the defaults. Throws ConfigError with a one-line message on the first mistake: an
 * unknown flag or SESSIOND_ variable, a bad value, a setting its storage does not read,
 * or settings that are each valid but not together.
 */
export function parseConfig(
  argv: readonly string[] = [],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedConfig {
  checkEnvNames(env);
  const fromFlags = readFlags(argv);
  const config: Record<string, unknown> = {};
  const given: Given[] = [];
  for (const setting of SETTINGS) {
    const flag = fromFlags.get(setting);
    const envValue = env[envName(setting)];
    const [raw, source] =
      flag !== undefined
        ? [flag, `${flagName(setting)} (${envName(setting)})`]
        : envValue !== undefined
          ? [envValue, `${envName(setting)} (${flagName(setting)})`]
          : [setting.default, `default of ${envName(setting)}`];
    if (flag !== undefined) given.push({ setting, as: flagName(setting), source });
    else if (envValue !== undefined) given.push({ setting, as: envName(setting), source });
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
  checkGivenSettings(given, parsed);
  checkCombinations(parsed);
  return { config: parsed, warnings: [] };
}

/** Refuses a SESSIOND_ variable that names no setting (a typo would otherwise do nothing). */
function checkEnvNames(env: Readonly<Record<string, string | undefined>>): void {
  const known = new Set(SETTINGS.map(envName));
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || known.has(name) || env[name] === undefined) continue;
    if (NOT_SETTINGS.includes(name) || name.startsWith(NOT_SETTINGS_PREFIX)) continue;
    const near = closest(
      name.slice(PREFIX.length),
      SETTINGS.map((s) => s.name),
    );
    throw new ConfigError(
      near === undefined
        ? `unknown environment variable ${name}: no setting has this name; remove it, or see --help for the settings`
        : `unknown environment variable ${name}: did you mean ${PREFIX}${near}? (remove or rename it; --help lists the settings)`,
    );
  }
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
      if (!arg.startsWith("-")) {
        throw new ConfigError(
          `unexpected argument ${quote(arg)}: expected --flag value or --flag=value`,
        );
      }
      const near = closest(
        flag.replace(/^-+/, ""),
        [...byFlag.keys()].map((f) => f.slice(2)),
      );
      throw new ConfigError(
        near === undefined
          ? `unknown option ${quote(flag)}: expected one of the flags listed by --help`
          : `unknown option ${quote(flag)}: did you mean --${near}? (--help lists the flags)`,
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
