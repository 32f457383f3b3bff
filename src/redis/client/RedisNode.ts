import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import type { Logger } from "../../core/Logger.js";
import { abortable, throwIfCancelled } from "../../core/storage/cancellation.js";
import type { CallSignal } from "../../core/storage/Storage.js";
import type { ScriptCommands } from "../storage/scripts.js";
import type { ClientCache } from "./ClientCache.js";
import { NodeTracking } from "./NodeTracking.js";
import { DeadlineError, NotReplicatedError, NotSentError } from "./redisErrors.js";

/** Lua scripts a node's client defines (ioredis `defineCommand`), by command name. */
export type ScriptTable = Readonly<Record<string, { readonly lua: string; readonly keys: number }>>;

export interface RedisNodeInit {
  /** For messages and logs, e.g. "redis 127.0.0.1:6379" or "Cluster master 10.0.0.1:7000". */
  name: string;
  timeoutMs: number;
  logger?: Logger;
  /**
   * How long after losing its connection calls still wait for a reconnect (a restart, a
   * Sentinel fail-over). 0 for Cluster masters: a dead shard must fail fast, and the
   * Cluster promotes a replica under another address anyway.
   */
  reconnectGraceMs: number;
  /** Replicas that must confirm a write (WAIT) before it is acknowledged; 0: none. */
  waitReplicas: number;
  waitTimeoutMs: number;
  /** Close the client with the node (false for a client the caller passed in). */
  ownsClient: boolean;
  /** Describes what is down when the client's own last error does not (Sentinel). */
  describeError?: (lastError: string) => string;
  /** Defined on the client, so that every node (each Cluster master too) has them. */
  scripts: ScriptTable;
  /** Client-side caching: this node's connection tracks what it reads (see NodeTracking). */
  clientCache?: ClientCache | undefined;
}

