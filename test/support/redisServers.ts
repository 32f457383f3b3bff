/**
 * Starts real redis-server processes on free loopback ports for one test, and stops them.
 * Single node (optionally with AOF), a Cluster (masters, optionally with replicas), and a
 * master with replicas watched by one or more Sentinels.
 * Every process started here is killed when the test process exits, even on a crash.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { APT_INSTALL_LINE, requireTool } from "./systemTools.js";

const INSTALL_HINT = `install redis-server (${APT_INSTALL_LINE})`;
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function requireBinary(name: "redis-server" | "redis-cli"): void {
  requireTool(name, name === "redis-cli" ? "redis-tools" : "redis-server");
}

/** A loopback port that is free, and whose cluster bus port (+10000) is free too. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    if (port + 10000 <= 65535 && (await isFree(port + 10000))) return port;
  }
  throw new Error("no free port pair found");
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** Sends one inline command over a raw socket; resolves with the raw reply text. */
export function rawCommand(port: number, command: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let buf = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from ${port}`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (d) => {
      buf += d.toString();
      if (buf.endsWith("\r\n")) {
        clearTimeout(timer);
        socket.end();
        resolve(buf);
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Polls `check` (a throw counts as "not yet") until it holds, or fails naming `what`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  pollMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** SIGKILL: the process dies without saving anything. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that accepts connections but never answers. */
  pause(): void;
  resume(): void;
  /** Starts the same server again (same port, dir and config: AOF is replayed). */
  restart(): Promise<void>;
  /** Stops the process and removes its directory. */
  stop(): Promise<void>;
  /** One command through redis-cli; returns its trimmed output. */
  cli(...args: string[]): string;
  /** The same without blocking the event loop (for use while load is running). */
  cliAsync(...args: string[]): Promise<string>;
}

export interface RedisServerOptions {
  /** appendonly yes + appendfsync always: every acknowledged write survives a SIGKILL. */
  aof?: boolean;
  /** Extra `--name value` arguments. */
  args?: string[];
  /** Start with this port (for restarts); default a free one. */
  port?: number;
  /** Run `redis-server <file>` with a config file instead (Sentinel). */
  sentinel?: boolean;
}

/** Starts one redis-server (or sentinel) on a free port and waits until it answers PING. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisProcess> {
  requireBinary("redis-server");
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `sessiond-redis-${port}-`));
  const args = options.sentinel
    ? sentinelArgs(dir, port, options.args ?? [])
    : [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        options.aof ? "yes" : "no",
        ...(options.aof ? ["--appendfsync", "always"] : []),
        "--protected-mode",
        "no",
        "--loglevel",
        "warning",
        // A replica's first sync would otherwise wait 5 s for others to join it.
        "--repl-diskless-sync-delay",
        "0",
        ...(options.args ?? []),
      ];
  let child: ChildProcess | undefined;
  const launch = async () => {
    const proc = spawn("redis-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr?.on("data", (d) => {
      stderr += d.toString();
    });
    live.add(proc);
    proc.on("exit", () => live.delete(proc));
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) =>
        reject(new Error(`redis-server on ${port} exited with ${code}: ${stderr}`)),
      ),
    );
    exited.catch(() => {});
    try {
      await Promise.race([
        waitFor(`redis-server on ${port}`, async () =>
          /^(\+PONG|-NOAUTH)/.test(await rawCommand(port, "PING")),
        ),
        exited,
      ]);
    } catch (err) {
      proc.kill("SIGKILL");
      throw err;
    }
  };
  const kill = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await gone;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    restart: launch,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    cli(...cliArgs: string[]) {
      const out = spawnSync("redis-cli", ["-p", String(port), ...cliArgs], { encoding: "utf8" });
      if (out.error) throw new Error(`redis-cli failed: ${out.error.message}; ${INSTALL_HINT}`);
      return out.stdout.trim();
    },
    cliAsync: (...cliArgs: string[]) => redisCliAsync(["-p", String(port), ...cliArgs]),
  };
}

/**
 * redis-cli in a child process, awaited without blocking the event loop; rejects with its
 * output when it exits non-zero.
 */
export function redisCliAsync(args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn("redis-cli", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout?.on("data", (d) => {
      out += d.toString();
    });
    proc.stderr?.on("data", (d) => {
      out += d.toString();
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`redis-cli failed: ${err.message}; ${INSTALL_HINT}`));
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`redis-cli ${args.join(" ")} exited ${code ?? signal}: ${out.trim()}`));
    });
  });
}

function sentinelArgs(dir: string, port: number, monitor: string[]): string[] {
  const conf = join(dir, "sentinel.conf");
  writeFileSync(
    conf,
    [`port ${port}`, "bind 127.0.0.1", `dir ${dir}`, "protected-mode no", ...monitor, ""].join(
      "\n",
    ),
  );
  return [conf, "--sentinel"];
}

export interface RedisCluster {
  readonly nodes: RedisProcess[];
  /** "host:port" seeds, as SESSIOND_REDIS_CLUSTER_NODES takes them. */
  readonly seeds: string[];
  /** The same seeds as the library takes them. */
  readonly seedAddresses: { host: string; port: number }[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** appendonly yes + appendfsync always on every node. */
  aof?: boolean;
  /** Replicas per master (default 0); nodes[0..masters-1] start as the masters. */
  replicas?: number;
  /** cluster-node-timeout in ms (default 2000). */
  nodeTimeoutMs?: number;
}

/**
 * `masters` masters (with `replicas` replicas each), all 16384 slots assigned,
 * cluster_state:ok on every node and every replica in sync. With `aof`, every node runs
 * appendonly + appendfsync always, so a killed and restarted node comes back with its data.
 */
export async function startCluster(
  masters = 3,
  options: ClusterOptions = {},
): Promise<RedisCluster> {
  requireBinary("redis-cli");
  const replicas = options.replicas ?? 0;
  const nodes: RedisProcess[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await freePort());
    nodes.push(
      ...(await Promise.all(
        ports.map((port) =>
          startRedis({
            port,
            aof: options.aof,
            args: [
              "--cluster-enabled",
              "yes",
              "--cluster-config-file",
              `nodes-${port}.conf`,
              "--cluster-node-timeout",
              String(options.nodeTimeoutMs ?? 2000),
            ],
          }),
        ),
      )),
    );
    const seeds = nodes.map((n) => `127.0.0.1:${n.port}`);
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...seeds, "--cluster-replicas", String(replicas), "--cluster-yes"],
      { encoding: "utf8" },
    );
    if (created.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    }
    for (const node of nodes) {
      await waitFor(
        `cluster_state:ok on ${node.port}`,
        async () => node.cli("cluster", "info").includes("cluster_state:ok"),
        20_000,
      );
    }
    for (const node of nodes.slice(masters)) {
      await waitFor(
        `replica ${node.port} in sync`,
        async () => node.cli("info", "replication").includes("master_link_status:up"),
        20_000,
      );
    }
    return {
      nodes,
      seeds: seeds.slice(0, masters),
      seedAddresses: nodes.slice(0, masters).map((n) => ({ host: "127.0.0.1", port: n.port })),
      async stop() {
        await Promise.all(nodes.map((n) => n.stop()));
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}

export interface SentinelGroup {
  readonly master: RedisProcess;
  /** The first replica, if any. */
  readonly replica: RedisProcess | undefined;
  readonly replicas: RedisProcess[];
  /** The first Sentinel. */
  readonly sentinel: RedisProcess;
  readonly sentinelNodes: RedisProcess[];
  readonly name: string;
  /** "host:port" of every Sentinel, as SESSIOND_REDIS_SENTINELS takes them. */
  readonly sentinels: string[];
  /** The same Sentinels as the library takes them. */
  readonly sentinelAddresses: { host: string; port: number }[];
  /** The master's port as the first Sentinel currently reports it. */
  masterPort(): number;
  stop(): Promise<void>;
}

export interface SentinelGroupOptions {
  /** One replica (same as replicas: 1). */
  replica?: boolean;
  /** Replicas of the master, each attached and in sync before the Sentinels start. */
  replicas?: number;
  /** Sentinels (default 1); the quorum is a majority of them. */
  sentinels?: number;
  /** down-after-milliseconds (default 500). */
  downAfterMs?: number;
  /** appendonly yes + appendfsync always on the master and the replicas. */
  aof?: boolean;
  name?: string;
}

/**
 * A master, its replicas (attached and in sync before the Sentinels start, so that they
 * see them at once), and Sentinels with a majority quorum and a fast failure detector
 * (down-after-milliseconds 500 unless told). With several Sentinels it returns once each
 * sees all the others, so that a fail-over can be agreed at once.
 */
export async function startSentinelGroup(
  options: SentinelGroupOptions = {},
): Promise<SentinelGroup> {
  const name = options.name ?? "sessiond-master";
  const replicaCount = options.replicas ?? (options.replica ? 1 : 0);
  const sentinelCount = options.sentinels ?? 1;
  const quorum = Math.floor(sentinelCount / 2) + 1;
  const started: RedisProcess[] = [];
  try {
    const master = await startRedis({ aof: options.aof });
    started.push(master);
    const replicas = await Promise.all(
      Array.from({ length: replicaCount }, () =>
        startRedis({ aof: options.aof, args: ["--replicaof", "127.0.0.1", String(master.port)] }),
      ),
    );
    started.push(...replicas);
    for (const r of replicas) {
      await waitFor("replica in sync", async () =>
        r.cli("info", "replication").includes("master_link_status:up"),
      );
    }
    const sentinelNodes: RedisProcess[] = [];
    for (let i = 0; i < sentinelCount; i++) {
      const sentinel: RedisProcess = await startRedis({
        sentinel: true,
        args: [
          `sentinel monitor ${name} 127.0.0.1 ${master.port} ${quorum}`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 500}`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
        ],
      });
      started.push(sentinel);
      sentinelNodes.push(sentinel);
    }
    for (const sentinel of sentinelNodes) {
      await waitFor("sentinel sees the master", async () =>
        sentinel.cli("sentinel", "get-master-addr-by-name", name).includes(String(master.port)),
      );
      for (const r of replicas) {
        await waitFor("sentinel sees the replica", async () =>
          sentinel.cli("sentinel", "replicas", name).includes(String(r.port)),
        );
      }
      if (sentinelCount > 1) {
        // Sentinels find each other through hello messages on the master (every 2 s).
        await waitFor(
          "sentinel sees the other sentinels",
          async () =>
            (sentinel.cli("sentinel", "sentinels", name).match(/^name$/gm) ?? []).length >=
            sentinelCount - 1,
          20_000,
        );
      }
    }
    const first = sentinelNodes[0] as RedisProcess;
    return {
      master,
      replica: replicas[0],
      replicas,
      sentinel: first,
      sentinelNodes,
      name,
      sentinels: sentinelNodes.map((s) => `127.0.0.1:${s.port}`),
      sentinelAddresses: sentinelNodes.map((s) => ({ host: "127.0.0.1", port: s.port })),
      masterPort() {
        const out = first.cli("sentinel", "get-master-addr-by-name", name).split("\n");
        return Number(out[1]);
      },
      async stop() {
        await Promise.all(started.map((p) => p.stop()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((p) => p.stop()));
    throw err;
  }
}
