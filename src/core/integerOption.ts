import { ConfigError } from "./ConfigError.js";

/**
 * `value` when it is a whole number of at least `min` (Infinity too when `infinite` allows
 * it: "no limit"), `fallback` when undefined; a ConfigError naming `option` otherwise.
 * Every numeric library option goes through here, so they all refuse alike.
 */
export function integerOption(
  option: string,
  value: number | undefined,
  { min, fallback, infinite = false, unit = "" }: IntegerRule,
): number {
  if (value === undefined) return fallback;
  if (infinite && value === Number.POSITIVE_INFINITY) return value;
  if (!Number.isSafeInteger(value) || value < min) {
    const what = `a whole number${unit ? ` of ${unit}` : ""} of at least ${min}${infinite ? " (or Infinity)" : ""}`;
    throw new ConfigError(`must be ${what}, got ${String(value)}`, option);
  }
  return value;
}

export interface IntegerRule {
  min: number;
  fallback: number;
  /** Infinity is allowed and means "no limit". */
  infinite?: boolean;
  /** Named in the refusal: "milliseconds", "bytes". */
  unit?: string;
}
