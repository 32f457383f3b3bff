// `npm run bench [-- --quick] [-- --only=memory,redis-hash] [-- --ops=Get,Set]`
//
// Starts a no-op grpc-js server (the transport limit), sessiond on each storage and an
// express-session peer, each pinned to CPU 0, loads them with h2load pinned to CPU 1, and
// reports every row as paired ratios to the no-op measured in the same run.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { newSessionId } from "../../src/core/session/ids.js";
import { docWithMarker } from "../docWithMarker.js";
import { type ChildServer, startPinned } from "./childServer.js";
import { call, connect } from "./grpcClient.js";
import { encodeGrpcFrame } from "./grpcFrame.js";
import { assertH2loadInstalled, type LoadSpec, type RoundResult } from "./h2load.js";
import { OPERATIONS, type OpName } from "./operations.js";
import { type LoadTarget, measurePaired, type PairedResult } from "./pairedRounds.js";
import type { SampleSession, Shape } from "./population.js";
import { startRedis } from "./redisServer.js";
import { fmtN, markdownTable, type Row, textTable } from "./report.js";
import { assertStartScriptFlags, SERVER_NODE_FLAGS } from "./serverFlags.js";
import { median, percentileSorted } from "./stats.js";
import { svgChart } from "./svgChart.js";
import { evaluateTargets, targetsMarkdown, targetsText } from "./targets.js";

const SERVER_CPU = 0;
const LOAD_CPU = 1;
/** h2load processes per round, each with its own session id: ids rotate across them. */
const ID_ROTATION = 4;
const GRPC_LOAD = { clients: 2, streams: 8 };
const HTTP1_LOAD = { clients: 8, streams: 1 };

type Storage = "memory" | "file" | "redis" | "redis-hash";
/** redis-hash whose writes wait for one replica (WAIT), against the bench Redis' replica. */
const WAITING = "redis-hash wait-replicas 1";
type Breakdown =
  | "no-op+passthrough interceptor"
  | "no-op+session interceptor"
  | "raw ioredis HMGET+PEXPIRE"
  | "redis-hash storage.readKey alone";
type ServerKind = Storage | typeof WAITING | "express-session" | Breakdown;
const BREAKDOWN: Record<Breakdown, string> = {
  "no-op+passthrough interceptor": "passthrough",
  "no-op+session interceptor": "session",
  "raw ioredis HMGET+PEXPIRE": "",
  "redis-hash storage.readKey alone": "",
};

interface RowPlan {
  op: OpName;
  shape: Shape;
}
interface ServerPlan {
  server: ServerKind;
  sessions: number;
  rows: RowPlan[];
}

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    ops: { type: "string" },
    pairs: { type: "string" },
    round: { type: "string" },
    "cpu-prof": { type: "string" },
    "no-write": { type: "boolean", default: false },
    breakdown: { type: "boolean", default: false },
  },
});
const quick = flags.quick === true;
const pairs = Number(flags.pairs ?? (quick ? 3 : 7));
const roundSeconds = Number(flags.round ?? (quick ? 0.6 : 0.8));
const bigN = quick ? 100_000 : 1_000_000;

