import type { Cluster, Redis } from "ioredis";
import type { Logger } from "../../common/Logger.js";
import { SessionError } from "../../common/SessionError.js";
import { toSessionError } from "./redisErrors.js";
import { SCRIPTS, type ScriptCommands } from "./scripts.js";

export type RedisClient = Redis | Cluster;

export interface RedisConnectionInit {
  /** Bound on one storage call, waiting for a connection included. Default 1000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  /** Where the client points, for logs only; must not contain a password. */
  target?: string;
  /** Close the client with the storage (true when sessiond created it). */
  ownsClient?: boolean;
}

/**
 * One ioredis client (single node, Sentinel or Cluster) shared by a storage, with the
 * failure behaviour sessiond promises: every call ends within `timeoutMs`, with its
 * result or `unavailable`. Calls made while the client is (re)connecting wait for it,
 * but only until their own deadline, and never sit in ioredis' offline queue, so a call
 * that was reported unavailable is not replayed later behind the caller's back.
 */
export class RedisConnection {
  readonly client: RedisClient;
  readonly timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #target: string;
  readonly #ownsClient: boolean;
  readonly #waiters = new Set<() => void>();
  #wasReady = false;
  #connected = false;
  #lastError = "";
  #closed = false;
  #reviving = false;
  /** When the connection was last lost (or the storage created); undefined while ready. */
  #downSince: number | undefined = Date.now();
  readonly #errorsLogged = new Set<string>();

  constructor(client: RedisClient, options: RedisConnectionInit = {}) {
    this.client = client;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.#logger = options.logger;
    this.#target = options.target ?? "redis";
    this.#ownsClient = options.ownsClient ?? false;
    for (const [name, script] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { lua: script.lua, numberOfKeys: script.keys });
    }
    // Without an 'error' listener ioredis reports "Unhandled error event" on every retry.
    client.on("error", (err: Error) => this.#onError(err));
    client.on("ready", () => this.#onReady());
    client.on("close", () => this.#onLost());
    client.on("end", () => this.#onLost());
  }

  get commands(): ScriptCommands {
    return this.client as unknown as ScriptCommands;
  }

  /** Runs one command (or a few pipelined ones) within the deadline. */
  async run<T>(op: (commands: ScriptCommands) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    try {
      if (this.client.status !== "ready") {
        // Early in an outage a call waits for a reconnect (a fail-over, a restart); once
        // Redis has been gone longer than the bound, calls fail at once instead of each
        // holding a request open for the whole bound.
        const down = this.#downSince === undefined ? 0 : Date.now() - this.#downSince;
        if (down > this.timeoutMs && !this.#closed) throw this.#downError(down);
        await this.#whenReady(deadline);
      }
      return await withDeadline(op(this.commands), deadline - Date.now(), this.timeoutMs);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("MOVED ")) this.#refreshSlots();
      const error = toSessionError(err);
      if (error.code === "internal") {
        this.#logger?.error("redis command failed", {
          target: this.#target,
          error: String(error.cause),
        });
      }
      throw error;
    }
  }

  /** A MOVED that ioredis did not follow: learn the new slot owners now, not at the next tick. */
  #refreshSlots(): void {
    const cluster = this.client as { refreshSlotsCache?: (cb?: (err?: Error) => void) => void };
    cluster.refreshSlotsCache?.(() => {});
  }

  async ping(): Promise<void> {
    await this.run((c) => c.ping());
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#waiters) wake();
    if (!this.#ownsClient) return;
    if (this.client.status === "ready") {
      try {
        await withDeadline(this.client.quit(), this.timeoutMs, this.timeoutMs);
      } catch {
        // Unanswered QUIT: drop the socket instead.
      }
    }
    this.client.disconnect();
  }

  #whenReady(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        reject(new SessionError("unavailable", why));
      };
      const wake = () => {
        if (this.#closed) {
          fail("redis storage is closed");
          return;
        }
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(
        () =>
          fail(
            `redis unavailable: no connection within ${this.timeoutMs} ms${this.#lastError ? ` (${this.#lastError})` : ""}`,
          ),
        Math.max(0, deadline - Date.now()),
      );
      if (this.#closed) {
        fail("redis storage is closed");
        return;
      }
      this.#waiters.add(wake);
    });
  }

  #downError(downMs: number): SessionError {
    const why = this.#lastError ? `: ${this.#lastError}` : "";
    return new SessionError(
      "unavailable",
      `redis unavailable: no connection for ${Math.round(downMs)} ms${why}`,
    );
  }

  #onReady(): void {
    this.#logger?.info("redis connected", {
      target: this.#target,
      reconnected: this.#wasReady,
    });
    this.#wasReady = true;
    this.#connected = true;
    this.#downSince = undefined;
    this.#lastError = "";
    this.#errorsLogged.clear();
    for (const wake of [...this.#waiters]) wake();
  }

  #onLost(): void {
    if (this.client.status === "ready") return;
    if (this.#closed) return;
    this.#downSince ??= Date.now();
    if (this.#connected) {
      this.#connected = false;
      this.#logger?.warn("redis connection lost", { target: this.#target });
    }
    if (this.client.status === "end" && this.#ownsClient) this.#revive();
  }

  /**
   * ioredis can give up for good (status "end") in corner cases, e.g. when the Sentinel
   * connector is interrupted mid-reconnect. A storage must recover by itself, so it
   * starts over rather than failing every call until the process restarts.
   */
  #revive(): void {
    if (this.#reviving) return;
    this.#reviving = true;
    this.#logger?.warn("redis client stopped reconnecting; starting over", {
      target: this.#target,
    });
    const timer = setTimeout(() => {
      this.#reviving = false;
      if (this.#closed || this.client.status !== "end") return;
      this.client.connect().catch(() => {
        // The 'error' and 'end' events report it, and bring us back here.
      });
    }, 200);
    timer.unref();
  }

  #onError(err: Error): void {
    this.#lastError = err.message;
    // Reconnect attempts repeat the same few errors every few ms: log each distinct one
    // once per outage.
    if (this.#errorsLogged.has(err.message) || this.#errorsLogged.size > 20) return;
    this.#errorsLogged.add(err.message);
    this.#logger?.warn("redis error", { target: this.#target, error: err.message });
  }
}

/** Rejects with `unavailable` once `ms` have passed; the late result is dropped quietly. */
function withDeadline<T>(promise: Promise<T>, ms: number, bound: number): Promise<T> {
  if (ms <= 0) {
    promise.catch(() => {});
    return Promise.reject(
      new SessionError("unavailable", `redis unavailable: no answer within ${bound} ms`),
    );
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new SessionError("unavailable", `redis unavailable: no answer within ${bound} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
