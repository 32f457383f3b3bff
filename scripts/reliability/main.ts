// `npm run reliability [-- --storage memory,file|none] [-- --seconds N] [-- --no-write]
//   [-- --failover cluster-failover,replica-lag,sentinel-failover,reshard,sigstop|none] ...`
//
// Load, faults and bad inputs against sessiond on each storage, then a check that every
// acknowledged write is still there; then the Redis fail-over runs (./failover/). One table
// per storage and per fail-over scenario on stdout and in docs/reliability/latest.md; a
// run of everything also rewrites the README's section. Exits 1 when a write was lost,
// sessiond crashed, or a fail-over check that must be 0 was not.

import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { requireTool } from "../../test/support/systemTools.js";
import { docWithMarker } from "../docWithMarker.js";
import { failoverFailures, failoverMarkdown, failoverSummary } from "./failover/failoverReport.js";
import { type FailoverResult, runFailover } from "./failover/runFailover.js";
import {
  type RedisStorageKind,
  SCENARIO_GROUPS,
  type ScenarioGroup,
  scenarios,
} from "./failover/scenarios.js";
import { README_START, withReliabilitySection } from "./readmeSection.js";
import { failures, type StorageResult, storageMarkdown } from "./report.js";
import { runStorage, type StorageKind } from "./runStorage.js";

const ALL: readonly StorageKind[] = ["memory", "file", "redis", "redis-hash"];
const DEFAULT_SECONDS = 40;

const { values: flags } = parseArgs({
  options: {
    storage: { type: "string" },
    seconds: { type: "string" },
    writers: { type: "string" },
    "no-write": { type: "boolean", default: false },
    failover: { type: "string" },
    "failover-storage": { type: "string" },
    "failover-writers": { type: "string" },
    "failover-instances": { type: "string" },
    "failover-before": { type: "string" },
    "failover-after": { type: "string" },
    "failover-deadline-ms": { type: "string" },
    "redis-wait-timeout": { type: "string" },
  },
});

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function storages(): StorageKind[] {
  if (flags.storage === undefined) return [...ALL];
  if (flags.storage === "none") return [];
  const names = flags.storage.split(",").map((s) => s.trim());
  for (const name of names) {
    if (!ALL.includes(name as StorageKind)) {
      throw new Error(`--storage: unknown storage "${name}" (expected ${ALL.join(", ")})`);
    }
  }
  return names as StorageKind[];
}

function list<T extends string>(name: string, raw: string | undefined, all: readonly T[]): T[] {
  if (raw === undefined) return [...all];
  if (raw === "none") return [];
  const names = raw.split(",").map((x) => x.trim());
  for (const x of names) {
    if (!all.includes(x as T)) {
      throw new Error(`--${name}: unknown "${x}" (expected ${all.join(", ")} or none)`);
    }
  }
  return names as T[];
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name}: expected a whole number ≥ 1, got "${raw}"`);
  return value;
}

function requireRedis(): void {
  requireTool("redis-server", "redis-server");
}

async function main(): Promise<number> {
  const kinds = storages();
  const seconds = positive("seconds", flags.seconds, DEFAULT_SECONDS);
  const writers = positive("writers", flags.writers, 12);
  const groups = list<ScenarioGroup>("failover", flags.failover, SCENARIO_GROUPS);
  const failoverStorages = list<RedisStorageKind>("failover-storage", flags["failover-storage"], [
    "redis",
    "redis-hash",
  ]);
  const failover = {
    instances: positive("failover-instances", flags["failover-instances"], 3),
    writers: positive("failover-writers", flags["failover-writers"], 40),
    sessionsPerWriter: 2,
    beforeMs: positive("failover-before", flags["failover-before"], 4) * 1000,
    afterMs: positive("failover-after", flags["failover-after"], 3) * 1000,
    settleMs: 2000,
    deadlineMs: positive("failover-deadline-ms", flags["failover-deadline-ms"], 3000),
    lagMs: 2000,
    pauseMs: 2000,
    log,
  };
  const planned = scenarios(failoverStorages.length > 0 ? groups : [], {
    storages: failoverStorages,
    waitTimeout: flags["redis-wait-timeout"] ?? "500ms",
  });
  if (kinds.some((k) => k.startsWith("redis")) || planned.length > 0) requireRedis();
  const started = Date.now();
  const results: StorageResult[] = [];
  for (const storage of kinds) {
    log(`${storage}: ${seconds} s of load with faults and bad inputs`);
    results.push(await runStorage({ storage, seconds, writers, sessionsPerWriter: 4, log }));
    process.stdout.write(`\n${storageMarkdown(results.at(-1) as StorageResult)}\n`);
  }
  const failovers: FailoverResult[] = [];
  for (const scenario of planned) {
    log(`fail-over: ${scenario.title} (${scenario.storages.join(", ")})`);
    const r = await runFailover(scenario, failover);
    if (r.error) log(`  could not run: ${r.error}`);
    failovers.push(r);
    process.stdout.write(`\n${failoverMarkdown(r)}\n`);
  }
  const elapsed = Math.round((Date.now() - started) / 1000);
  const failed = [...failures(results), ...failoverFailures(failovers)];
  const failoverSection =
    failovers.length === 0
      ? []
      : [
          `### Fail-over runs\n\n${failover.instances} sessiond instances per storage, ${failover.writers} writers per storage, ${failover.beforeMs / 1000} s of load before the fault and ${failover.afterMs / 1000} s after the set-up recovered, call deadline ${failover.deadlineMs} ms.`,
          failoverSummary(failovers),
          ...failovers.map(failoverMarkdown),
        ];
  const markdown = [
    `npm run reliability: ${new Date().toISOString()}, node ${process.version}, ${seconds} s of load per storage, run took ${elapsed} s.`,
    ...results.map(storageMarkdown),
    ...failoverSection,
    failed.length === 0
      ? "Result: no acknowledged write lost, no crash, every fail-over check held."
      : `Result: FAILED: ${failed.join("; ")}.`,
  ].join("\n\n");
  if (!flags["no-write"]) {
    mkdirSync("docs/reliability", { recursive: true });
    writeFileSync(
      "docs/reliability/latest.md",
      `<!-- generated by npm run reliability; do not edit -->\n\n${markdown}\n`,
    );
    log("wrote docs/reliability/latest.md");
    if (flags.storage === undefined && flags.failover === undefined) {
      const doc = docWithMarker(README_START);
      writeFileSync(doc.path, withReliabilitySection(doc.text, markdown));
      log(`updated the Reliability section of ${doc.path}`);
    }
  }
  if (failed.length > 0) {
    log(`\nreliability FAILED:\n${failed.map((f) => `- ${f}`).join("\n")}`);
    return 1;
  }
  log(
    `\nreliability passed in ${elapsed} s: no acknowledged write lost, no crash, fail-over checks held`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`reliability: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
