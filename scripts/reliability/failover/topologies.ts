/**
 * The Redis set-ups of the fail-over runs, each with the SESSIOND_REDIS_* settings that
 * point sessiond at it and the faults it can suffer. Everything that runs while the load
 * does is asynchronous (redis-cli in a child process, never spawnSync), so that the
 * writers' clock keeps ticking.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type RedisProcess,
  redisCliAsync,
  startCluster,
  startRedis,
  startSentinelGroup,
  waitFor,
} from "../../../test/support/redisServers.js";

export type TopologyKind = "cluster" | "sentinel" | "single";
export type FaultKind = "kill-master" | "lag-then-kill" | "reshard" | "sigstop";

export interface FaultTimes {
  /** ms on the run's clock when the fault began (the kill, the first slot moved). */
  faultAt: number;
  /** When the set-up served every slot again (promotion seen, reshard done, SIGCONT). */
  recoveredAt: number;
  /** What happened, for the report. */
  note: string;
}

export interface Topology {
  readonly kind: TopologyKind;
  /** What it is, for the report. */
  readonly description: string;
  readonly env: Record<string, string>;
  /** Injects `fault`; `now` is the run's clock. */
  inject(fault: FaultKind, options: FaultOptions): Promise<FaultTimes>;
  /** Resolves once every live node agrees the set-up is healthy. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export interface FaultOptions {
  now: () => number;
  /** How long replicas stay SIGSTOPped before the kill (lag-then-kill). */
  lagMs: number;
  /** How long the node stays SIGSTOPped (sigstop). */
  pauseMs: number;
  log: (msg: string) => void;
}

const CLUSTER_NODE_TIMEOUT_MS = 3000;
const SENTINEL_DOWN_AFTER_MS = 1000;

export async function startTopology(kind: TopologyKind): Promise<Topology> {
  if (kind === "cluster") return startClusterTopology();
  if (kind === "sentinel") return startSentinelTopology();
  return startSingleTopology();
}

async function startSingleTopology(): Promise<Topology> {
  const node = await startRedis({ aof: true });
  return {
    kind: "single",
    description: "1 node, appendfsync always",
    env: { SESSIOND_REDIS_URL: node.url },
    async inject(fault, o) {
      if (fault !== "sigstop") throw new Error(`${fault}: not a fault of a single node`);
      const faultAt = o.now();
      node.pause();
      await sleep(o.pauseMs);
      node.resume();
      return { faultAt, recoveredAt: o.now(), note: `SIGSTOP ${o.pauseMs} ms, then SIGCONT` };
    },
    async settled() {
      await until("the node answers", async () => (await node.cliAsync("ping")) === "PONG");
    },
    stop: () => node.stop(),
  };
}

async function startSentinelTopology(): Promise<Topology> {
  const group = await startSentinelGroup({
    replicas: 2,
    sentinels: 3,
    downAfterMs: SENTINEL_DOWN_AFTER_MS,
    aof: true,
  });
  const byPort = new Map([group.master, ...group.replicas].map((p) => [p.port, p]));
  const masterPort = async () => {
    for (const s of group.sentinelNodes) {
      try {
        const out = await s.cliAsync("sentinel", "get-master-addr-by-name", group.name);
        return Number(out.split("\n")[1]);
      } catch {
        // this Sentinel is busy or away: ask the next
      }
    }
    throw new Error("no Sentinel answered");
  };
  return {
    kind: "sentinel",
    description: `1 master + 2 replicas, 3 Sentinels (quorum 2, down-after ${SENTINEL_DOWN_AFTER_MS} ms), appendfsync always`,
    env: {
      SESSIOND_REDIS_SENTINELS: group.sentinels.join(","),
      SESSIOND_REDIS_SENTINEL_NAME: group.name,
    },
    async inject(fault, o) {
      if (fault !== "kill-master") throw new Error(`${fault}: not a Sentinel fault here`);
      const old = await masterPort();
      const victim = byPort.get(old) as RedisProcess;
      const faultAt = o.now();
      await victim.kill();
      await until(
        "a promoted master",
        async () => {
          const port = await masterPort();
          if (port === old) return false;
          return (await byPort.get(port)?.cliAsync("role"))?.startsWith("master") ?? false;
        },
        60_000,
      );
      const recoveredAt = o.now();
      return { faultAt, recoveredAt, note: `master :${old} SIGKILLed` };
    },
    async settled() {
      await until("the Sentinels' master answers", async () => {
        const port = await masterPort();
        return (await byPort.get(port)?.cliAsync("role"))?.startsWith("master") ?? false;
      });
    },
    stop: () => group.stop(),
  };
}

interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  masterId: string | undefined;
  slots: number;
}

