import { defaultLimits } from "../../core/Limits.js";
import type { SettingNames } from "../../core/settingNames.js";
import { LIMIT_SETTINGS } from "./limitSettings.js";
import { envName, flagName } from "./Setting.js";

/**
 * The Manager's limit options as the server's settings name them ({ maxValueBytes:
 * "SESSIOND_MAX_VALUE_BYTES (--max-value-bytes)" }), so a refusal names what the operator
 * can change (core/settingNames.ts). Derived from the table: a limit setting's key is the
 * Manager's option name.
 */
export const LIMIT_NAMES: SettingNames = Object.freeze(
  Object.fromEntries(
    LIMIT_SETTINGS.filter((s) => s.key in defaultLimits).map((s) => [
      s.key,
      `${envName(s)} (${flagName(s)})`,
    ]),
  ),
);
