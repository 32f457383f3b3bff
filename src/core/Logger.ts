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

/**
 * The logger of something that may be given one later (a storage built without one, which
 * a Manager hands its own: see LOGGER_TARGET in core/storage/capabilities.ts). It writes to
 * the logger it was constructed with, else to the first one adopted, else nowhere. A
 * logger once set stays: a storage shared by two Managers logs through the first.
 */
export class AdoptableLogger implements Logger {
  #target: Logger;
  #set: boolean;

  constructor(own?: Logger) {
    this.#target = own ?? silentLogger;
    this.#set = own !== undefined;
  }

  /** Takes `logger` unless one was given at construction or adopted before. */
  adoptLogger(logger: Logger): void {
    if (this.#set) return;
    this.#target = logger;
    this.#set = true;
  }

  info(msg: string, fields?: Record<string, unknown>): void {
    this.#target.info(msg, fields);
  }

  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#target.warn(msg, fields);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.#target.error(msg, fields);
  }
}

/** Enough of an id to correlate log lines, never enough to hijack the session. */
export function redactId(id: string | undefined): string {
  if (!id) return "-";
  return `${id.slice(0, 6)}…`;
}