async function startClusterTopology(): Promise<Topology> {
  const cluster = await startCluster(3, {
    aof: true,
    replicas: 1,
    nodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS,
  });
  const byPort = new Map(cluster.nodes.map((n) => [n.port, n]));
  const dead = new Set<number>();
  const alive = () => cluster.nodes.filter((n) => !dead.has(n.port));
  const view = async (): Promise<ClusterNode[]> => {
    for (const n of alive()) {
      try {
        return parseClusterNodes(await n.cliAsync("cluster", "nodes"));
      } catch {
        // paused or busy: ask the next
      }
    }
    throw new Error("no cluster node answered");
  };
  const allOk = async () => {
    for (const n of alive()) {
      if (!(await n.cliAsync("cluster", "info")).includes("cluster_state:ok")) return false;
    }
    return true;
  };
  const masterWithSlots = async (): Promise<ClusterNode> => {
    const masters = (await view()).filter((n) => n.master && !n.failed && n.slots > 0);
    return masters.sort((a, b) => a.port - b.port)[0] as ClusterNode;
  };
  const replicasOf = async (master: ClusterNode) =>
    (await view()).filter((n) => n.masterId === master.id);

  return {
    kind: "cluster",
    description: `3 masters + 3 replicas, cluster-node-timeout ${CLUSTER_NODE_TIMEOUT_MS}, appendfsync always`,
    env: { SESSIOND_REDIS_CLUSTER_NODES: cluster.seeds.join(",") },
    async inject(fault, o) {
      if (fault === "kill-master" || fault === "lag-then-kill") {
        const victim = await masterWithSlots();
        const replicas = await replicasOf(victim);
        if (replicas.length === 0) throw new Error(`master :${victim.port} has no replica`);
        const paused = fault === "lag-then-kill" ? replicas : [];
        let note = `master :${victim.port} (${victim.slots} slots) SIGKILLed`;
        if (paused.length > 0) {
          // A stopped replica still receives: the kernel buffers megabytes of the
          // replication stream for it on loopback, and it reads them on SIGCONT. Cutting
          // its link while it is stopped makes the lag real: what the master writes from
          // then on reaches no replica, as in a partition.
          const master = byPort.get(victim.port) as RedisProcess;
          for (const r of paused) byPort.get(r.port)?.pause();
          await master.cliAsync("client", "kill", "type", "replica");
          const cutAt = await replOffset(master);
          o.log(
            `    replica ${paused.map((r) => `:${r.port}`).join(", ")} SIGSTOPped, its link cut`,
          );
          await sleep(o.lagMs);
          const unreplicated = (await replOffset(master)) - cutAt;
          note = `replica ${paused.map((r) => `:${r.port}`).join(", ")} SIGSTOPped and its link cut for ${o.lagMs} ms (${unreplicated} bytes written meanwhile), then ${note}, then SIGCONT`;
        }
        const faultAt = o.now();
        await byPort.get(victim.port)?.kill();
        dead.add(victim.port);
        for (const r of paused) byPort.get(r.port)?.resume();
        await until(
          "a replica promoted",
          async () => {
            const nodes = await view();
            const promoted = replicas.some((r) =>
              nodes.some((n) => n.id === r.id && n.master && n.slots > 0),
            );
            return promoted && (await allOk());
          },
          60_000,
        );
        const recoveredAt = o.now();
        // Back as its successor's replica (it resyncs, dropping what it alone held), so
        // that the shard has a replica again, as an operator would see to; a write that
        // waits for one replica could not succeed on that shard otherwise.
        await byPort.get(victim.port)?.restart();
        dead.delete(victim.port);
        return { faultAt, recoveredAt, note: `${note}; restarted as a replica once promoted` };
      }
      if (fault === "reshard") {
        const masters = (await view()).filter((n) => n.master && n.slots > 0);
        const [from, to] = masters.sort((a, b) => a.port - b.port) as [ClusterNode, ClusterNode];
        const seed = `127.0.0.1:${from.port}`;
        const faultAt = o.now();
        await redisCliAsync([
          "--cluster",
          "reshard",
          seed,
          "--cluster-from",
          from.id,
          "--cluster-to",
          to.id,
          "--cluster-slots",
          "3000",
          "--cluster-yes",
        ]);
        const movedAt = o.now();
        o.log(`    3000 slots moved in ${movedAt - faultAt} ms; rebalancing`);
        await redisCliAsync(["--cluster", "rebalance", seed]);
        return {
          faultAt,
          recoveredAt: o.now(),
          note: `3000 slots :${from.port} → :${to.port} (${movedAt - faultAt} ms), then rebalance (${o.now() - movedAt} ms)`,
        };
      }
      if (fault === "sigstop") {
        const victim = await masterWithSlots();
        const faultAt = o.now();
        byPort.get(victim.port)?.pause();
        await sleep(o.pauseMs);
        byPort.get(victim.port)?.resume();
        return {
          faultAt,
          recoveredAt: o.now(),
          note: `master :${victim.port} SIGSTOP ${o.pauseMs} ms`,
        };
      }
      throw new Error(`unknown fault ${fault}`);
    },
    settled: () =>
      until(
        "cluster_state:ok on every live node and every replica in sync",
        async () => {
          if (!(await allOk())) return false;
          for (const n of (await view()).filter((x) => !x.master && !dead.has(x.port))) {
            const info = await byPort.get(n.port)?.cliAsync("info", "replication");
            if (!info?.includes("master_link_status:up")) return false;
          }
          return true;
        },
        60_000,
      ),
    stop: () => cluster.stop(),
  };
}

/** The master's replication offset: bytes of writes it has produced so far. */
async function replOffset(master: RedisProcess): Promise<number> {
  const info = await master.cliAsync("info", "replication");
  return Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** CLUSTER NODES, one node a line: id addr flags master ping pong epoch link slots... */
export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(" "))
    .filter((f) => f.length >= 8)
    .map((f) => {
      const flags = (f[2] as string).split(",");
      let slots = 0;
      for (const range of f.slice(8)) {
        if (range.startsWith("[")) continue; // a slot being migrated, counted where it is
        const [a, b] = range.split("-").map(Number) as [number, number | undefined];
        slots += (b ?? a) - a + 1;
      }
      return {
        id: f[0] as string,
        port: Number((f[1] as string).split("@")[0]?.split(":").at(-1)),
        master: flags.includes("master"),
        failed: flags.includes("fail") || flags.includes("fail?"),
        masterId: f[3] === "-" ? undefined : f[3],
        slots,
      };
    });
}

function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  return waitFor(what, check, timeoutMs, 100);
}
