// `npm run bench [-- --quick] [-- --only=memory,redis-hash] [-- --ops=Get,Set]`
//
// Compiles src and the bench servers (scripts/bench/build.ts: users run JavaScript, not a
// TypeScript loader), starts a no-op grpc-js server (the transport limit), sessiond on each
// storage, the interceptor variants and an express-session peer, each pinned to CPU 0, warms
// them, loads them with h2load pinned to CPU 1, and reports every row as the median and
// spread of many short paired ratios to the no-op measured in the same run.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { newSessionId } from "../../src/core/session/ids.js";
import { docWithMarker } from "../docWithMarker.js";
import { buildServers } from "./build.js";
import { type ChildServer, startPinned } from "./childServer.js";
import { call, connect } from "./grpcClient.js";
import { encodeGrpcFrame } from "./grpcFrame.js";
import { assertH2loadInstalled, type LoadSpec, type RoundResult } from "./h2load.js";
import { OPERATIONS, type OpName } from "./operations.js";
import { type LoadTarget, measureInterleaved, type PairedResult, warmUp } from "./pairedRounds.js";
import type { SampleSession, Shape } from "./population.js";
import { startRedis } from "./redisServer.js";
import { fmtN, fmtRatio, markdownTable, type Row, textTable } from "./report.js";
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
/** The no-op server with something of sessiond's in front of its constant handlers. */
type Variant =
  | "no-op+passthrough interceptor"
  | "interceptor (session untouched)"
  | "interceptor + handler reading a key"
  | "raw ioredis HMGET+PEXPIRE"
  | "redis-hash storage.readKey alone";
type ServerKind = Storage | typeof WAITING | "express-session" | Variant;
/** BENCH_INTERCEPTOR of each variant (see noopServer.ts). */
const VARIANTS: Record<Variant, string> = {
  "no-op+passthrough interceptor": "passthrough",
  "interceptor (session untouched)": "session",
  "interceptor + handler reading a key": "read",
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
    warm: { type: "string" },
    "cpu-prof": { type: "string" },
    "no-write": { type: "boolean", default: false },
    breakdown: { type: "boolean", default: false },
  },
});
const quick = flags.quick === true;
const pairs = Number(flags.pairs ?? (quick ? 6 : 11));
const roundSeconds = Number(flags.round ?? (quick ? 0.4 : 0.5));
/** Uncounted load on each server and operation before its first measured round. */
const warmSeconds = Number(flags.warm ?? (quick ? 1.5 : 2.5));
const bigN = quick ? 100_000 : 1_000_000;

