import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { READY_PREFIX } from "./readyLine.js";

export interface ChildServer<Info> {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly info: Info;
  stop(): Promise<void>;
}

/**
 * Starts `command args` pinned to one CPU with taskset (taskset execs the command, so the
 * pid is the server's own and /proc/<pid>/stat counts only its CPU time), and waits for
 * its READY line. Its stderr is kept, and shown if it dies before it is ready.
 */
export async function startPinned<Info>(
  name: string,
  cpu: number,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; readyTimeoutMs?: number } = {},
): Promise<ChildServer<Info>> {
  const child = spawn("taskset", ["-c", String(cpu), command, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const info = await new Promise<Info>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} was not ready within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (!line.startsWith(READY_PREFIX)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(READY_PREFIX.length)) as Info);
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`${name} exited (${code ?? signal}) before it was ready; stderr:\n${stderr}`),
      );
    });
  });
  const pid = child.pid as number;
  return {
    name,
    child,
    pid,
    info,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL if it lingers; resolves once the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
