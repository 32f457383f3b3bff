/**
 * Starts real redis-server processes on free loopback ports for one test, and stops them.
 * Single node (optionally with AOF), a 3-master Cluster, and master + replica + Sentinel.
 * Every process started here is killed when the test process exits, even on a crash.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const INSTALL_HINT = "install redis-server (apt-get install -y redis-server)";
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function requireBinary(name: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  if (found.status !== 0) throw new Error(`${name} not found: ${INSTALL_HINT}`);
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

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
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
  };
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
  stop(): Promise<void>;
}

/**
 * Three masters, no replicas, all 16384 slots assigned, cluster_state:ok on every node.
 * With `aof`, every node runs appendonly + appendfsync always, so a killed and restarted
 * node comes back with its data.
 */
export async function startCluster(
  masters = 3,
  options: { aof?: boolean } = {},
): Promise<RedisCluster> {
  requireBinary("redis-cli");
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      nodes.push(
        await startRedis({
          port,
          aof: options.aof,
          args: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            `nodes-${port}.conf`,
            "--cluster-node-timeout",
            "2000",
          ],
        }),
      );
    }
    const seeds = nodes.map((n) => `127.0.0.1:${n.port}`);
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...seeds, "--cluster-replicas", "0", "--cluster-yes"],
      { encoding: "utf8" },
    );
    if (created.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    }
    for (const node of nodes) {
      await waitFor(`cluster_state:ok on ${node.port}`, async () =>
        node.cli("cluster", "info").includes("cluster_state:ok"),
      );
    }
    return {
      nodes,
      seeds,
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
  readonly replica: RedisProcess | undefined;
  readonly sentinel: RedisProcess;
  readonly name: string;
  /** "host:port" of the Sentinel, as SESSIOND_REDIS_SENTINELS takes it. */
  readonly sentinels: string[];
  /** The master's port as the Sentinel currently reports it. */
  masterPort(): number;
  stop(): Promise<void>;
}

/**
 * A master, optionally one replica (attached and in sync before the Sentinel starts, so
 * the Sentinel sees it at once), and one Sentinel with quorum 1 and a fast failure
 * detector (down-after-milliseconds 500).
 */
export async function startSentinelGroup(
  options: { replica?: boolean; name?: string } = {},
): Promise<SentinelGroup> {
  const name = options.name ?? "sessiond-master";
  const started: RedisProcess[] = [];
  try {
    const master = await startRedis();
    started.push(master);
    let replica: RedisProcess | undefined;
    if (options.replica) {
      replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
      started.push(replica);
      const r = replica;
      await waitFor("replica in sync", async () =>
        r.cli("info", "replication").includes("master_link_status:up"),
      );
    }
    const sentinel = await startRedis({
      sentinel: true,
      args: [
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} 500`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
      ],
    });
    started.push(sentinel);
    await waitFor("sentinel sees the master", async () =>
      sentinel.cli("sentinel", "get-master-addr-by-name", name).includes(String(master.port)),
    );
    if (replica) {
      const r = replica;
      await waitFor("sentinel sees the replica", async () =>
        sentinel.cli("sentinel", "replicas", name).includes(String(r.port)),
      );
    }
    return {
      master,
      replica,
      sentinel,
      name,
      sentinels: [`127.0.0.1:${sentinel.port}`],
      masterPort() {
        const out = sentinel.cli("sentinel", "get-master-addr-by-name", name).split("\n");
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
