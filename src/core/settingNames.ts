/**
 * Where a deployer sets each option, by option name: refusals that a budget causes name
 * it, so the person reading "file storage is full" at 2 a.m. knows what to change. The
 * server passes its env var names; an embedding app may pass its own. Absent: the
 * refusal names the option alone.
 */
export type SettingNames = Readonly<Record<string, string>>;

/** " (<where>)" for a known option, "" otherwise: appended to a refusal's message. */
export function settingHint(names: SettingNames | undefined, option: string): string {
  const where = names?.[option];
  return where === undefined ? "" : ` (${where})`;
}
