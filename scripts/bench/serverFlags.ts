import { readFileSync } from "node:fs";

/**
 * Node flags every bench server runs with: the ones `npm start` gives sessiond, so the
 * bench measures what users run, and the same for the no-op and the peer, so no ratio owes
 * anything to a runtime setting only one side has.
 *
 * --max-semi-space-size=64: a larger young generation. Under load, fewer scavenges means
 * fewer short-lived call objects promoted to the old generation; with a million sessions
 * there, each scavenge (and each promotion into its large, fragmented space) costs several
 * times more than with a thousand (measured: 183 scavenges of ~4 ms vs 45 per 100 000 Gets).
 */
export const SERVER_NODE_FLAGS = ["--max-semi-space-size=64"];

/** Fails when `npm start` no longer runs sessiond with SERVER_NODE_FLAGS. */
export function assertStartScriptFlags(): void {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { scripts?: { start?: string } };
  const start = pkg.scripts?.start ?? "";
  const missing = SERVER_NODE_FLAGS.filter((flag) => !start.split(/\s+/).includes(flag));
  if (missing.length > 0) {
    throw new Error(
      `npm start does not use ${missing.join(" ")}: the bench would not measure what users run (update scripts/bench/serverFlags.ts or package.json)`,
    );
  }
}
