import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { freePort } from "../../bench/freePort.js";
import { connect, type SessionClient, statusName, unary } from "../rpc.js";
import { SessiondProcess } from "../sessiondProcess.js";
import { CallLedger, type CallVerdict, classify } from "./callLedger.js";
import { type ReadChecks, runFailoverWriter } from "./failoverWriter.js";
import type { RedisStorageKind, Scenario } from "./scenarios.js";
import { type Timeline, timeline } from "./timeline.js";
import { type FaultTimes, startTopology, type Topology } from "./topologies.js";

export interface FailoverOptions {
  instances: number;
  writers: number;
  sessionsPerWriter: number;
  /** Load before the fault, and after the set-up recovered, ms. */
  beforeMs: number;
  afterMs: number;
  /** Quiet time after the load, before anything is read back: late re-sends land in it. */
  settleMs: number;
  deadlineMs: number;
  lagMs: number;
  pauseMs: number;
  log: (msg: string) => void;
}

/** An instance's answer to a write and a read after the fault, without a restart. */
export interface InstanceRecovery {
  instance: number;
  /** Served: how long the check waited for it (0 when it served at once). */
  served: boolean;
  waitedMs: number;
  restarted: boolean;
  lastError?: string;
}

export interface FailoverResult {
  scenario: Scenario;
  /** Set when the run could not be made (sessiond refused its flags, a set-up failed). */
  error?: string;
  topology?: string;
  fault?: FaultTimes;
  lanes: LaneResult[];
  seconds: number;
}

/** One storage's share of a run. */
export interface LaneResult {
  storage: RedisStorageKind;
  timeline?: Timeline;
  verdict?: CallVerdict;
  checks?: ReadChecks;
  recovery?: InstanceRecovery[];
  crashes: number;
}

const SETUP_KEY = "setup";
const RECOVERY_WAIT_MS = 20_000;
const PROBE_SESSIONS = 16;

interface Lane {
  result: LaneResult;
  instances: SessiondProcess[];
  viaInstance: SessionClient[];
  pids: (number | undefined)[];
  ledger: CallLedger;
  checks: ReadChecks;
  sessions: string[][];
}

/**
 * One scenario: its Redis set-up; per storage, `instances` sessiond processes pointing at
 * it and writers spread over them; the fault after `beforeMs` of load, `afterMs` more once
 * the set-up recovered, then a quiet `settleMs`, a write + read through every instance,
 * and every session read back and judged call by call.
 */
export async function runFailover(scenario: Scenario, o: FailoverOptions): Promise<FailoverResult> {
  const began = performance.now();
  const now = () => Math.round(performance.now() - began);
  const result: FailoverResult = { scenario, lanes: [], seconds: 0 };
  let topology: Topology | undefined;
  const lanes: Lane[] = [];
  const clients: SessionClient[] = [];
  const client = (address: string) => {
    const c = connect(address);
    clients.push(c);
    return c;
  };
  try {
    topology = await startTopology(scenario.topology);
    result.topology = topology.description;
    for (const storage of scenario.storages) {
      const env = {
        SESSIOND_STORAGE: storage,
        SESSIOND_REDIS_PREFIX: `failover-${storage}:`,
        ...topology.env,
      };
      const instances: SessiondProcess[] = [];
      for (let i = 0; i < o.instances; i++) {
        instances.push(new SessiondProcess(await freePort(), env, scenario.sessiondArgs));
      }
      lanes.push({
        result: { storage, crashes: 0 },
        instances,
        viaInstance: [],
        pids: [],
        ledger: new CallLedger(),
        checks: { made: 0, stale: 0, unanswered: 0, examples: [] },
        sessions: [],
      });
    }
    result.lanes = lanes.map((l) => l.result);
    const everyInstance = lanes.flatMap((l) => l.instances);
    await Promise.all(everyInstance.map((s) => s.start())).catch((err: Error) => {
      throw new Error(`sessiond did not start: ${firstLines(err.message)}`);
    });
    for (const lane of lanes) {
      lane.pids = lane.instances.map((s) => s.pid);
      lane.viaInstance = lane.instances.map((s) => client(s.address));
      lane.sessions = await Promise.all(
        Array.from({ length: o.writers }, (_, w) =>
          Promise.all(
            Array.from({ length: o.sessionsPerWriter }, () =>
              createSession(lane.viaInstance[w % o.instances] as SessionClient),
            ),
          ),
        ),
      );
      for (const ids of lane.sessions) for (const id of ids) lane.ledger.sessions.add(id);
    }

    let stop = false;
    const writers = lanes.flatMap((lane) =>
      lane.sessions.map((ids, w) =>
        runFailoverWriter({
          index: w,
          client: client(lane.instances[w % o.instances]?.address as string),
          instance: w % o.instances,
          reader: client(lane.instances[(w + 1) % o.instances]?.address as string),
          sessions: ids,
          ledger: lane.ledger,
          checks: lane.checks,
          deadlineMs: o.deadlineMs,
          readEvery: 8,
          now,
          done: () => stop,
        }),
      ),
    );
    const loadStart = now();
    o.log(
      `  ${o.writers} writers through ${o.instances} instances per storage; fault in ${o.beforeMs} ms`,
    );
    await sleep(o.beforeMs);
    const fault = await topology.inject(scenario.fault, {
      now,
      lagMs: o.lagMs,
      pauseMs: o.pauseMs,
      log: o.log,
    });
    result.fault = fault;
    o.log(`  ${fault.note}; recovered ${fault.recoveredAt - fault.faultAt} ms after the fault`);
    await sleep(o.afterMs);
    stop = true;
    await Promise.all(writers);
    const writes = lanes.reduce((n, l) => n + l.ledger.records.length, 0);
    o.log(`  load over after ${now() - loadStart} ms, ${writes} writes`);

    await topology.settled();
    await sleep(o.settleMs);

    for (const lane of lanes) {
      const { ledger } = lane;
      const probeSessions = [...ledger.sessions].slice(0, PROBE_SESSIONS);
      lane.result.recovery = await Promise.all(
        lane.viaInstance.map((c, i) =>
          recover(c, i, probeSessions, ledger, now, lane.pids[i] !== lane.instances[i]?.pid),
        ),
      );
      const held = new Map<string, Map<string, string> | undefined>();
      const reader = lane.viaInstance[0] as SessionClient;
      for (const id of ledger.sessions) held.set(id, await readSession(reader, id));
      lane.result.verdict = ledger.verify(
        (id) => held.get(id),
        (key) => key === SETUP_KEY,
        fault.faultAt,
      );
      // The probes are writes too, but not the load's: the window is the load's.
      lane.result.timeline = timeline(
        ledger.records.filter((r) => r.writer >= 0),
        fault.faultAt,
        o.deadlineMs,
      );
      lane.result.checks = lane.checks;
    }
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    for (const c of clients) c.close();
    for (const lane of lanes) {
      lane.result.crashes = lane.instances.reduce((n, s) => n + s.crashes.length, 0);
    }
    await Promise.all(lanes.flatMap((l) => l.instances).map((s) => s.stop()));
    await topology?.stop();
    result.seconds = Math.round((performance.now() - began) / 1000);
  }
  return result;
}