function plan(): ServerPlan[] {
  const all = (ops: OpName[], shapes: Shape[]) =>
    ops.flatMap((op) => shapes.map((shape) => ({ op, shape })));
  const full: RowPlan[] = [
    ...all(["Get", "GetData", "Set"], ["small", "large"]),
    { op: "Increment", shape: "small" },
  ];
  const interceptors: ServerPlan[] = [
    { server: "interceptor (session untouched)", sessions: 0, rows: all(["Get"], ["small"]) },
    {
      server: "interceptor + handler reading a key",
      sessions: 1000,
      rows: all(["Get"], ["small"]),
    },
  ];
  const plans: ServerPlan[] = quick
    ? [
        {
          server: "memory",
          sessions: 1000,
          rows: [...all(["Get", "Set", "GetData"], ["small"]), { op: "GetData", shape: "large" }],
        },
        { server: "file", sessions: 1000, rows: all(["Get", "Set"], ["small"]) },
        {
          server: "redis",
          sessions: 1000,
          rows: [...all(["Get"], ["small", "large"]), { op: "Set", shape: "small" }],
        },
        {
          server: "redis-hash",
          sessions: 1000,
          rows: [...all(["Get"], ["small", "large"]), { op: "Set", shape: "small" }],
        },
        { server: WAITING, sessions: 1000, rows: all(["Set"], ["small"]) },
        { server: "express-session", sessions: 1000, rows: all(["Get"], ["small"]) },
        ...interceptors,
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
        ...interceptors,
        { server: "memory", sessions: bigN, rows: all(["Get", "Set"], ["small"]) },
        { server: "redis-hash", sessions: bigN, rows: all(["Get", "Set"], ["small"]) },
      ];
  if (flags.breakdown) {
    plans.push(
      { server: "no-op+passthrough interceptor", sessions: 0, rows: all(["Get"], ["small"]) },
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

/**
 * Servers measured together: all of those with a thousand sessions or fewer are up at once
 * and their rows interleaved (no row gets a quieter minute of the machine than another);
 * each server with a large population is a phase of its own (its memory, its Redis keys).
 */
function phases(plans: readonly ServerPlan[]): ServerPlan[][] {
  const small = plans.filter((p) => p.sessions <= 1000);
  const large = plans.filter((p) => p.sessions > 1000).map((p) => [p]);
  return small.length > 0 ? [small, ...large] : large;
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

interface ServerInfo {
  port: number;
  pid: number;
  /** Sessions the server holds whose contents population.ts knows (absent: constant answers). */
  samples?: SampleSession[];
}
interface SessiondInfo extends ServerInfo {
  heap?: { before: number; after: number; payloadBytes: number; sessions: number };
  populateMs: number;
}
interface PeerInfo {
  port: number;
  pid: number;
  samples: { cookie: string; expected: string }[];
}

/** One row ready to measure: its load on the server and on the no-op, and what to check after. */
interface PreparedRow {
  server: ServerKind;
  sessions: number;
  row: RowPlan;
  target: LoadTarget;
  baseline: LoadTarget;
  note: string;
  /** Checks what the row's load did (writes: every success applied), once it is measured. */
  after?: () => Promise<void>;
}

async function main(): Promise<void> {
  requireBinaries();
  assertStartScriptFlags();
  // The orchestrator shares the load generator's core: core 0 belongs to the servers alone.
  execFileSync("taskset", ["-pc", String(LOAD_CPU), String(process.pid)], { stdio: "ignore" });
  const started = Date.now();
  const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(0)}s]`;
  const work = mkdtempSync(join(tmpdir(), "sessiond-bench-"));
  const profileDir = flags["cpu-prof"] ? resolve(flags["cpu-prof"]) : undefined;
  // Every server runs compiled, as users run sessiond. With --cpu-prof the build stays
  // beside the profiles: profileTop.ts reads its source maps to name src/ files.
  log(`${elapsed()} compiling src and the bench servers`);
  const build = buildServers(profileDir ? join(profileDir, "build") : join(work, "build"));
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

    const noopFlags: string[] = [];
    if (profileDir) {
      const dir = join(profileDir, "no-op");
      mkdirSync(dir, { recursive: true });
      noopFlags.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
    }
    const noop = await startPinned<ServerInfo>("no-op server", SERVER_CPU, "node", [
      ...SERVER_NODE_FLAGS,
      ...noopFlags,
      build.script("noopServer"),
    ]);
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

    /**
     * Rows of a server whose Get answers are sessions of population.ts (sessiond, the
     * "reads a key" variant): a real client checks a sample first; during the row, reads
     * are checked by response bytes, writes by the versions they moved.
     */
    const sessionRows = async (
      p: ServerPlan,
      server: ChildServer<ServerInfo>,
      note: string,
    ): Promise<PreparedRow[]> => {
      const client = connect(server.info.port);
      const prepared: PreparedRow[] = [];
      // The write rows of one shape write the same sessions, and interleaved rows write them
      // in turn: they share one count of successes and one reading of versions, so the
      // versions moved are checked against every write that row set made.
      const writes = new Map<string, { counted: number[]; before: number[] }>();
      for (const r of p.rows) {
        const op = OPERATIONS[r.op];
        const ofShape = (server.info.samples ?? []).filter((s) => s.shape === r.shape);
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
        const key = samples.map((s) => s.id).join(",");
        const shared = writes.get(key) ?? { counted: samples.map(() => 0), before: [] };
        writes.set(key, shared);
        // Read after this row's own check write; no round of any row has run yet.
        if (op.role === "write") {
          shared.before = await Promise.all(samples.map((s) => versionOf(client, s.id)));
        }
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
          counted: op.role === "write" ? shared.counted : samples.map(() => 0),
        };
        const after = async () => {
          if (op.role !== "write") return;
          // Every HTTP 200 h2load counted must be one applied write: versions tell.
          const versionsAfter = await Promise.all(samples.map((s) => versionOf(client, s.id)));
          for (let i = 0; i < samples.length; i++) {
            const applied = (versionsAfter[i] as number) - (shared.before[i] as number);
            if (applied !== shared.counted[i]) {
              throw new Error(
                `${p.server} ${r.op}: h2load counted ${shared.counted[i]} successes on one session (by every write row on it) but its version moved by ${applied}`,
              );
            }
          }
        };
        const baselineTarget = await baseline(r.op, r.shape);
        prepared.push({
          server: p.server,
          sessions: p.sessions,
          row: r,
          target,
          baseline: baselineTarget,
          note,
          after,
        });
      }
      server.child.once("exit", () => client.close());
      return prepared;
    };

    /** Starts one plan's server; returns its rows, ready to measure. */
    const startServer = async (p: ServerPlan): Promise<PreparedRow[]> => {
      const label = `${p.server} with ${fmtN(p.sessions)} live sessions`;
      log(`${elapsed()} starting ${label}`);
      if (p.server in VARIANTS) {
        const variant = await startPinned<ServerInfo>(
          p.server,
          SERVER_CPU,
          "node",
          [...SERVER_NODE_FLAGS, build.script("noopServer")],
          {
            env: {
              BENCH_INTERCEPTOR: VARIANTS[p.server as Variant],
              BENCH_SESSIONS: String(p.sessions),
              BENCH_RAW_REDIS: p.server.startsWith("raw ioredis") ? redis.url : undefined,
              BENCH_STORAGE_REDIS: p.server.endsWith("readKey alone") ? redis.url : undefined,
            },
          },
        );
        children.push(variant);
        if ((variant.info.samples ?? []).length > 0) {
          return sessionRows(p, variant, "getSession(call).get(key)");
        }
        return Promise.all(
          p.rows.map(async (r) => ({
            server: p.server,
            sessions: p.sessions,
            row: r,
            target: {
              pid: variant.pid,
              spec: grpcSpec(variant.info.port, r.op, r.shape, noopIds),
              rps: 5000,
            },
            baseline: await baseline(r.op, r.shape),
            note: "constant answer",
          })),
        );
      }
      if (p.server === "express-session") {
        const peer = await startPinned<PeerInfo>(
          "express-session peer",
          SERVER_CPU,
          "node",
          [...SERVER_NODE_FLAGS, build.script("peerServer")],
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
        return [
          {
            server: p.server,
            sessions: p.sessions,
            row: { op: "Get", shape: "small" },
            target: {
              pid: peer.pid,
              spec: {
                url: `http://127.0.0.1:${peer.info.port}/`,
                headerSets: samples.map((s) => [`cookie: ${s.cookie}`]),
                http1: true,
                ...HTTP1_LOAD,
              },
              rps: 2000,
              verify: exactBytes(samples.map((s) => Buffer.byteLength(s.expected))),
            },
            baseline: await baseline("Get", "small"),
            note: "HTTP/1.1, cookie",
          },
        ];
      }

      const fileDir = join(work, `files-${p.server.replaceAll(" ", "-")}-${p.sessions}`);
      mkdirSync(fileDir, { recursive: true });
      const nodeArgs = [...SERVER_NODE_FLAGS, "--expose-gc", "--max-old-space-size=8192"];
      let profile: string | undefined;
      if (profileDir) {
        mkdirSync(profileDir, { recursive: true });
        profile = join(profileDir, `${p.server}-${p.sessions}.cpuprofile`);
      }
      const server = await startPinned<SessiondInfo>(
        `sessiond (${p.server})`,
        SERVER_CPU,
        "node",
        [...nodeArgs, build.script("sessiondServer")],
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
      const note = p.sessions > 1000 ? `${ID_ROTATION} ids rotated of ${fmtN(p.sessions)}` : "";
      return sessionRows(p, server, note);
    };

    const rows: Row[] = [];
    const memoryNotes: string[] = [];
    const overheads = new Map<number, number>();
    const warmed = new Set<LoadTarget>();
    for (const phase of phases(plan())) {
      const prepared: PreparedRow[] = [];
      for (const p of phase) prepared.push(...(await startServer(p)));
      // No row measured cold: each server and operation (and the no-op's) is loaded, not
      // counted, before its first measured round.
      log(`${elapsed()} warming ${prepared.length} rows for ${warmSeconds}s each`);
      for (const r of prepared) {
        for (const t of [r.baseline, r.target]) {
          if (warmed.has(t)) continue;
          await warmUp(t, warmSeconds, LOAD_CPU);
          warmed.add(t);
        }
      }
      log(`${elapsed()} measuring ${prepared.length} rows, ${pairs} pairs each, interleaved`);
      const results = await measureInterleaved(
        prepared.map((r) => ({ baseline: r.baseline, candidate: r.target })),
        { pairs, roundSeconds, loadCpu: LOAD_CPU },
      );
      for (const [i, r] of prepared.entries()) {
        await r.after?.();
        const result = results[i];
        baselineRounds.get(`${r.row.op}-${r.row.shape}`)?.push(...result.baseline);
        rows.push(rowOf(r.server, r.row.op, r.row.shape, r.sessions, result, r.note));
        log(`  ${textRowSummary(rows.at(-1) as Row)}`);
      }
      for (const child of children.splice(1)) await child.stop();
      redis.flushAll();
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
      `sessiond bench${quick ? " (--quick)" : ""}: ${new Date().toISOString()}, node ${process.version}, every server compiled by tsc (no loader), pinned to CPU ${SERVER_CPU}, h2load to CPU ${LOAD_CPU}.`,
      `Ratios: median (interquartile range) over ${pairs} paired rounds of ${roundSeconds}s (no-op and candidate a moment apart, ABBA) of the per-pair throughput ratio and of no-op CPU per call / candidate CPU per call (utime+stime of the server process). Each server and operation is loaded ${warmSeconds}s, not counted, before its first round; the rows of servers with up to 1,000 sessions are interleaved, pair by pair.`,
      `Each round: ${ID_ROTATION} h2load processes, each with its own session id (-c ${GRPC_LOAD.clients} -m ${GRPC_LOAD.streams} for gRPC, -c ${HTTP1_LOAD.clients} for HTTP/1.1); sessions: small = 5 keys (~200 B), large = 200 keys (~40 KB); reads and writes use different sessions.`,
    ].join("\n");
    const took = `Run took ${((Date.now() - started) / 1000).toFixed(0)} s.`;
    const targets = evaluateTargets(all, overheads, bigN);
    const targetsTitle =
      "Targets (ratios to the no-op, higher is better; met or NOT MET only when the whole interquartile range is on one side of the goal, else within noise)";
    process.stdout.write(
      `\n${header}\n\n${textTable(all)}\n\n${memoryNotes.join("\n")}\n${took}\n\n${targetsTitle}:\n${targetsText(targets)}\n`,
    );
    if (!flags["no-write"]) {
      const markdown = [
        header.replaceAll("\n", "\n\n"),
        markdownTable(all),
        memoryNotes.map((n) => `- ${n}`).join("\n"),
        took,
        `${targetsTitle}:\n\n${targetsMarkdown(targets)}`,
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
        log("updated the Performance table (docs/performance.md)");
      }
    }
    noopClient.close();
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
    rpsSpread: r.rpsSpread,
    cpuRatio: r.cpuRatio,
    cpuSpread: r.cpuSpread,
    note,
  };
}

function textRowSummary(r: Row): string {
  return `${r.server} ${r.op} ${r.shape}: ${Math.round(r.rps)} rps, p50 ${r.p50Ms.toFixed(2)} ms, x no-op ${fmtRatio(r.rpsRatio ?? Number.NaN, r.rpsSpread)} (RPS) ${fmtRatio(r.cpuRatio ?? Number.NaN, r.cpuSpread)} (CPU)`;
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
  },
);