function plan(): ServerPlan[] {
  const all = (ops: OpName[], shapes: Shape[]) =>
    ops.flatMap((op) => shapes.map((shape) => ({ op, shape })));
  const full: RowPlan[] = [
    ...all(["Get", "GetData", "Set"], ["small", "large"]),
    { op: "Increment", shape: "small" },
  ];
  const plans: ServerPlan[] = quick
    ? [
        { server: "memory", sessions: 1000, rows: all(["Get", "Set", "GetData"], ["small"]) },
        { server: "file", sessions: 1000, rows: all(["Get", "Set"], ["small"]) },
        { server: "redis", sessions: 1000, rows: all(["Get", "Set"], ["small"]) },
        {
          server: "redis-hash",
          sessions: 1000,
          rows: [...all(["Get"], ["small", "large"]), { op: "Set", shape: "small" }],
        },
        { server: WAITING, sessions: 1000, rows: all(["Set"], ["small"]) },
        { server: "express-session", sessions: 1000, rows: all(["Get"], ["small"]) },
        { server: "memory", sessions: bigN, rows: all(["Get"], ["small"]) },
        { server: "redis-hash", sessions: bigN, rows: all(["Get"], ["small"]) },
      ]
    : [
        { server: "memory", sessions: 1000, rows: full },
        { server: "file", sessions: 1000, rows: full },
        { server: "redis", sessions: 1000, rows: full },
        { server: "redis-hash", sessions: 1000, rows: full },
        { server: WAITING, sessions: 1000, rows: all(["Set"], ["small"]) },
        { server: "express-session", sessions: 1000, rows: all(["Get"], ["small"]) },
        { server: "memory", sessions: bigN, rows: all(["Get", "Set"], ["small"]) },
        { server: "redis-hash", sessions: bigN, rows: all(["Get", "Set"], ["small"]) },
      ];
  if (flags.breakdown) {
    plans.unshift(
      { server: "no-op+passthrough interceptor", sessions: 0, rows: all(["Get"], ["small"]) },
      { server: "no-op+session interceptor", sessions: 0, rows: all(["Get"], ["small"]) },
      { server: "raw ioredis HMGET+PEXPIRE", sessions: 0, rows: all(["Get"], ["small"]) },
      { server: "redis-hash storage.readKey alone", sessions: 0, rows: all(["Get"], ["small"]) },
    );
  }
  const only = flags.only?.split(",");
  const ops = flags.ops?.split(",");
  return plans
    .filter((p) => !only || only.includes(p.server))
    .map((p) => ({ ...p, rows: p.rows.filter((r) => !ops || ops.includes(r.op)) }))
    .filter((p) => p.rows.length > 0);
}

