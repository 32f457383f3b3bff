import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root, whatever the cwd of the test runner. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** The environment without the caller's SESSIOND_* variables, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("SESSIOND_")) env[name] = value;
  }
  return { ...env, ...extra };
}

function spawnMain(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "src/server/main.ts", ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Runs the server's command line to completion (for --help and bad settings). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const child = spawnMain(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`sessiond ${args.join(" ")} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export type LogLine = Record<string, unknown> & { level: string; msg: string };

/** A running `src/server/main.ts`, its port read from its own "listening" log line. */
export class ServerProcess {
  readonly child: ChildProcess;
  /** Every stderr line, in order, as written (expected to be JSON). */
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  port = 0;
  #waiters: Array<() => void> = [];

  private constructor(child: ChildProcess) {
    this.child = child;
    let partial = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      partial += chunk;
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      this.lines.push(...parts.filter((line) => line !== ""));
      for (const wake of [...this.#waiters]) wake();
    });
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        if (partial !== "") this.lines.push(partial);
        resolve({ code, signal });
        for (const wake of [...this.#waiters]) wake();
      });
    });
  }

  /**
   * Any launcher of the server (`npm start`, the bin, a unit's or a container's command
   * line), in a process group of its own, started as given and awaited until it listens.
   */
  static async launch(
    command: string,
    args: string[],
    options: { cwd: string; env?: Record<string, string> },
  ): Promise<ServerProcess> {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: cleanEnv(options.env ?? {}),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const server = new ServerProcess(child);
    try {
      const listening = await server.waitForLog((line) => line.msg === "listening");
      server.port = Number(listening.port);
    } catch (err) {
      if (child.exitCode === null && child.signalCode === null)
        process.kill(-(child.pid ?? 0), "SIGKILL");
      throw err;
    }
    return server;
  }

  /** Starts the server with --port 0 (unless args name a port) and waits until it listens. */
  static async start(
    args: string[] = [],
    env: Record<string, string> = {},
  ): Promise<ServerProcess> {
    const withPort = args.includes("--port") ? args : ["--port", "0", ...args];
    const server = new ServerProcess(spawnMain(withPort, env));
    const listening = await server.waitForLog((line) => line.msg === "listening");
    server.port = Number(listening.port);
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Parsed log lines; throws if any stderr line is not a JSON object. */
  logs(): LogLine[] {
    return this.lines.map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`stderr line is not JSON: ${line}`);
      }
    });
  }

  /** The first log line matching `predicate`, waiting for it (fails if the process exits). */
  async waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines
        .map((line) => {
          try {
            return JSON.parse(line) as LogLine;
          } catch {
            return undefined;
          }
        })
        .find((line) => line !== undefined && predicate(line));
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`sessiond exited before the awaited log line:\n${this.lines.join("\n")}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for a log line:\n${this.lines.join("\n")}`);
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((wake) => wake !== done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.push(done);
      });
    }
  }

  /** SIGTERM and wait for the exit; SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 60_000): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
    }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
