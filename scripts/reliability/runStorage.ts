import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { status } from "@grpc/grpc-js";
import { defaultLimits } from "../../src/core/Limits.js";
import { freePort } from "../bench/freePort.js";
import {
  type BadInput,
  badInputs,
  EXPECTED_CODES,
  HEAVY_EVERY,
  type Targets,
} from "./badInputs.js";
import { Disturbance } from "./disturbance.js";
import { Ledger } from "./ledger.js";
import { RedisProcess } from "./redisProcess.js";
import type { StorageResult } from "./report.js";
import {
  connect,
  connectRaw,
  type Outcome,
  outcomeUnknown,
  type SessionClient,
  statusName,
  unary,
  unaryBytes,
} from "./rpc.js";
import { SessiondProcess } from "./sessiondProcess.js";
import { slowClient } from "./slowClient.js";
import { stalledClient } from "./stalledClient.js";
import { Tally } from "./Tally.js";
import { runWriter, type WriterStats } from "./writer.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export type StorageKind = "memory" | "file" | "redis" | "redis-hash";

export interface RunOptions {
  storage: StorageKind;
  seconds: number;
  writers: number;
  sessionsPerWriter: number;
  log: (msg: string) => void;
}

const SIGKILL_SESSIOND = "SIGKILL sessiond";
const SIGKILL_REDIS = "SIGKILL redis-server";
const SIGSTOP_REDIS = "SIGSTOP redis-server (2.5 s)";
const SLOW = "slow client (3 s)";
const STALLED = "stalled clients (3 s)";

/**
 * One storage's run: sessiond (and its redis-server) started fresh, writers, bad inputs
 * and faults for `seconds`, then a last kill of whatever must be durable, then every
 * acknowledged write checked.
 */