interface Waiter {
  deadline: number;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * One connection to one Redis server (a single node, the Sentinel-managed master, or
 * one Cluster master) and everything sessiond knows about its health:
 *
 * - down (socket lost): calls wait for a reconnect only within the grace, then fail at
 *   once without being sent;
 * - stalled (a call's deadline passed with its command unanswered, e.g. SIGSTOP): calls
 *   fail at once without being sent until the server answers anything again; after two
 *   bounds of silence the socket is dropped and reopened;
 * - WAIT: writes whose replies arrived are confirmed by one WAIT per batch, sent on this
 *   same connection (WAIT counts the writes of its own connection).
 */
export class RedisNode {
  readonly client: Redis;
  readonly name: string;
  /** With client-side caching: what keeps the cache coherent with this node. */
  readonly tracking: NodeTracking | undefined;
  readonly #init: RedisNodeInit;
  #wasReady = false;
  #connected = false;
  #closed = false;
  #reviving = false;
  #lastError = "";
  #downSince: number | undefined = Date.now();
  /** When a call's deadline passed on this node with no reply since. */
  #stalledSince: number | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  readonly #readyWaiters = new Set<() => void>();
  readonly #errorsLogged = new Set<string>();
  #waitBatch: Waiter[] = [];
  #waitInFlight = false;

  constructor(client: Redis, init: RedisNodeInit) {
    this.client = client;
    this.name = init.name;
    this.#init = init;
    // Every node's client gets every script: a Cluster's are made here, not by the storage.
    for (const [name, script] of Object.entries(init.scripts)) {
      client.defineCommand(name, { lua: script.lua, numberOfKeys: script.keys });
    }
    // Without an 'error' listener ioredis reports "Unhandled error event" on every retry.
    client.on("error", (err: Error) => this.#onError(err));
    client.on("ready", () => this.#onReady());
    client.on("close", () => this.#onLost());
    client.on("end", () => this.#onLost());
    if (client.status === "ready") this.#onReady();
    this.tracking =
      init.clientCache === undefined
        ? undefined
        : new NodeTracking(client, {
            name: init.name,
            cache: init.clientCache,
            logger: init.logger,
          });
  }

  get commands(): ScriptCommands {
    return this.client as unknown as ScriptCommands;
  }

  /** True when calls would be sent right now. */
  get healthy(): boolean {
    return this.client.status === "ready" && this.#stalledSince === undefined && !this.#closed;
  }

  /** Why the node is not healthy, for messages and health logs. */
  trouble(): string | undefined {
    if (this.#closed) return "redis storage is closed";
    if (this.#stalledSince !== undefined) {
      const silent = Date.now() - this.#stalledSince + this.#init.timeoutMs;
      return `${this.name}: no answer for ${silent} ms (hung or overloaded)`;
    }
    if (this.client.status === "ready") return undefined;
    const down = this.#downSince === undefined ? 0 : Date.now() - this.#downSince;
    return `${this.name}: ${this.#wasReady ? `no connection for ${down} ms` : "not connected yet"}${this.#why()}`;
  }

  /**
   * Runs `op` on this node within `deadline`. Rejects with NotSentError when the node is
   * known to be down (nothing sent); with `write` and WAIT configured, resolves only once
   * enough replicas confirmed it.
   */
  async send<T>(
    op: (commands: ScriptCommands) => Promise<T>,
    deadline: number,
    write: boolean,
    commands: ScriptCommands = this.commands,
    signal?: CallSignal,
  ): Promise<T> {
    await abortable(this.#whenUsable(deadline), signal, "unsent");
    throwIfCancelled(signal);
    // Once sent, a command cannot be called back: a cancel now only stops the waiting
    // (ioredis never re-sends it: autoResendUnfulfilledCommands is off).
    const stage = write ? "writing" : "reading";
    const result = await abortable(this.#bounded(op(commands), deadline), signal, stage);
    if (write && this.#init.waitReplicas > 0) {
      await abortable(this.#confirm(deadline), signal, "writing");
    }
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#stallTimer);
    this.tracking?.close(!this.#init.ownsClient);
    for (const wake of this.#readyWaiters) wake();
    if (!this.#init.ownsClient) return;
    if (this.client.status === "ready") {
      await Promise.race([
        this.client.quit().catch(() => {}),
        sleep(this.#init.timeoutMs, undefined, { ref: false }),
      ]);
    }
    this.client.disconnect();
  }

  #whenUsable(deadline: number): Promise<void> {
    if (this.#closed) return Promise.reject(new NotSentError("redis storage is closed"));
    if (this.#stalledSince !== undefined) {
      return Promise.reject(new NotSentError(this.trouble()));
    }
    if (this.client.status === "ready") return Promise.resolve();
    // Early in an outage a call waits for a reconnect (a fail-over, a restart); once the
    // node has been gone longer than the grace, calls fail at once instead of each holding
    // a request open for the whole bound. Before the first connection, calls wait.
    const down = this.#downSince === undefined ? 0 : Date.now() - this.#downSince;
    if (this.#wasReady && down >= this.#init.reconnectGraceMs) {
      return Promise.reject(new NotSentError(this.trouble()));
    }
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.#readyWaiters.delete(wake);
        if (this.#closed) reject(new NotSentError("redis storage is closed"));
        else resolve();
      };
      const timer = setTimeout(
        () => {
          this.#readyWaiters.delete(wake);
          reject(
            new NotSentError(
              `${this.name}: no connection within ${this.#init.timeoutMs} ms${this.#why()}`,
            ),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      this.#readyWaiters.add(wake);
    });
  }

  /** Rejects once `deadline` passes; the late outcome is dropped, and marks the node stalled. */
  #bounded<T>(promise: Promise<T>, deadline: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#markStalled();
          reject(new DeadlineError(`${this.name}: no answer within ${this.#init.timeoutMs} ms`));
        },
        Math.max(0, deadline - Date.now()),
      );
      promise.then(
        (value) => {
          clearTimeout(timer);
          this.#answered();
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (err instanceof Error && err.name === "ReplyError") this.#answered();
          reject(err);
        },
      );
    });
  }

  #markStalled(): void {
    if (this.#stalledSince !== undefined || this.#closed) return;
    this.#stalledSince = Date.now();
    this.tracking?.doubt("no answer within the bound");
    this.#init.logger?.warn("redis not answering", {
      target: this.name,
      timeoutMs: this.#init.timeoutMs,
    });
    // Replies still due keep the socket busy; a server that never answers (a black-holed
    // network) would hold the node stalled forever, so after two bounds start over.
    this.#stallTimer = setTimeout(() => {
      if (this.#stalledSince === undefined || this.#closed) return;
      this.#init.logger?.warn("redis still not answering; reconnecting", { target: this.name });
      // Still stalled until the socket is gone ('close' clears it): a call sent now would
      // sit in the closing socket's buffer, and could run when the server wakes.
      this.client.disconnect(true);
    }, 2 * this.#init.timeoutMs);
    this.#stallTimer.unref();
  }

  #answered(): void {
    if (this.#stalledSince === undefined) return;
    this.#stalledSince = undefined;
    clearTimeout(this.#stallTimer);
    this.#init.logger?.info("redis answering again", { target: this.name });
  }

  /** One WAIT for every write whose reply arrived since the last WAIT was sent. */
  #confirm(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waitBatch.push({ deadline, resolve, reject });
      if (this.#waitInFlight) return;
      // Replies parsed from one socket read resolve together: let them all join this WAIT.
      this.#waitInFlight = true;
      setImmediate(() => this.#sendWait());
    });
  }

  #sendWait(): void {
    const batch = this.#waitBatch;
    this.#waitBatch = [];
    const { waitReplicas: wanted, waitTimeoutMs } = this.#init;
    let settled = false;
    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const w of batch) {
        if (err) w.reject(err);
        else w.resolve();
      }
      this.#waitInFlight = false;
      if (this.#waitBatch.length > 0) {
        this.#waitInFlight = true;
        setImmediate(() => this.#sendWait());
      }
    };
    // One timer per batch, not per write: the batch's earliest deadline bounds them all
    // (a WAIT answers within waitTimeoutMs unless the server hangs).
    // A loop, not Math.min(...): a batch can hold more writes than a call may take arguments.
    let earliest = Number.POSITIVE_INFINITY;
    for (const w of batch) earliest = Math.min(earliest, w.deadline);
    const timer = setTimeout(
      () =>
        settle(
          new NotReplicatedError(
            `${this.name}: the write was applied on the master but no replica confirmed it within the bound; it may exist on the master only`,
          ),
        ),
      Math.max(0, earliest - Date.now()),
    );
    this.client.wait(wanted, waitTimeoutMs).then(
      (acked) => {
        settle(
          Number(acked) >= wanted
            ? undefined
            : new NotReplicatedError(
                `${this.name}: the write was applied on the master but only ${acked} of ${wanted} replicas confirmed it within ${waitTimeoutMs} ms; it may exist on the master only (and may survive or be lost in a fail-over)`,
              ),
        );
      },
      (err: Error) =>
        settle(
          new NotReplicatedError(
            `${this.name}: the write was applied on the master but its replica confirmation failed (${err.message}); it may exist on the master only`,
          ),
        ),
    );
  }

  #why(): string {
    if (!this.#lastError) return "";
    const described = this.#init.describeError?.(this.#lastError) ?? this.#lastError;
    return `: ${described}`;
  }

  #onReady(): void {
    if (this.#connected && this.#downSince === undefined) return;
    this.#init.logger?.info("redis connected", { target: this.name, reconnected: this.#wasReady });
    this.#wasReady = true;
    this.#connected = true;
    this.#downSince = undefined;
    this.#lastError = "";
    this.#errorsLogged.clear();
    for (const wake of [...this.#readyWaiters]) wake();
  }

  #onLost(): void {
    if (this.client.status === "ready" || this.#closed) return;
    this.#downSince ??= Date.now();
    this.#stalledSince = undefined;
    clearTimeout(this.#stallTimer);
    if (this.#connected) {
      this.#connected = false;
      this.#init.logger?.warn("redis connection lost", { target: this.name });
    }
    if (this.client.status === "end" && this.#init.ownsClient) this.#revive();
  }

  /**
   * ioredis can give up for good (status "end") in corner cases, e.g. when the Sentinel
   * connector is interrupted mid-reconnect. A storage must recover by itself, so it
   * starts over rather than failing every call until the process restarts.
   */
  #revive(): void {
    if (this.#reviving) return;
    this.#reviving = true;
    this.#init.logger?.warn("redis client stopped reconnecting; starting over", {
      target: this.name,
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
    this.#init.logger?.warn("redis error", { target: this.name, error: err.message });
  }
}
