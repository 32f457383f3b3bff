/**
 * Bench server processes announce themselves with one line on stdout, `READY <json>`,
 * once they listen; the orchestrator waits for it. Everything else they print goes to
 * stderr so that this line is never interleaved with logs.
 */
export const READY_PREFIX = "READY ";

export function announceReady(info: Record<string, unknown>): void {
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(info)}\n`);
}
