// `npm run bench:compare -- --base <rev> [--storages=memory,file,redis,redis-hash,redis-enc,redis-hash-enc] [--ops=Get,Set] [--pairs=7] [--round=0.8] [--client-cache=<bytes>]`
//
// Two commits of sessiond, both compiled (`tsc -p tsconfig.build.json`: the JavaScript users
// run, not a TypeScript loader), side by side on the same machine in the same run: for each
// storage and operation, rounds alternate between the base build and this checkout's build
// (ABBA, as the main bench pairs sessiond with the no-op), and each row reports the median
// of the per-pair ratios (this / base: above 1 this checkout is faster or cheaper) with their
// spread (lowest and highest pair). Servers are pinned to CPU 0, h2load to CPU 1.
// `--client-cache=<bytes>` turns the Redis client-side cache on for this checkout's side
// only: with `--base HEAD`, the cache on against off in one build.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type ChildServer, startPinned } from "./childServer.js";
import { connect } from "./grpcClient.js";
import { encodeGrpcFrame } from "./grpcFrame.js";
import { assertH2loadInstalled, type LoadSpec } from "./h2load.js";
import { OPERATIONS, type OpName } from "./operations.js";
import { type LoadTarget, measurePaired } from "./pairedRounds.js";
import { type SampleSession, sessionData } from "./population.js";
import { READY_PREFIX } from "./readyLine.js";
import { startRedis } from "./redisServer.js";
import { SERVER_NODE_FLAGS } from "./serverFlags.js";
import { median } from "./stats.js";

const SERVER_CPU = 0;
const LOAD_CPU = 1;
const STORAGES = ["memory", "file", "redis", "redis-hash", "redis-enc", "redis-hash-enc"];
/** Sessions each server holds; reads use the first half, writes the second. */
const SAMPLES = 8;
const ID_ROTATION = 4;

const { values: flags } = parseArgs({
  options: {
    base: { type: "string" },
    storages: { type: "string", default: "memory,file,redis-hash,redis-enc" },
    ops: { type: "string", default: "Get,Set" },
    pairs: { type: "string", default: "7" },
    round: { type: "string", default: "0.8" },
    "client-cache": { type: "string" },
  },
});
if (flags.base === undefined) {
  throw new Error("give the commit to compare with: npm run bench:compare -- --base <rev>");
}
const storages = (flags.storages as string).split(",");
for (const s of storages) {
  if (!STORAGES.includes(s)) throw new Error(`unknown storage ${s}; known: ${STORAGES}`);
}
const ops = (flags.ops as string).split(",") as OpName[];
for (const op of ops) if (!(op in OPERATIONS)) throw new Error(`unknown op ${op}`);
const pairs = Number(flags.pairs);
const roundSeconds = Number(flags.round);

/**
 * The server each build runs: its own compiled startServer with the storage asked for,
 * filled through its own Manager. Plain JavaScript: no loader between it and the build.
 */
const LAUNCHER = `
const { resolveConfig, startServer } = await import(process.env.BENCH_DIST + "/server/index.js");
const storage = process.env.BENCH_STORAGE;
const encrypted = storage.endsWith("-enc");
const server = await startServer(resolveConfig({
  host: "127.0.0.1", port: 0, logLevel: "error",
  storage: encrypted ? storage.slice(0, -4) : storage,
  fileDir: process.env.BENCH_FILE_DIR, redisUrl: process.env.BENCH_REDIS_URL,
  redisPrefix: process.env.BENCH_PREFIX,
  encryptionKeys: encrypted ? [Buffer.alloc(32, 7)] : undefined,
  redisClientCache: process.env.BENCH_CACHE,
}));
const samples = [];
for (const data of JSON.parse(process.env.BENCH_DATA)) {
  const session = server.manager.session();
  session.setMap(data);
  await session.commit();
  samples.push(session.id);
}
process.on("SIGTERM", () => server.shutdown().then(() => process.exit(0)));
process.stdout.write(${JSON.stringify(READY_PREFIX)} + JSON.stringify({ port: server.port, samples }) + "\\n");
`;

function build(checkout: string, out: string): void {
  execFileSync("node_modules/.bin/tsc", ["-p", "tsconfig.build.json", "--outDir", out], {
    cwd: checkout,
    stdio: "inherit",
  });
}

function grpcSpec(port: number, op: OpName, ids: readonly string[], dataFile: string): LoadSpec {
  return {
    url: `http://127.0.0.1:${port}${OPERATIONS[op].path}`,
    headerSets: ids.map((id) => [
      "content-type: application/grpc",
      "te: trailers",
      `x-session-id: ${id}`,
    ]),
    dataFile,
    clients: 2,
    streams: 8,
  };
}

