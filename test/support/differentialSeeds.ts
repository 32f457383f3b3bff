// How every differential test file picks its seeds and runs them, so the storages that need
// no redis-server (memory, file: the fast tier) and the Redis ones are run the same way.
import { test } from "node:test";
import { type DifferentialTarget, runDifferential } from "../../src/testing/differentialTest.js";
import { retryOnStall } from "../../src/testing/timing.js";

const STEPS = 150;

/**
 * Three consecutive seeds from the clock, so every run covers both lifetime settings (see
 * runDifferential), or the one SESSIOND_DIFF_SEED names. Each run prints its seeds.
 */
function seeds(): number[] {
  const pinned = process.env.SESSIOND_DIFF_SEED;
  const first = pinned === undefined ? Date.now() % 2 ** 31 : Number(pinned);
  if (!Number.isSafeInteger(first)) {
    throw new Error(`SESSIOND_DIFF_SEED must be an integer, got ${pinned}`);
  }
  return pinned === undefined ? [first, first + 1, first + 2] : [first];
}

/** One test per seed: every target agrees with the spec step by step. */
export function differentialTests(what: string, targets: () => DifferentialTarget[]): void {
  for (const seed of seeds()) {
    test(`${what} agree with the spec over ${STEPS} random steps (seed ${seed})`, async (t) => {
      t.diagnostic(`seed ${seed} (replay with SESSIOND_DIFF_SEED=${seed})`);
      await retryOnStall(async () => {
        const report = await runDifferential(targets(), { seed, steps: STEPS });
        t.diagnostic(JSON.stringify(report.counts));
      });
    });
  }
}