async function createSession(client: SessionClient): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const out = await unary<{ sessionId: string }>(
      client,
      "set",
      { key: SETUP_KEY, value: "ok" },
      undefined,
      5000,
    );
    if (out.code === status.OK && out.response) return out.response.sessionId;
    if (attempt >= 20) throw new Error(`setup Set failed: ${statusName(out.code)} ${out.details}`);
    await sleep(250);
  }
}

/**
 * A write and a read back through one instance, on sessions spread over the slots, until
 * all succeed. Probes go into the ledger (writer -1), so that a failed probe applied later
 * is caught like any other write.
 */
async function recover(
  client: SessionClient,
  instance: number,
  sessions: readonly string[],
  ledger: CallLedger,
  now: () => number,
  restarted: boolean,
): Promise<InstanceRecovery> {
  const from = now();
  const until = Date.now() + RECOVERY_WAIT_MS;
  let lastError: string | undefined;
  for (let attempt = 0; Date.now() < until; attempt++) {
    let ok = true;
    for (const session of sessions) {
      const key = `probe${instance}.${attempt}`;
      const value = `probe ${instance} ${attempt}`;
      const sentAt = now();
      const out = await unary(client, "set", { key, value }, session, 3000);
      const answer = classify(out.code, out.details);
      ledger.add({
        writer: -1,
        instance,
        op: "set",
        session,
        key,
        value: JSON.stringify(value),
        sentAt,
        answeredAt: now(),
        code: out.code,
        details: out.details,
        answer,
      });
      const back =
        answer === "acked"
          ? await unary<{ found?: boolean; value?: unknown }>(client, "get", { key }, session, 3000)
          : undefined;
      if (back?.code !== status.OK || back.response?.value !== value) {
        ok = false;
        lastError = `${statusName(back?.code ?? out.code)} ${back?.details ?? out.details}`;
        break;
      }
    }
    if (ok) return { instance, served: true, waitedMs: now() - from, restarted };
    await sleep(250);
  }
  return { instance, served: false, waitedMs: now() - from, restarted, lastError };
}

async function readSession(
  client: SessionClient,
  id: string,
): Promise<Map<string, string> | undefined> {
  for (let attempt = 1; ; attempt++) {
    const out = await unary<{ data?: Record<string, unknown> }>(client, "getData", {}, id, 5000);
    if (out.code === status.OK) {
      const entries = Object.entries(out.response?.data ?? {});
      return entries.length === 0
        ? undefined
        : new Map(entries.map(([k, v]) => [k, JSON.stringify(v)]));
    }
    if (out.code === status.NOT_FOUND) return undefined;
    if (attempt >= 40) {
      throw new Error(`check GetData ${id} failed: ${statusName(out.code)} ${out.details}`);
    }
    await sleep(250);
  }
}

function firstLines(text: string): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const useful = lines.find(
    (l) => /unknown option|expected|error/i.test(l) && !l.startsWith("sessiond exited"),
  );
  return (useful ?? lines.slice(0, 3).join(" ")).slice(0, 300);
}
