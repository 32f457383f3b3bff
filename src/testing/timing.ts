/** Waits `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Thrown when the process was too busy to check a timing claim (a gap between two steps
 * grew past what the claim allows). The scenario is re-run instead of failing: a test
 * must never fail because the machine is slow.
 */
export class Stall extends Error {
  override readonly name = "Stall";
}

/**
 * Runs a timing-sensitive scenario, again from the start (up to `attempts` times) when it
 * reports a Stall. Any other failure fails at once.
 */
export async function retryOnStall(scenario: () => Promise<void>, attempts = 4): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await scenario();
      return;
    } catch (err) {
      if (!(err instanceof Stall) || attempt >= attempts) throw err;
    }
  }
}

/** Throws a Stall when more than `maxMs` passed since `since` (a Date.now() value). */
export function assertPrompt(since: number, maxMs: number, what: string): void {
  const gap = Date.now() - since;
  if (gap > maxMs) throw new Stall(`${what}: ${gap} ms passed, more than ${maxMs} ms`);
}
