import { setTimeout as sleep } from "node:timers/promises";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../core/Logger.js";
import type { ClientCache } from "./ClientCache.js";
import { SLOT_COUNT } from "./keySlot.js";
import { RedisNode, type ScriptTable } from "./RedisNode.js";
import type { RedisAddress } from "./RedisTarget.js";
import { NotSentError } from "./redisErrors.js";

/** Pauses that must not keep the process alive on their own. */
const UNREF = { ref: false } as const;

export interface ClusterRouterInit {
  seeds: readonly RedisAddress[];
  /** ioredis options for every node connection (password, TLS...); sessiond's own win. */
  nodeOptions: RedisOptions;
  timeoutMs: number;
  waitReplicas: number;
  waitTimeoutMs: number;
  logger?: Logger;
  scripts: ScriptTable;
  clientCache?: ClientCache | undefined;
}

/** How often the slot map is re-read; faster while a slot has no healthy master. */
const REFRESH_MS = 2000;
const REFRESH_TROUBLED_MS = 250;

/**
 * Routes each command to the master of its key's slot, with one plain connection per
 * master, instead of ioredis' Cluster client, whose own retries re-send commands after
 * their call was answered, and whose one "ready" status hides a dead shard. The slot map
 * comes from CLUSTER SLOTS (at start, every few seconds, sooner after a MOVED or while a
 * master is down); MOVED and ASK are followed by RedisConnection.
 */
export class ClusterRouter {
  readonly #init: ClusterRouterInit;
  readonly #nodes = new Map<string, RedisNode>();
  #slots: (RedisNode | undefined)[] = new Array(SLOT_COUNT);
  #mapped = false;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastSoon = 0;
  #closed = false;
  #lastError = "";

  constructor(init: ClusterRouterInit) {
    this.#init = init;
    for (const seed of init.seeds) this.nodeAt(`${seed.host}:${seed.port}`);
    void this.refresh();
    this.#schedule();
  }

