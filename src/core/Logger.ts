/** The logging surface every layer takes; structured fields, never a session id in full. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

type Level = "info" | "warn" | "error";

/** One JSON object per line on stderr, so logs stay machine-readable under any supervisor. */
export function jsonLogger(
  minLevel: Level = "info",
  out: NodeJS.WritableStream = process.stderr,
): Logger {
  const rank: Record<Level, number> = { info: 0, warn: 1, error: 2 };
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (rank[level] < rank[minLevel]) return;
    out.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
  return {
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** Enough of an id to correlate log lines, never enough to hijack the session. */
export function redactId(id: string | undefined): string {
  if (!id) return "-";
  return `${id.slice(0, 6)}…`;
}
