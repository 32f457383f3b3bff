/**
 * Where a deployer sets each option, by option name: refusals that a budget causes name
 * it, so the person reading "file storage is full" at 2 a.m. knows what to change. The
 * server passes its env var names; an embedding app may pass its own. Absent: the
 * refusal names the option alone.
 */
export type SettingNames = Readonly<Record<string, string>>;

/**
 * A limit as a refusal names it: "maxValueBytes=65536" (the library's option), or, when
 * the names say where a deployer sets it, "65536 set by SESSIOND_MAX_VALUE_BYTES
 * (--max-value-bytes)": the operator reading it learns what to change, not an option name
 * of a library they never called.
 */
export function limitText(where: string | undefined, option: string, value: number): string {
  return where === undefined ? `${option}=${value}` : `${value} set by ${where}`;
}

/** " (<where>)" for a known option, "" otherwise: appended to a refusal's message. */
export function settingHint(names: SettingNames | undefined, option: string): string {
  const where = names?.[option];
  return where === undefined ? "" : ` (${where})`;
}