/** min, median, max of `values`, as text. */
function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${median(sorted).toFixed(2)} (${sorted[0]?.toFixed(2)}–${sorted.at(-1)?.toFixed(2)})`;
}

assertH2loadInstalled();
const repo = resolve(".");
const work = mkdtempSync(join(tmpdir(), "sessiond-compare-"));
const baseCheckout = join(work, "base");
const children: ChildServer<{ port: number; samples: string[] }>[] = [];
let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
try {
  const rev = execFileSync("git", ["rev-parse", "--short", flags.base], {
    encoding: "utf8",
  }).trim();
  const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8" });
  execFileSync("git", ["worktree", "add", "--detach", baseCheckout, rev], { stdio: "ignore" });
  symlinkSync(join(repo, "node_modules"), join(baseCheckout, "node_modules"), "dir");
  process.stderr.write(`building ${rev} and this checkout (${head}${dirty ? "+changes" : ""})\n`);
  // Each build where its imports resolve and its .js files load as ES modules: beside a
  // node_modules and a package.json.
  const dists = { base: join(baseCheckout, "dist-compare"), this: join(work, "this", "dist") };
  mkdirSync(join(work, "this"));
  symlinkSync(join(repo, "node_modules"), join(work, "this", "node_modules"), "dir");
  copyFileSync(join(repo, "package.json"), join(work, "this", "package.json"));
  build(baseCheckout, dists.base);
  build(repo, dists.this);
  const launcher = join(work, "launch.mjs");
  writeFileSync(launcher, LAUNCHER);
  if (storages.some((s) => s.startsWith("redis"))) redis = await startRedis(LOAD_CPU);
  const data = Array.from({ length: SAMPLES }, (_, i) => sessionData(1000 + i, "small"));
  const frames = new Map<OpName, string>();
  for (const op of ops) {
    const file = join(work, `${op}.frame`);
    writeFileSync(file, encodeGrpcFrame(OPERATIONS[op].encode("small")));
    frames.set(op, file);
  }
  const lines: string[] = [];
  for (const storage of storages) {
    const start = (side: "base" | "this") =>
      startPinned<{ port: number; samples: string[] }>(
        `${side} (${storage})`,
        SERVER_CPU,
        "node",
        [...SERVER_NODE_FLAGS, launcher],
        {
          env: {
            BENCH_DIST: dists[side],
            BENCH_STORAGE: storage,
            BENCH_FILE_DIR: join(work, `files-${side}-${storage}`),
            BENCH_REDIS_URL: redis?.url,
            BENCH_PREFIX: `cmp-${side}:`,
            BENCH_DATA: JSON.stringify(data),
            BENCH_CACHE: side === "this" ? flags["client-cache"] : undefined,
          },
        },
      );
    const base = await start("base");
    const mine = await start("this");
    children.push(base, mine);
    for (const op of ops) {
      const targetOf = (server: typeof base): LoadTarget => {
        const ids =
          OPERATIONS[op].role === "read"
            ? server.info.samples.slice(0, ID_ROTATION)
            : server.info.samples.slice(SAMPLES - ID_ROTATION);
        return {
          pid: server.pid,
          spec: grpcSpec(server.info.port, op, ids, frames.get(op) as string),
          rps: 3000,
        };
      };
      // One real client call per side first: a wrong answer fails the run, h2load cannot see it.
      for (const server of [base, mine]) {
        const client = connect(server.info.port);
        const id = server.info.samples[0] as string;
        const sample: SampleSession = { id, index: 1000, shape: "small" };
        if (OPERATIONS[op].role === "read") await OPERATIONS[op].check(client, sample);
        client.close();
      }
      const result = await measurePaired(targetOf(base), targetOf(mine), {
        pairs,
        roundSeconds,
        loadCpu: LOAD_CPU,
        warmSeconds: 2,
      });
      const cpu = result.candidate.map(
        (c, i) => (result.baseline[i]?.cpuPerCall ?? 0) / c.cpuPerCall,
      );
      const rps = result.candidate.map((c, i) => c.rps / (result.baseline[i]?.rps ?? 1));
      const line = `| ${storage} | ${op} small | ${spread(cpu)} | ${spread(rps)} | ${Math.round(result.baselineRps)} | ${Math.round(result.rps)} |`;
      lines.push(line);
      process.stderr.write(`${line}\n`);
    }
    await base.stop();
    await mine.stop();
    redis?.flushAll();
  }
  process.stdout.write(
    [
      "",
      `this checkout (${head}${dirty ? "+changes" : ""}) against ${rev}, both compiled; node ${process.version}; ${pairs} ABBA pairs of ${roundSeconds} s rounds per row.`,
      "Ratios are this / base, median (lowest–highest pair); above 1: this checkout costs less CPU per call / answers more calls per second.",
      "",
      "| storage | operation | CPU per call ratio | throughput ratio | base calls/s | this calls/s |",
      "|---|---|---|---|---|---|",
      ...lines,
      "",
    ].join("\n"),
  );
} finally {
  for (const child of children) await child.stop().catch(() => {});
  await redis?.stop().catch(() => {});
  execFileSync("git", ["worktree", "remove", "--force", baseCheckout], { stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
}
