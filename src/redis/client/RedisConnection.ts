import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import type { Logger } from "../../core/Logger.js";
import { SessionError } from "../../core/SessionError.js";
import { abortable, throwIfCancelled } from "../../core/storage/cancellation.js";
import type { CallSignal } from "../../core/storage/Storage.js";
import { DEFAULT_REDIS_TIMEOUT_MS, DEFAULT_WAIT_TIMEOUT_MS } from "../defaults.js";
import type { ScriptCommands } from "../storage/scripts.js";
import { ClientCache } from "./ClientCache.js";
import { ClusterRouter } from "./ClusterRouter.js";
import { keySlot } from "./keySlot.js";
import type { NodeTracking } from "./NodeTracking.js";
import { RedisNode, type ScriptTable } from "./RedisNode.js";
import type { RedisTarget } from "./RedisTarget.js";
import { classify, DeadlineError, NotSentError, toSessionError } from "./redisErrors.js";

export interface RedisConnectionInit {
  /** The Lua scripts every node defines (see RedisNode). */
  scripts: ScriptTable;
  /** Bound on one storage call, waiting for a connection and retries included. Default 1000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  /** Where the client points, for logs only; must not contain a password. */
  target?: string;
  /** Close the client with the storage (true when sessiond created it). */
  ownsClient?: boolean;
  /** Replicas that must confirm each write (Redis WAIT) before it is acknowledged. Default 0. */
  waitReplicas?: number;
  /** How long one WAIT may block; below timeoutMs. Default DEFAULT_WAIT_TIMEOUT_MS. */
  waitTimeoutMs?: number;
  /** Server-assisted client-side caching within this many bytes (see ClientCache). */
  clientCacheBytes?: number | undefined;
}

export interface RunOptions {
  /** The key the command touches: picks the Cluster shard. */
  key?: string;
  /** A write: confirmed by WAIT when configured; its failure says whether it was applied. */
  write?: boolean;
  /**
   * The caller's cancellation: no attempt starts once it is aborted, and a call waiting
   * for a connection or an answer rejects at once (saying whether the command was sent).
   */
  signal?: CallSignal | undefined;
}

/** Pause before retrying a reply that proves the command did not run (CLUSTERDOWN...). */
const RETRY_PAUSE_MS = 25;

/**
 * Sends a storage's commands with the failure behaviour sessiond promises: every call
 * ends within `timeoutMs`, with its result or `unavailable`, and sessiond alone decides
 * about retries (ioredis never re-sends anything):
 *
 * - a command is sent once; it is tried again only when Redis' reply proves it did not
 *   run (MOVED and ASK are followed, CLUSTERDOWN, TRYAGAIN, LOADING, READONLY,
 *   MASTERDOWN, BUSY retried after a pause), and only before the call's deadline;
 * - a call that fails says "not applied" when the command never ran (not sent: its node
 *   known down; or refused by Redis), "may have been applied" when it was sent and no
 *   reply came (the connection died, the deadline passed);
 * - a Cluster is routed here, one connection per master, so a dead shard fails fast
 *   while the others carry on (see ClusterRouter).
 */
export class RedisConnection {
  /**
   * The single node's or Sentinel set-up's client; undefined for a Cluster, where each
   * master has its own (ClusterRouter).
   */
  readonly client: Redis | undefined;
  readonly timeoutMs: number;
  /** The local cache of reads, kept coherent by Redis (undefined: caching off). */
  readonly clientCache: ClientCache | undefined;
  readonly #node: RedisNode | undefined;
  readonly #router: ClusterRouter | undefined;
  readonly #target: string;
  readonly #logger: Logger | undefined;
  #closed = false;
  #shardTrouble: string[] = [];

