import { CALLER_SETTINGS } from "./callerSettings.js";
import { LIMIT_SETTINGS } from "./limitSettings.js";
import { OPERATION_SETTINGS } from "./operationSettings.js";
import { REDIS_SETTINGS } from "./redisSettings.js";
import type { AnySetting } from "./Setting.js";
import { SERVICE_SETTINGS } from "./serviceSettings.js";
import { TRANSPORT_SETTINGS } from "./transportSettings.js";

/** The single source of truth: parsing, --help and the table in docs/operations.md all come from it. */
export const SETTINGS: readonly AnySetting[] = [
  ...SERVICE_SETTINGS,
  ...LIMIT_SETTINGS,
  ...OPERATION_SETTINGS,
  ...REDIS_SETTINGS,
  ...TRANSPORT_SETTINGS,
  ...CALLER_SETTINGS,
];
