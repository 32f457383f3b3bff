/** Waits `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Thrown when the process was too busy to check a timing claim (a step took longer than
 * the claim allows). The scenario is re-run instead of failing: a test must never fail
 * because the machine is slow.
 */
export class Stall extends Error {
  override readonly name = "Stall";
}

/**
 * Runs a timing-sensitive scenario, again from the start (up to `attempts` times) when it
 * reports a Stall. Any other failure fails at once.
 */
export async function retryOnStall(scenario: () => Promise<void>, attempts = 6): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await scenario();
      return;
    } catch (err) {
      if (!(err instanceof Stall) || attempt >= attempts) throw err;
    }
  }
}

/**
 * Runs `block`, whose assertions hold only if it ends within `budgetMs` of `since` (say, a
 * session must still be alive because its expiry was slid at `since` or later). If the
 * block fails after the budget ran out, no conclusion is possible: it throws a Stall
 * instead. A failure within the budget is a real failure.
 */
export async function within<T>(
  since: number,
  budgetMs: number,
  what: string,
  block: () => Promise<T>,
): Promise<T> {
  try {
    return await block();
  } catch (err) {
    const spent = Date.now() - since;
    if (spent > budgetMs) {
      throw new Stall(`${what}: took ${spent} ms, more than the ${budgetMs} ms the claim allows`);
    }
    throw err;
  }
}
