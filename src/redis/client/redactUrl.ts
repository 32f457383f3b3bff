/**
 * A Redis URL safe to log: the password replaced by ***. A userinfo without a colon
 * (`redis://s3cret@host`) is replaced whole: ioredis sends it as a username, but redis-cli and
 * many people mean it as the password, and a log line cannot tell which.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    else if (u.username) u.username = "***";
    return u.toString();
  } catch {
    return "<unparseable redis url>";
  }
}
