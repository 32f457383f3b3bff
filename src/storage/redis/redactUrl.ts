/** A Redis URL safe to log: the password (and a username's secret part) replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable redis url>";
  }
}
