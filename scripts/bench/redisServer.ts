import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "../../test/support/systemTools.js";
import { stopChild } from "./childServer.js";
import { freePort } from "./freePort.js";

export interface RedisServer {
  port: number;
  pid: number;
  url: string;
  flushAll(): void;
  stop(): Promise<void>;
}

/**
 * A private redis-server on a free port with its own temp dir, no persistence (the bench
 * measures sessiond, not fsync), pinned to `cpu`; with `replicaOf`, a replica of the
 * server on that port.
 */
export async function startRedis(cpu: number, replicaOf?: number): Promise<RedisServer> {
  requireTool("redis-server", "redis-server");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sessiond-bench-redis-"));
  const child = spawn(
    "taskset",
    [
      "-c",
      String(cpu),
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--logfile",
      join(dir, "redis.log"),
      // A replica (for the WAIT rows) syncs at once instead of after the 5 s default delay.
      "--repl-diskless-sync-delay",
      "0",
      ...(replicaOf === undefined ? [] : ["--replicaof", "127.0.0.1", String(replicaOf)]),
    ],
    { stdio: "ignore" },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
    const deadline = Date.now() + 10_000;
    const attempt = () => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.end();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
  child.removeAllListeners("exit");
  return {
    port,
    pid: child.pid as number,
    url: `redis://127.0.0.1:${port}`,
    flushAll: () => {
      execFileSync("redis-cli", ["-p", String(port), "flushall"], { stdio: "ignore" });
    },
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
