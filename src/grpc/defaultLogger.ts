import { jsonLogger, type Logger } from "../core/Logger.js";

let fallback: Logger | undefined;

/**
 * Where the handler wrappers and the interceptor log unexpected errors when given no
 * logger and their Manager has none: JSON lines on stderr. A handler's bug answered
 * `13 internal error` must leave a trace somewhere; `{ logger: silentLogger }` silences it.
 */
export function defaultLogger(): Logger {
  fallback ??= jsonLogger();
  return fallback;
}
