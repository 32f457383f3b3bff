import { sessionClient } from "../../test/support/serverClients.js";
import { FuzzTarget, type StorageKind } from "./FuzzTarget.js";
import { genCase, genSetup } from "./generateCase.js";
import { H2Connection } from "./h2Call.js";
import { Probe } from "./Probe.js";
import { PROPERTY, type Violation } from "./properties.js";
import { Rng } from "./Rng.js";
import { runCase } from "./runCase.js";

export interface FuzzOptions {
  seed: number;
  /** Cases per storage. */
  count: number;
  /** Stop starting new cases after this long (the cases run are reported). */
  budgetMs?: number;
  /** Run only this case (a reproduction). */
  onlyCase?: number;
  /** Stop after this many failing cases per storage. */
  maxFailures?: number;
  log?: (line: string) => void;
  /** Log every case with its answer. */
  trace?: boolean;
  /** Run only the cases that call these RPCs (the others are generated and skipped). */
  rpcs?: readonly string[];
}

export interface Failure {
  storage: StorageKind;
  seed: number;
  caseIndex: number;
  summary: string;
  violations: Violation[];
  repro: string;
}

export interface StorageReport {
  storage: StorageKind;
  cases: number;
  elapsedMs: number;
  failures: Failure[];
  /** How many calls were answered with each status (or outcome). */
  answers: Record<string, number>;
}

export function reproCommand(seed: number, caseIndex: number, storage: StorageKind): string {
  return `npm run fuzz -- --seed ${seed} --only-case ${caseIndex} --storage ${storage}`;
}

export function formatFailure(f: Failure): string {
  const lines = [
    `FUZZ FAILURE seed=${f.seed} case=${f.caseIndex} storage=${f.storage}: ${f.summary}`,
    ...f.violations.map((v) => `  [${v.property}] ${v.detail}`),
    `  reproduce: ${f.repro}`,
  ];
  return lines.join("\n");
}

/**
 * Runs cases 0..count-1 of `seed` (or only `onlyCase`) against a sessiond child process
 * on `storage`. Each case builds its own control session, so a case is reproducible alone.
 * After each case: the process still runs, the status is allowed, the control session is
 * unchanged unless the request was accepted (then it changed exactly as asked), and no
 * file appeared outside the storage directory. A crashed server is restarted so that one
 * run reports every kind of failure it meets, up to maxFailures.
 */
export async function fuzzStorage(
  storage: StorageKind,
  options: FuzzOptions,
): Promise<StorageReport> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const target = await FuzzTarget.start(storage);
  let conn = new H2Connection(target.address);
  let client = sessionClient(target.address);
  let probe = new Probe(client, conn);
  const failures: Failure[] = [];
  const answers: Record<string, number> = {};
  let cases = 0;
  const indexes =
    options.onlyCase === undefined
      ? Array.from({ length: options.count }, (_, i) => i)
      : [options.onlyCase];
  try {
    for (const index of indexes) {
      if (options.budgetMs !== undefined && Date.now() - started > options.budgetMs) {
        log(`${storage}: time budget of ${options.budgetMs} ms reached after ${cases} cases`);
        break;
      }
      if (options.rpcs && !options.rpcs.includes(rpcOf(options.seed, index))) continue;
      const rng = Rng.forCase(options.seed, index);
      const setup = genSetup(rng);
      let summary = `setup ${setup.label}`;
      const violations: Violation[] = [];
      let wellFormedCallFailed = false;
      try {
        const control = await probe.create(setup);
        const c = genCase(rng, control);
        summary = `${c.summary} (control: ${setup.label}, v${control.version})`;
        const result = await runCase({ conn, probe, port: target.server.port, control }, c);
        answers[result.answer] = (answers[result.answer] ?? 0) + 1;
        if (options.trace) log(`case ${index}: ${result.answer} ← ${summary}`);
        violations.push(...result.violations);
      } catch (err) {
        wellFormedCallFailed = true;
        violations.push({
          property: target.exit() ? PROPERTY.alive : PROPERTY.status,
          detail: `a well-formed call around the case failed: ${(err as Error).message.slice(0, 300)}`,
        });
      }
      cases++;
      const exit = target.exit() ?? (await exitWithin(target, wellFormedCallFailed ? 2000 : 1));
      if (exit) {
        await target.server.exited; // its last stderr lines (the crash) are read by then
        violations.unshift({
          property: PROPERTY.alive,
          detail: `the server exited (code ${exit.code}, signal ${exit.signal}); last stderr:\n    ${target.lastLines().join("\n    ")}`,
        });
      }
      const stray = target.strayFiles();
      if (stray.length > 0) {
        violations.push({
          property: PROPERTY.files,
          detail: `stray entries: ${stray.slice(0, 5).join(", ")}`,
        });
      }
      if (violations.length > 0) {
        const failure: Failure = {
          storage,
          seed: options.seed,
          caseIndex: index,
          summary,
          violations,
          repro: reproCommand(options.seed, index, storage),
        };
        failures.push(failure);
        log(formatFailure(failure));
        if (failures.length >= (options.maxFailures ?? 5)) break;
      }
      if (exit) {
        conn.close();
        client.close();
        await target.restart();
        conn = new H2Connection(target.address);
        client = sessionClient(target.address);
        probe = new Probe(client, conn);
      }
    }
  } finally {
    conn.close();
    client.close();
    const exit = await target.stop();
    if (exit.code !== 0) {
      failures.push({
        storage,
        seed: options.seed,
        caseIndex: -1,
        summary: "SIGTERM after the run",
        violations: [
          {
            property: PROPERTY.alive,
            detail: `the server did not exit 0 on SIGTERM: ${JSON.stringify(exit)}`,
          },
        ],
        repro: reproCommand(options.seed, 0, storage).replace(
          / --only-case \d+/,
          ` --count ${indexes.length}`,
        ),
      });
    }
  }
  return { storage, cases, elapsedMs: Date.now() - started, failures, answers };
}

/**
 * The RPC case `index` calls, found without a server: a case's shape depends on the
 * control session's data and version, which its setup fixes, not on the id the server picks.
 */
function rpcOf(seed: number, index: number): string {
  const rng = Rng.forCase(seed, index);
  const setup = genSetup(rng);
  const c = genCase(rng, { id: "0".repeat(32), data: setup.data, version: 1 + setup.bumps });
  return c.kind === "call" ? c.rpc : c.kind;
}

/** A crash is often a moment behind the response that caused it. */
async function exitWithin(target: FuzzTarget, ms: number) {
  const deadline = Date.now() + ms;
  do {
    await new Promise((resolve) => setTimeout(resolve, 1));
    const exit = target.exit();
    if (exit) return exit;
  } while (Date.now() < deadline);
  return undefined;
}

export function formatReport(r: StorageReport): string {
  const answers = Object.entries(r.answers)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return `${r.storage}: ${r.cases} cases in ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.failures.length} failing; answers: ${answers}`;
}