export async function runStorage(options: RunOptions): Promise<StorageResult> {
  const { storage, seconds, log } = options;
  const isRedis = storage === "redis" || storage === "redis-hash";
  const durable = storage !== "memory";
  const work = mkdtempSync(join(tmpdir(), `sessiond-reliability-${storage}-`));
  const redis = isRedis ? await RedisProcess.start() : undefined;
  const env: Record<string, string> = { SESSIOND_STORAGE: storage };
  if (storage === "file") env.SESSIOND_FILE_DIR = join(work, "sessions");
  if (redis) {
    env.SESSIOND_REDIS_URL = redis.url;
    env.SESSIOND_REDIS_PREFIX = "reliability:";
  }
  const sessiond = new SessiondProcess(await freePort(), env);
  const disturbance = new Disturbance();
  const ledger = new Ledger();
  const faults = new Tally();
  const calls = new Tally();
  let finished = false;

  // Starts and kills go one at a time: a crash restart racing a fault's restart would
  // collide on the port.
  let lifecycle: Promise<unknown> = Promise.resolve();
  const serially = (fn: () => Promise<void>) => {
    const next = lifecycle.then(fn, fn);
    lifecycle = next.catch(() => {});
    return next;
  };
  const startWithRetry = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await sessiond.start();
        return;
      } catch (err) {
        if (attempt >= 5) throw err;
        log(`  sessiond did not start (attempt ${attempt}): ${(err as Error).message}`);
        await sleep(500);
      }
    }
  };
  sessiond.onCrash(() => {
    log(`  sessiond CRASHED: ${JSON.stringify(sessiond.crashes.at(-1))}`);
    if (finished) return;
    void serially(() =>
      disturbance.during(async () => {
        if (!sessiond.running) await startWithRetry();
      }),
    ).catch((err) => log(`  could not restart sessiond: ${(err as Error).message}`));
  });

  const clients: SessionClient[] = [];
  const raw = connectRaw(sessiond.address);
  try {
    await startWithRetry();
    const setup = connect(sessiond.address);
    clients.push(setup);
    const targets = await prepareTargets(setup, ledger);

    const writerStats: WriterStats = {
      calls: new Tally(),
      acked: 0,
      unknown: new Tally(),
      refused: new Tally(),
      replaced: 0,
    };
    const deadline = Date.now() + seconds * 1000;
    const done = () => Date.now() >= deadline;
    const writers = Array.from({ length: options.writers }, (_, i) => {
      const client = connect(sessiond.address);
      clients.push(client);
      return runWriter(i, client, ledger, writerStats, options.sessionsPerWriter, done);
    });

    const bad = { byKind: new Tally(), expected: 0, duringOutage: 0, wrong: 0 };
    const wrongExamples = new Map<string, string>();
    const badLoop = (async () => {
      const round = badInputs(targets);
      for (let i = 0; !done(); i++) {
        const input = round[i % round.length];
        if (input.heavy && Math.floor(i / round.length) % HEAVY_EVERY !== 0) continue;
        const outageAtSend = disturbance.active;
        const outcome = await unaryBytes(raw, input.path, input.bytes, input.metadata, 10_000);
        bad.byKind.add(input.kind);
        calls.add("bad inputs");
        const verdict = judgeBadInput(outcome, outageAtSend || disturbance.active);
        if (verdict === "expected") bad.expected++;
        else if (verdict === "outage") bad.duringOutage++;
        else {
          bad.wrong++;
          if (!wrongExamples.has(input.name))
            wrongExamples.set(input.name, describe(input, outcome));
        }
        await sleep(20);
      }
    })();

    const processFaults = durable
      ? [SIGKILL_SESSIOND, ...(isRedis ? [SIGKILL_REDIS, SIGSTOP_REDIS] : [])]
      : [];
    const inject = async (kind: string, label = kind) => {
      log(`  ${label}`);
      faults.add(label);
      if (kind === SIGKILL_SESSIOND) {
        await serially(() =>
          disturbance.during(async () => {
            await sessiond.kill();
            await startWithRetry();
          }),
        );
      } else if (kind === SIGKILL_REDIS && redis) {
        await disturbance.during(async () => {
          await redis.kill();
          await sleep(1000);
          await redis.restart();
        });
      } else if (kind === SIGSTOP_REDIS && redis) {
        await disturbance.during(async () => {
          redis.pause();
          await sleep(2500);
          redis.resume();
        });
      }
    };
    const processFaultLoop = (async () => {
      for (let i = 0; processFaults.length > 0; i++) {
        await sleep(4000);
        if (Date.now() > deadline - 3000) break;
        await inject(processFaults[i % processFaults.length]);
      }
    })();
    const clientFaultLoop = (async () => {
      for (let i = 0; ; i++) {
        await sleep(1000);
        if (Date.now() > deadline - 3000) break;
        const kind = i % 2 === 0 ? SLOW : STALLED;
        faults.add(kind);
        if (kind === SLOW)
          calls.add("slow-client streams", await slowClient(sessiond.address, targets.plain, 3000));
        else
          calls.add("stalled streams", await stalledClient(sessiond.address, targets.plain, 3000));
      }
    })();

    await Promise.all([...writers, badLoop, processFaultLoop, clientFaultLoop]);

    // The last writes are the least likely to have reached the disk: kill what must be
    // durable once more before looking.
    const before = " after the load, before the check";
    if (durable) await inject(SIGKILL_SESSIOND, SIGKILL_SESSIOND + before);
    if (redis) await inject(SIGKILL_REDIS, SIGKILL_REDIS + before);
    await lifecycle;

    log(`  checking ${ledger.sessions.size} sessions`);
    const reader = connect(sessiond.address);
    clients.push(reader);
    const held = new Map<string, Map<string, string> | undefined>();
    for (const id of ledger.sessions.keys()) {
      held.set(id, await readSession(reader, id));
      calls.add("check reads");
    }
    const verdict = ledger.verify((id) => held.get(id));
    finished = true;
    await sessiond.stop();

    const faultRows: StorageResult["faults"] = faults
      .entries()
      .map(([kind, count]) => ({ kind, count }));
    if (!durable) {
      faultRows.unshift({
        kind: SIGKILL_SESSIOND,
        count: 0,
        skipped: "the memory storage loses everything with the process, by design",
      });
    }
    if (!isRedis) {
      faultRows.push({ kind: "Redis faults", count: 0, skipped: "no Redis behind this storage" });
    }
    return {
      storage,
      loadSeconds: seconds,
      writers: options.writers,
      sessions: ledger.sessions.size,
      calls: [...writerStats.calls.entries(), ...calls.entries()],
      writes: {
        acked: writerStats.acked,
        unknown: writerStats.unknown.entries(),
        refused: writerStats.refused.entries(),
      },
      faults: faultRows,
      badInputs: {
        byKind: bad.byKind.entries(),
        expected: bad.expected,
        duringOutage: bad.duringOutage,
        wrong: bad.wrong,
        wrongExamples: [...wrongExamples.values()],
      },
      replacedSessions: writerStats.replaced,
      verdict,
      crashes: sessiond.crashes.map((c) => ({
        at: c.at.toISOString(),
        exit: c.signal ? `signal ${c.signal}` : `exit code ${c.code}`,
        stderr: c.stderr.map((l) => l.replaceAll(REPO_ROOT, "")),
      })),
      errorsLogged: sessiond.errorLines.length,
      errorExamples: [...new Set(sessiond.errorLines.map(errorSummary))].slice(0, 5),
      peakRssBytes: sessiond.peakRssBytes,
    };
  } finally {
    finished = true;
    for (const c of clients) c.close();
    raw.close();
    await sessiond.stop();
    await redis?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The sessions bad inputs are aimed at, each with keys in the ledger, so that a bad input
 * that damaged them would show as a lost write. `full` holds exactly maxKeys keys.
 */
async function prepareTargets(client: SessionClient, ledger: Ledger): Promise<Targets> {
  const big = "B".repeat(defaultLimits.maxValueBytes - 1000);
  const plainRes = await must<{ sessionId: string }>(client, "set", {
    key: "keep",
    value: "plain",
  });
  const plain = plainRes.sessionId;
  ledger.open(plain, false);
  ledger.write(plain, "keep", JSON.stringify("plain"), "acked");
  await must(client, "set", { key: "big", value: big }, plain);
  ledger.write(plain, "big", JSON.stringify(big), "acked");

  const filler: Record<string, string> = {};
  for (let i = 0; i < defaultLimits.maxKeys - 1; i++) filler[`f${i}`] = `v${i}`;
  const fullRes = await must<{ sessionId: string }>(client, "setMap", { data: filler });
  const full = fullRes.sessionId;
  ledger.open(full, false);
  for (const [k, v] of Object.entries(filler)) ledger.write(full, k, JSON.stringify(v), "acked");
  await must(client, "set", { key: "keep", value: "full" }, full);
  ledger.write(full, "keep", JSON.stringify("full"), "acked");
  return { plain, full };
}

async function must<Res>(
  client: SessionClient,
  method: string,
  request: unknown,
  id?: string,
): Promise<Res> {
  const outcome = await unary<Res>(client, method, request, id, 10_000);
  if (outcome.code !== status.OK || outcome.response === undefined) {
    throw new Error(`setup ${method} failed: ${statusName(outcome.code)} ${outcome.details}`);
  }
  return outcome.response;
}

/** The session's data as JSON text per key; undefined when it holds nothing. */
async function readSession(
  client: SessionClient,
  id: string,
): Promise<Map<string, string> | undefined> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await unary<{ data?: Record<string, unknown> }>(
      client,
      "getData",
      {},
      id,
      10_000,
    );
    if (outcome.code === status.OK) {
      const entries = Object.entries(outcome.response?.data ?? {});
      if (entries.length === 0) return undefined;
      return new Map(entries.map(([k, v]) => [k, JSON.stringify(v)]));
    }
    if (!outcomeUnknown(outcome.code) || attempt >= 60) {
      throw new Error(`check GetData ${id} failed: ${statusName(outcome.code)} ${outcome.details}`);
    }
    await sleep(250);
  }
}

function judgeBadInput(outcome: Outcome<Buffer>, outage: boolean): "expected" | "outage" | "wrong" {
  const clear = outcome.details.trim() !== "" && !/\n\s+at /.test(outcome.details);
  if (EXPECTED_CODES.includes(outcome.code) && clear) return "expected";
  if (
    outage &&
    (outcome.code === status.UNAVAILABLE || outcome.code === status.DEADLINE_EXCEEDED)
  ) {
    return "outage";
  }
  return "wrong";
}

function describe(input: BadInput, outcome: Outcome<Buffer>): string {
  const details = outcome.details ? ` "${outcome.details.slice(0, 200)}"` : "";
  return `${input.kind}: ${input.name} → ${statusName(outcome.code)}${details}`;
}

/**
 * An error log line in short: method, message, error and where it was thrown (paths
 * relative to the repository), so that repeats of one error read once.
 */
function errorSummary(line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const frame = /\n\s+at (.*)/.exec(String(entry.stack ?? ""))?.[1];
    const where = frame ? ` at ${frame.replaceAll(REPO_ROOT, "")}` : "";
    return `${entry.method ?? ""} ${entry.msg}: ${entry.err ?? entry.error ?? ""}${where}`.trim();
  } catch {
    return line;
  }
}
