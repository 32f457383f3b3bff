import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { SERVER_NODE_FLAGS } from "../bench/serverFlags.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STDERR_TAIL_LINES = 40;

/** An exit of sessiond that the run did not cause. */
export interface Crash {
  at: Date;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines it wrote to stderr. */
  stderr: string[];
}

/**
 * sessiond's main.ts with npm start's Node flags, from the sources through tsx (users run
 * the same code compiled; faults, not speed, are what this measures), configured by SESSIOND_* variables, on a fixed loopback port so that clients
 * find it again after a restart. Tracks its peak RSS across restarts and every exit it
 * was not told to make.
 */
export class SessiondProcess {
  readonly crashes: Crash[] = [];
  /** Lines logged at level "error" (unexpected errors the server caught). */
  readonly errorLines: string[] = [];
  peakRssBytes = 0;
  #child: ChildProcess | undefined;
  #expectExit = false;
  #sampler: NodeJS.Timeout | undefined;
  #tail: string[] = [];
  #onCrash: (() => void) | undefined;

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    /** Command-line flags after src/server/main.ts. */
    private readonly args: readonly string[] = [],
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Called (once per crash) after an exit the run did not cause. */
  onCrash(fn: () => void): void {
    this.#onCrash = fn;
  }

  /** Starts it and resolves once it logged "listening". */
  async start(): Promise<void> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SESSIOND_")) env[k] = v;
    const child = spawn(
      process.execPath,
      [...SERVER_NODE_FLAGS, "--import", "tsx", "src/server/main.ts", ...this.args],
      {
        cwd: REPO_ROOT,
        env: {
          ...env,
          SESSIOND_HOST: "127.0.0.1",
          SESSIOND_PORT: String(this.port),
          SESSIOND_LOG_LEVEL: "error",
          ...this.env,
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    this.#child = child;
    this.#expectExit = false;
    this.#tail = [];
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    // An exit before "listening" is a failed start (retried by the caller, e.g. when the
    // port was taken meanwhile); a crash is an exit of a server that was serving.
    let serving = false;
    let listening: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      listening = () => {
        serving = true;
        resolve();
      };
    });
    lines.on("line", (line) => {
      this.#tail.push(line);
      if (this.#tail.length > STDERR_TAIL_LINES) this.#tail.shift();
      if (line.includes('"level":"error"')) this.errorLines.push(line);
      if (line.includes('"msg":"listening"')) listening();
    });
    const exited = new Promise<never>((_, reject) => {
      child.once("exit", (code, signal) => {
        clearInterval(this.#sampler);
        if (serving && !this.#expectExit) {
          this.crashes.push({ at: new Date(), code, signal, stderr: [...this.#tail] });
          this.#onCrash?.();
        }
        reject(new Error(`sessiond exited (${code ?? signal}):\n${this.#tail.join("\n")}`));
      });
    });
    exited.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("sessiond did not listen within 60 s")), 60_000);
    });
    try {
      await Promise.race([ready, exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
    clearInterval(this.#sampler);
    this.#sampler = setInterval(() => this.#sample(child.pid), 200).unref();
  }

  /** SIGKILL (counted as a fault, not a crash) and wait until it is gone. */
  async kill(): Promise<void> {
    await this.#signalAndWait("SIGKILL");
  }

  /** SIGTERM, the graceful shutdown; SIGKILL after 15 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await this.#signalAndWait("SIGTERM");
    clearTimeout(force);
  }

  async #signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    this.#sample(child.pid);
    this.#expectExit = true;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await gone;
  }

  /** VmHWM is the process's own peak RSS; VmRSS covers a kernel that does not report it. */
  #sample(pid: number | undefined): void {
    if (pid === undefined) return;
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      return; // already gone
    }
    for (const field of ["VmHWM", "VmRSS"]) {
      const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
      this.peakRssBytes = Math.max(this.peakRssBytes, kb * 1024);
    }
  }
}
