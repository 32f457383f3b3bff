/** A value as an error message shows it: quoted, and cut short when long. */
export function quote(raw: string): string {
  const short = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  return JSON.stringify(short);
}