function requireBinaries(): void {
  assertH2loadInstalled();
  for (const [bin, pkg] of [
    ["taskset", "util-linux"],
    ["redis-server", "redis-server"],
    ["redis-cli", "redis-tools"],
  ]) {
    try {
      execFileSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" });
    } catch {
      throw new Error(`${bin} not found: install ${pkg}`);
    }
  }
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

interface SessiondInfo {
  port: number;
  pid: number;
  samples: SampleSession[];
  heap?: { before: number; after: number; payloadBytes: number; sessions: number };
  populateMs: number;
}
interface PeerInfo {
  port: number;
  pid: number;
  samples: { cookie: string; expected: string }[];
}

async function main(): Promise<void> {
  requireBinaries();
  assertStartScriptFlags();
  // The orchestrator shares the load generator's core: core 0 belongs to the server alone.
  execFileSync("taskset", ["-pc", String(LOAD_CPU), String(process.pid)], { stdio: "ignore" });
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "sessiond-bench-"));
  const children: ChildServer<unknown>[] = [];
  const redis = await startRedis(LOAD_CPU);
  const replica = await startRedis(LOAD_CPU, redis.port);
  try {
    const frames = new Map<string, string>();
    const frameFile = (op: OpName, shape: Shape) => {
      const name = `${op}-${shape}`;
      let file = frames.get(name);
      if (!file) {
        file = join(work, `${name}.bin`);
        writeFileSync(file, encodeGrpcFrame(OPERATIONS[op].encode(shape)));
        frames.set(name, file);
      }
      return file;
    };
    const grpcSpec = (
      port: number,
      op: OpName,
      shape: Shape,
      ids: readonly string[],
    ): LoadSpec => ({
      url: `http://127.0.0.1:${port}${OPERATIONS[op].path}`,
      headerSets: ids.map((id) => [
        "content-type: application/grpc",
        "te: trailers",
        `x-session-id: ${id}`,
      ]),
      dataFile: frameFile(op, shape),
      ...GRPC_LOAD,
    });

    const noopArgs = [...SERVER_NODE_FLAGS, "--import", "tsx", "scripts/bench/noopServer.ts"];
    if (flags["cpu-prof"]) {
      const dir = join(flags["cpu-prof"], "no-op");
      mkdirSync(dir, { recursive: true });
      noopArgs.unshift("--cpu-prof", `--cpu-prof-dir=${dir}`);
    }
    const noop = await startPinned<{ port: number }>("no-op server", SERVER_CPU, "node", noopArgs);
    children.push(noop);
    const noopClient = connect(noop.info.port);
    const noopIds = Array.from({ length: ID_ROTATION }, () => newSessionId());
    const baselines = new Map<string, LoadTarget>();
    const baselineRounds = new Map<string, PairedResult["baseline"]>();
    const baseline = async (op: OpName, shape: Shape) => {
      const key = `${op}-${shape}`;
      let target = baselines.get(key);
      if (!target) {
        await call(noopClient, OPERATIONS[op].method, OPERATIONS[op].request(shape), noopIds[0]);
        target = { pid: noop.pid, spec: grpcSpec(noop.info.port, op, shape, noopIds), rps: 5000 };
        baselines.set(key, target);
        baselineRounds.set(key, []);
      }
      return target;
    };

    const rows: Row[] = [];
    const memoryNotes: string[] = [];
    const overheads = new Map<number, number>();
    const options = {
      pairs,
      roundSeconds,
      loadCpu: LOAD_CPU,
    };
    for (const p of plan()) {
      const label = `${p.server} with ${fmtN(p.sessions)} live sessions`;
      log(`[${((Date.now() - started) / 1000).toFixed(0)}s] starting ${label}`);
      if (p.server in BREAKDOWN) {
        const variant = await startPinned<{ port: number }>(
          p.server,
          SERVER_CPU,
          "node",
          [...SERVER_NODE_FLAGS, "--import", "tsx", "scripts/bench/noopServer.ts"],
          {
            env: {
              BENCH_INTERCEPTOR: BREAKDOWN[p.server as Breakdown],
              BENCH_RAW_REDIS: p.server.startsWith("raw ioredis") ? redis.url : undefined,
              BENCH_STORAGE_REDIS: p.server.endsWith("readKey alone") ? redis.url : undefined,
            },
          },
        );
        children.push(variant);
        for (const r of p.rows) {
          const target: LoadTarget = {
            pid: variant.pid,
            spec: grpcSpec(variant.info.port, r.op, r.shape, noopIds),
            rps: 5000,
          };
          const result = await measurePaired(await baseline(r.op, r.shape), target, options);
          baselineRounds.get(`${r.op}-${r.shape}`)?.push(...result.baseline);
          rows.push(rowOf(p.server, r.op, r.shape, p.sessions, result, "constant answer"));
          log(`  ${textRowSummary(rows.at(-1) as Row)}`);
        }
        await variant.stop();
        continue;
      }
      if (p.server === "express-session") {
        const peer = await startPinned<PeerInfo>(
          "express-session peer",
          SERVER_CPU,
          "node",
          [...SERVER_NODE_FLAGS, "--import", "tsx", "scripts/bench/peerServer.ts"],
          {
            env: {
              BENCH_REDIS_URL: redis.url,
              BENCH_SESSIONS: String(p.sessions),
              NODE_ENV: "production",
            },
            readyTimeoutMs: 600_000,
          },
        );
        children.push(peer);
        const samples = peer.info.samples.slice(0, ID_ROTATION);
        for (const s of samples) {
          const res = await fetch(`http://127.0.0.1:${peer.info.port}/`, {
            headers: { cookie: s.cookie },
          });
          const body = await res.text();
          if (res.status !== 200 || body !== s.expected) {
            throw new Error(`express-session peer answered ${res.status} ${JSON.stringify(body)}`);
          }
        }
        const target: LoadTarget = {
          pid: peer.pid,
          spec: {
            url: `http://127.0.0.1:${peer.info.port}/`,
            headerSets: samples.map((s) => [`cookie: ${s.cookie}`]),
            http1: true,
            ...HTTP1_LOAD,
          },
          rps: 2000,
          verify: exactBytes(samples.map((s) => Buffer.byteLength(s.expected))),
        };
        const base = await baseline("Get", "small");
        const result = await measurePaired(base, target, options);
        baselineRounds.get("Get-small")?.push(...result.baseline);
        rows.push(rowOf("express-session", "Get", "small", p.sessions, result, "HTTP/1.1, cookie"));
        log(`  ${textRowSummary(rows.at(-1) as Row)}`);
        await peer.stop();
        redis.flushAll();
        continue;
      }

      const fileDir = join(work, `files-${p.sessions}`);
      mkdirSync(fileDir, { recursive: true });
      const nodeArgs = [...SERVER_NODE_FLAGS, "--expose-gc", "--max-old-space-size=8192"];
      let profile: string | undefined;
      if (flags["cpu-prof"]) {
        mkdirSync(flags["cpu-prof"], { recursive: true });
        profile = resolve(flags["cpu-prof"], `${p.server}-${p.sessions}.cpuprofile`);
      }
      const server = await startPinned<SessiondInfo>(
        `sessiond (${p.server})`,
        SERVER_CPU,
        "node",
        [...nodeArgs, "--import", "tsx", "scripts/bench/sessiondServer.ts"],
        {
          env: {
            BENCH_STORAGE: p.server === WAITING ? "redis-hash" : p.server,
            BENCH_REDIS_WAIT_REPLICAS: p.server === WAITING ? "1" : undefined,
            BENCH_SESSIONS: String(p.sessions),
            BENCH_REDIS_URL: redis.url,
            BENCH_FILE_DIR: fileDir,
            BENCH_CPU_PROF: profile,
          },
          readyTimeoutMs: 600_000,
        },
      );
      children.push(server);
      log(
        `  populated ${fmtN(p.sessions)} sessions in ${(server.info.populateMs / 1000).toFixed(1)}s`,
      );
      if (server.info.heap) {
        const { before, after, payloadBytes, sessions } = server.info.heap;
        const perSession = (after - before) / sessions;
        const payload = payloadBytes / sessions;
        const overhead = perSession - payload;
        overheads.set(sessions, overhead);
        memoryNotes.push(
          `memory storage, ${fmtN(sessions)} live sessions: ${perSession.toFixed(0)} B of heap per session after a forced GC, of which payload ${payload.toFixed(0)} B: overhead ${overhead.toFixed(0)} B per session`,
        );
      }
      const client = connect(server.info.port);
      for (const r of p.rows) {
        const op = OPERATIONS[r.op];
        const ofShape = server.info.samples.filter((s) => s.shape === r.shape);
        const half = ofShape.length >> 1;
        const samples = (op.role === "read" ? ofShape.slice(0, half) : ofShape.slice(half)).slice(
          0,
          ID_ROTATION,
        );
        const expectedBytes: number[] = [];
        for (const s of samples) {
          const bytes = await op.check(client, s);
          if (bytes !== undefined) expectedBytes.push(bytes);
        }
        const versionsBefore = await Promise.all(samples.map((s) => versionOf(client, s.id)));
        const target: LoadTarget = {
          pid: server.pid,
          spec: grpcSpec(
            server.info.port,
            r.op,
            r.shape,
            samples.map((s) => s.id),
          ),
          rps: 3000,
          verify: op.role === "read" ? exactBytes(expectedBytes) : undefined,
        };
        const base = await baseline(r.op, r.shape);
        const result = await measurePaired(base, target, options);
        baselineRounds.get(`${r.op}-${r.shape}`)?.push(...result.baseline);
        if (op.role === "write") {
          // Every HTTP 200 h2load counted must be one applied write: versions tell.
          const versionsAfter = await Promise.all(samples.map((s) => versionOf(client, s.id)));
          for (let i = 0; i < samples.length; i++) {
            const applied = versionsAfter[i] - versionsBefore[i];
            if (applied !== result.perSet[i]) {
              throw new Error(
                `${p.server} ${r.op}: h2load counted ${result.perSet[i]} successes on one session but its version moved by ${applied}`,
              );
            }
          }
        }
        const note = p.sessions > 1000 ? `${ID_ROTATION} ids rotated of ${fmtN(p.sessions)}` : "";
        rows.push(rowOf(p.server, r.op, r.shape, p.sessions, result, note));
        log(`  ${textRowSummary(rows.at(-1) as Row)}`);
      }
      client.close();
      await server.stop();
      if (p.server === "redis" || p.server.startsWith("redis-hash")) redis.flushAll();
      rmSync(fileDir, { recursive: true, force: true });
    }

    const baseRows: Row[] = [];
    for (const [key, rounds] of baselineRounds) {
      if (rounds.length === 0) continue;
      const [op, shape] = key.split("-");
      const lat = rounds.flatMap((r) => r.latenciesUs).sort((a, b) => a - b);
      baseRows.push({
        server: "no-op",
        op,
        shape,
        sessions: "-",
        rps: median(rounds.map((r) => r.rps)),
        p50Ms: percentileSorted(lat, 50) / 1000,
        p99Ms: percentileSorted(lat, 99) / 1000,
      });
    }
    const all = [...baseRows, ...rows];
    const header = [
      `sessiond bench${quick ? " (--quick)" : ""}: ${new Date().toISOString()}, node ${process.version}, servers pinned to CPU ${SERVER_CPU}, h2load to CPU ${LOAD_CPU}.`,
      `Ratios: median over ${pairs} paired rounds of ${roundSeconds}s (no-op, candidate alternating) of the per-pair throughput ratio and of no-op CPU per call / candidate CPU per call (utime+stime of the server process).`,
      `Each round: ${ID_ROTATION} h2load processes, each with its own session id (-c ${GRPC_LOAD.clients} -m ${GRPC_LOAD.streams} for gRPC, -c ${HTTP1_LOAD.clients} for HTTP/1.1); sessions: small = 5 keys (~200 B), large = 200 keys (~40 KB); reads and writes use different sessions.`,
    ].join("\n");
    const elapsed = `Run took ${((Date.now() - started) / 1000).toFixed(0)} s.`;
    const targets = evaluateTargets(all, overheads, bigN);
    process.stdout.write(
      `\n${header}\n\n${textTable(all)}\n\n${memoryNotes.join("\n")}\n${elapsed}\n\nTargets (performance issue; ratios are RPS ratios from this run):\n${targetsText(targets)}\n`,
    );
    if (!flags["no-write"]) {
      const markdown = [
        header.replaceAll("\n", "\n\n"),
        markdownTable(all),
        memoryNotes.map((n) => `- ${n}`).join("\n"),
        elapsed,
        `Targets (ratios are RPS ratios from this run; the CPU-per-call ratio is beside them):\n\n${targetsMarkdown(targets)}`,
      ].join("\n\n");
      mkdirSync("docs/bench", { recursive: true });
      writeFileSync(
        "docs/bench/latest.md",
        `<!-- generated by npm run bench${quick ? " -- --quick" : ""}; do not edit -->\n\n${markdown}\n\n![RPS per storage and operation](latest.svg)\n`,
      );
      writeFileSync(
        "docs/bench/latest.svg",
        svgChart(
          all,
          `sessiond: requests/s, one server core (${new Date().toISOString().slice(0, 10)})`,
        ),
      );
      log("wrote docs/bench/latest.md and docs/bench/latest.svg");
      // Only a full run of every row speaks for the project in the README.
      if (!quick && !flags.only && !flags.ops && !flags.breakdown) {
        writeReadmeSection(markdown);
        log("updated the README's Performance table");
      }
    }
  } finally {
    for (const c of children.reverse()) await c.stop();
    await replica.stop();
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const README_START = "<!-- bench:start (written by npm run bench; do not edit by hand) -->";
const README_END = "<!-- bench:end -->";

/** Replaces what stands between the bench markers (in the README or a guide) with this run's results. */
function writeReadmeSection(markdown: string): void {
  const doc = docWithMarker(README_START);
  const start = doc.text.indexOf(README_START);
  const end = doc.text.indexOf(README_END);
  if (end < start) throw new Error(`${doc.path} lacks the marker ${README_END}`);
  // The chart's path as seen from the document that shows it.
  const chart = relative(dirname(doc.path), "docs/bench/latest.svg");
  const section = `${README_START}\n\n${markdown}\n\n![RPS per storage and operation](${chart})\n\n`;
  writeFileSync(doc.path, doc.text.slice(0, start) + section + doc.text.slice(end));
}

function exactBytes(expected: readonly number[]) {
  return (round: RoundResult) => {
    round.perSetDataBytes.forEach((bytes, i) => {
      const want = round.perSet[i] * expected[i];
      if (bytes !== want) {
        throw new Error(
          `responses carried ${bytes} body bytes, expected ${want} (${round.perSet[i]} x ${expected[i]}): some calls did not answer as the sample did (a gRPC error in the trailers?)`,
        );
      }
    });
  };
}

async function versionOf(client: ReturnType<typeof connect>, id: string): Promise<number> {
  const res = await call<{ version: bigint }>(client, "describe", {}, id);
  return Number(res.version);
}

function rowOf(
  server: string,
  op: string,
  shape: string,
  sessions: number,
  r: PairedResult,
  note: string,
): Row {
  return {
    server,
    op,
    shape,
    sessions: fmtN(sessions),
    rps: r.rps,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    rpsRatio: r.rpsRatio,
    cpuRatio: r.cpuRatio,
    note,
  };
}

function textRowSummary(r: Row): string {
  return `${r.server} ${r.op} ${r.shape}: ${Math.round(r.rps)} rps, p50 ${r.p50Ms.toFixed(2)} ms, x no-op ${r.rpsRatio?.toFixed(2)} (RPS) ${r.cpuRatio?.toFixed(2)} (CPU)`;
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
  },
);
