import { type ChildProcess, spawn } from "node:child_process";
import type { Exit, LogLine } from "./serverProcess.js";
import { REPO_ROOT } from "./serverProcess.js";

/** `src/server/main.ts` run under `prlimit --nofile=N:N`, its port read from its log. */
export interface FdLimitedServer {
  port: number;
  address: string;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM and wait for the exit (SIGKILL after a minute). */
  stop(): Promise<Exit>;
}

export async function startUnderFdLimit(limit: number, args: string[]): Promise<FdLimitedServer> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("SESSIOND_")) env[name] = value;
  }
  const child: ChildProcess = spawn(
    "prlimit",
    [
      `--nofile=${limit}:${limit}`,
      process.execPath,
      "--import",
      "tsx",
      "src/server/main.ts",
      "--port",
      "0",
      ...args,
    ],
    { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "pipe"] },
  );
  const lines: LogLine[] = [];
  const wake: Array<() => void> = [];
  let partial = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        lines.push({ level: "raw", msg: part });
      }
    }
    for (const w of wake.splice(0)) w();
  });
  const exited = new Promise<Exit>((resolve) =>
    child.on("close", (code, signal) => {
      resolve({ code, signal });
      for (const w of wake.splice(0)) w();
    }),
  );
  const waitForLog = async (predicate: (line: LogLine) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(predicate);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`no such log line:\n${lines.map((l) => JSON.stringify(l)).join("\n")}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  const listening = await waitForLog((line) => line.msg === "listening");
  const port = Number(listening.port);
  return {
    port,
    address: `127.0.0.1:${port}`,
    waitForLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
