import type { Logger } from "../../core/Logger.js";

/** At most one line per reason in this window; the lines in between are counted. */
const WINDOW_MS = 10_000;

/**
 * Logs refused callers so an operator sees a misconfigured client or a probe, without
 * letting a caller who is refused in a loop fill the log: one `caller refused` line per
 * reason every 10 s, saying how many were refused meanwhile. The reason is the refusal's
 * own message, which never holds a token.
 */
export class RefusalLog {
  readonly #logger: Logger;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  refused(method: string, code: string, reason: string, now = Date.now()): void {
    const seen = this.#last.get(reason);
    if (seen !== undefined && now - seen.at < WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    // Reasons are few (a fixed set of messages, plus certificate names): the map stays small,
    // but a flood of distinct certificate names must not grow it without bound.
    if (this.#last.size >= 256) this.#last.clear();
    this.#last.set(reason, { at: now, suppressed: 0 });
    this.#logger.warn("caller refused", {
      method,
      code,
      reason,
      refusedSinceLastLine: seen?.suppressed ?? 0,
    });
  }
}