  constructor(target: RedisTarget, options: RedisConnectionInit) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    this.#target = options.target ?? "redis";
    this.#logger = options.logger;
    const waitReplicas = options.waitReplicas ?? 0;
    const waitTimeoutMs = options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const bytes = options.clientCacheBytes;
    this.clientCache = bytes === undefined ? undefined : new ClientCache(bytes);
    if (target.kind === "cluster") {
      this.client = undefined;
      this.#router = new ClusterRouter({
        seeds: target.seeds,
        nodeOptions: target.nodeOptions,
        timeoutMs: this.timeoutMs,
        waitReplicas,
        waitTimeoutMs,
        logger: this.#logger,
        scripts: options.scripts,
        clientCache: this.clientCache,
      });
    } else {
      const client = target.client;
      this.client = client;
      this.#node = new RedisNode(client, {
        name: this.#target,
        timeoutMs: this.timeoutMs,
        logger: this.#logger,
        reconnectGraceMs: this.timeoutMs,
        waitReplicas,
        waitTimeoutMs,
        ownsClient: options.ownsClient ?? false,
        describeError:
          target.kind === "sentinel" ? sentinelDescriber(client, target.masterName) : undefined,
        scripts: options.scripts,
        clientCache: this.clientCache,
      });
    }
  }

  /**
   * With client-side caching, the tracking of the node that serves `key` now, when it is
   * up (a Cluster's from the current slot map, without waiting for one).
   */
  trackerFor(key: string): NodeTracking | undefined {
    const node = this.#node ?? this.#router?.peek(keySlot(key));
    const tracking = node?.tracking;
    return tracking?.ready && node?.healthy ? tracking : undefined;
  }

  /** Runs one command (or a few pipelined ones on the same key) within the deadline. */
  async run<T>(op: (commands: ScriptCommands) => Promise<T>, options: RunOptions = {}): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    const write = options.write ?? false;
    let asking: RedisNode | undefined;
    // Where the last MOVED pointed: the next attempt goes there even if the call named no
    // key (routing it by slot 0 again would only earn the same MOVED until the deadline).
    let movedTo: RedisNode | undefined;
    let redirects = 0;
    const signal = options.signal;
    for (;;) {
      let node: RedisNode | undefined;
      try {
        // Every attempt after the first follows a reply proving the last did not run.
        throwIfCancelled(signal);
        node =
          asking ??
          movedTo ??
          (await abortable(this.#route(options.key, deadline), signal, "unsent"));
        const commands = asking ? askingCommands(asking) : node.commands;
        asking = undefined;
        movedTo = undefined;
        return await node.send(op, deadline, write, commands, signal);
      } catch (err) {
        const failure = classify(err);
        const left = deadline - Date.now();
        if (this.#router && left > 0 && (failure.kind === "moved" || failure.kind === "ask")) {
          // A ping-pong of redirects during a re-shard must not spin: pause after a few.
          if (++redirects > 3) await sleep(Math.min(RETRY_PAUSE_MS, left));
          if (failure.kind === "moved") {
            this.#router.moved(failure.slot, failure.address);
            movedTo = this.#router.nodeAt(failure.address);
          } else asking = this.#router.nodeAt(failure.address);
          continue;
        }
        if (failure.kind === "retry" && left > RETRY_PAUSE_MS && !this.#closed) {
          this.#router?.refreshSoon();
          await sleep(RETRY_PAUSE_MS);
          continue;
        }
        throw this.#failed(err, node, write);
      }
    }
  }

  /**
   * Pings every master. Resolves when at least one answers (the others are listed by
   * shardTrouble()); rejects, saying what is down, when none does.
   */
  async ping(): Promise<void> {
    if (this.#node) {
      await this.run((c) => c.ping());
      this.#shardTrouble = [];
      return;
    }
    const router = this.#router as ClusterRouter;
    const deadline = Date.now() + this.timeoutMs;
    await router.route(0, deadline).catch(() => {});
    const masters = router.masters();
    const outcomes = await Promise.allSettled(
      masters.map((node) => node.send((c) => c.ping(), deadline, false)),
    );
    const trouble: string[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === "fulfilled") continue;
      const node = masters[i] as RedisNode;
      const reason = outcome.reason instanceof Error ? outcome.reason.message : "";
      trouble.push(`${node.trouble() ?? reason} (slots ${router.slotsOf(node)})`);
    }
    const unserved = router.unservedSlots();
    if (unserved > 0) trouble.push(`${unserved} slots have no master`);
    this.#shardTrouble = trouble;
    if (!outcomes.some((o) => o.status === "fulfilled")) {
      throw new SessionError(
        "unavailable",
        `redis unavailable: no Cluster master answers: ${trouble.join("; ") || "no slot map"}`,
        { reason: "STORAGE_UNAVAILABLE" },
      );
    }
  }

  /** What the last ping found down while other shards answered; empty when all answer. */
  shardTrouble(): readonly string[] {
    return this.#shardTrouble;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await (this.#node ?? this.#router)?.close();
  }

  #route(key: string | undefined, deadline: number): Promise<RedisNode> {
    if (this.#node) return Promise.resolve(this.#node);
    return (this.#router as ClusterRouter).route(key === undefined ? 0 : keySlot(key), deadline);
  }

  #failed(err: unknown, node: RedisNode | undefined, write: boolean): SessionError {
    if (this.#closed && !(err instanceof SessionError)) {
      return new SessionError("unavailable", "redis unavailable: redis storage is closed", {
        reason: "STORAGE_UNAVAILABLE",
      });
    }
    // Messages of sessiond's own errors name the node already; Redis' and ioredis' do not.
    const own = err instanceof NotSentError || err instanceof DeadlineError;
    const slots = node && this.#router ? ` (slots ${this.#router.slotsOf(node)})` : "";
    const where = own || !node ? "" : `${node.name}${slots}`;
    const error = toSessionError(err, where, write);
    if (error.code === "internal") {
      this.#logger?.error("redis command failed", {
        target: node?.name ?? this.#target,
        error: String(error.cause),
      });
    }
    return error;
  }
}

/** The client as a proxy that sends ASKING right before each command, on the same socket. */
function askingCommands(node: RedisNode): ScriptCommands {
  const client = node.client;
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        target.asking().catch(() => {});
        return value.apply(target, args);
      };
    },
  }) as unknown as ScriptCommands;
}

/**
 * ioredis says "All sentinels are unreachable" whenever it has tried each Sentinel once,
 * including when every Sentinel answered and only the master they named refused the
 * connection (a fail-over in progress). Say which it was.
 */
function sentinelDescriber(client: Redis, name: string): (lastError: string) => string {
  let masterError = "";
  client.on("error", (err: Error) => {
    if (!/sentinel/i.test(err.message)) masterError = err.message;
  });
  client.on("ready", () => {
    masterError = "";
  });
  return (lastError) => {
    if (!/All sentinels are unreachable/.test(lastError)) return lastError;
    const last = /Last error: (.*)$/.exec(lastError)?.[1];
    if (last !== undefined) return `no Sentinel answered for master "${name}": ${last}`;
    return `the Sentinels answered, but the master they name for "${name}" is unreachable${masterError ? `: ${masterError}` : ""}; a fail-over may be in progress`;
  };
}