  /** The master for `slot`, waiting (within the deadline) for the first slot map only. */
  async route(slot: number, deadline: number): Promise<RedisNode> {
    if (!this.#mapped) await this.#firstMap(deadline);
    const node = this.#slots[slot];
    if (node === undefined) {
      this.refreshSoon();
      throw new NotSentError(`no Cluster master serves slot ${slot}${this.#why()}`);
    }
    if (!node.healthy) this.refreshSoon();
    return node;
  }

  /** The master the current slot map names for `slot`, without waiting for one. */
  peek(slot: number): RedisNode | undefined {
    return this.#slots[slot];
  }

  /** Any master, for commands that have no key (PING). */
  masters(): RedisNode[] {
    return [...new Set(this.#slots.filter((n): n is RedisNode => n !== undefined))];
  }

  /** The slot ranges `node` serves, e.g. "0-5460", for messages. */
  slotsOf(node: RedisNode): string {
    const ranges: string[] = [];
    let start = -1;
    for (let slot = 0; slot <= SLOT_COUNT; slot++) {
      const mine = slot < SLOT_COUNT && this.#slots[slot] === node;
      if (mine && start < 0) start = slot;
      if (!mine && start >= 0) {
        ranges.push(start === slot - 1 ? `${start}` : `${start}-${slot - 1}`);
        start = -1;
      }
    }
    return ranges.join(",");
  }

  /** Slots no master serves, as a count. */
  unservedSlots(): number {
    let count = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (this.#slots[slot] === undefined) count++;
    return count;
  }

  /** A MOVED reply: the slot lives elsewhere now. */
  moved(slot: number, address: string): void {
    this.#slots[slot] = this.nodeAt(address);
    this.refreshSoon();
  }

  /** The node at "host:port", connecting to it on first use. */
  nodeAt(address: string): RedisNode {
    let node = this.#nodes.get(address);
    if (node === undefined) {
      const cut = address.lastIndexOf(":");
      const host = address.slice(0, cut).replace(/^\[|\]$/g, "");
      const port = Number(address.slice(cut + 1));
      const client = new Redis({
        ...this.#init.nodeOptions,
        host,
        port,
        connectTimeout: Math.max(this.#init.timeoutMs, 1000),
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        retryStrategy: (times) => Math.min(times * 100, 1000),
      });
      node = new RedisNode(client, {
        name: `Cluster node ${address}`,
        timeoutMs: this.#init.timeoutMs,
        logger: this.#init.logger,
        reconnectGraceMs: 0,
        waitReplicas: this.#init.waitReplicas,
        waitTimeoutMs: this.#init.waitTimeoutMs,
        ownsClient: true,
        scripts: this.#init.scripts,
        clientCache: this.#init.clientCache,
      });
      this.#nodes.set(address, node);
    }
    return node;
  }

  /** Re-reads the slot map soon (at most every 100 ms however often it is asked). */
  refreshSoon(): void {
    const now = Date.now();
    if (now - this.#lastSoon < 100) return;
    this.#lastSoon = now;
    void this.refresh();
  }

  /** Reads CLUSTER SLOTS from whichever node answers first; one refresh at a time. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#readSlots().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await Promise.all([...this.#nodes.values()].map((n) => n.close()));
  }

  async #readSlots(): Promise<void> {
    if (this.#closed) return;
    const deadline = Date.now() + Math.min(this.#init.timeoutMs, 1000);
    const asked = [...this.#nodes.entries()];
    let reply: { from: string; slots: unknown[] };
    try {
      reply = await Promise.any(
        asked.map(async ([address, node]) => {
          const slots = await node.send(
            () => node.client.call("cluster", "slots") as Promise<unknown[]>,
            deadline,
            false,
          );
          return { from: address, slots };
        }),
      );
    } catch (err) {
      const errors = err instanceof AggregateError ? err.errors : [err];
      this.#lastError = `no node answered CLUSTER SLOTS: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ")}`;
      return;
    }
    if (this.#closed) return;
    const fromHost = reply.from.slice(0, reply.from.lastIndexOf(":"));
    const slots: (RedisNode | undefined)[] = new Array(SLOT_COUNT);
    const keep = new Set<RedisNode>();
    for (const entry of reply.slots as [number, number, [string, number]][]) {
      const [start, end, [host, port]] = entry;
      const node = this.nodeAt(`${host || fromHost}:${port}`);
      keep.add(node);
      for (let slot = start; slot <= end; slot++) slots[slot] = node;
    }
    this.#slots = slots;
    this.#mapped = true;
    this.#lastError = "";
    // Forget nodes that serve nothing now (a dead master replaced by its replica), except
    // the seeds; they come back through a MOVED or the next map if they serve again.
    const seeds = new Set(this.#init.seeds.map((s) => `${s.host}:${s.port}`));
    for (const [address, node] of this.#nodes) {
      if (!keep.has(node) && !seeds.has(address)) {
        this.#nodes.delete(address);
        void node.close();
      }
    }
  }

  async #firstMap(deadline: number): Promise<void> {
    while (!this.#mapped && !this.#closed && Date.now() < deadline) {
      const pause = () => sleep(Math.min(50, Math.max(0, deadline - Date.now())), undefined, UNREF);
      await Promise.race([this.refresh(), pause()]);
      if (!this.#mapped) await pause();
    }
    if (this.#closed) throw new NotSentError("redis storage is closed");
    if (!this.#mapped) throw new NotSentError(`no Cluster slot map yet${this.#why()}`);
  }

  #schedule(): void {
    if (this.#closed) return;
    const troubled =
      !this.#mapped || this.unservedSlots() > 0 || this.masters().some((n) => !n.healthy);
    this.#timer = setTimeout(
      () => {
        void this.refresh().finally(() => this.#schedule());
      },
      troubled ? REFRESH_TROUBLED_MS : REFRESH_MS,
    );
    this.#timer.unref();
  }

  #why(): string {
    return this.#lastError ? ` (${this.#lastError})` : "";
  }
}
