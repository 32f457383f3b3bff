import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../bench/freePort.js";

/**
 * A private redis-server on a loopback port with appendonly + appendfsync always: it
 * answers a write only once it is on disk, so a SIGKILL loses nothing it acknowledged and
 * a restart on the same directory replays it all.
 */
export class RedisProcess {
  #child: ChildProcess | undefined;
  #stopped = false;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(
      await freePort(),
      mkdtempSync(join(tmpdir(), "sessiond-reliability-redis-")),
    );
    await redis.#launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** SIGKILL: nothing is flushed beyond what every acknowledged write already fsynced. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.resume();
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await gone;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.#launch();
  }

  /** SIGSTOP: connections stay open and nothing answers. */
  pause(): void {
    if (this.#stopped) return;
    this.#child?.kill("SIGSTOP");
    this.#stopped = true;
  }

  resume(): void {
    if (!this.#stopped) return;
    this.#child?.kill("SIGCONT");
    this.#stopped = false;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #launch(): Promise<void> {
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--protected-mode",
        "no",
        "--logfile",
        join(this.dir, "redis.log"),
      ],
      { stdio: "ignore" },
    );
    this.#child = child;
    this.#stopped = false;
    let exit: string | undefined;
    child.once("exit", (code, signal) => {
      exit = String(code ?? signal);
    });
    child.once("error", (err) => {
      exit = err.message;
    });
    const deadline = Date.now() + 15_000;
    while (!(await answersPing(this.port))) {
      if (exit !== undefined) {
        throw new Error(`redis-server exited (${exit}); see ${join(this.dir, "redis.log")}`);
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.port}`);
      await sleep(50);
    }
  }
}

/** PING over a raw socket; true once it answers +PONG (an AOF still loading answers -LOADING). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 500);
    let reply = "";
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString();
      if (!reply.includes("\r\n")) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply.startsWith("+PONG"));
    });
    socket.once("error", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(false);
    });
  });
}
