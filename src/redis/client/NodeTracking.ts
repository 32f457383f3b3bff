import type { Redis } from "ioredis";
import type { Logger } from "../../core/Logger.js";
import type { CacheTracker, ClientCache } from "./ClientCache.js";

/** The channel Redis publishes invalidations on for a RESP2 client tracking with REDIRECT. */
const INVALIDATE_CHANNEL = "__redis__:invalidate";
/** Pause before trying to set tracking up again after a failed attempt. */
const RETRY_MS = 250;

interface Barrier {
  epoch: number;
  earliest: number;
  promise: Promise<boolean>;
  resolve(ok: boolean): void;
}

/**
 * Server-assisted client-side caching for one Redis node connection (a single node, the
 * Sentinel master, one Cluster master). ioredis drops RESP3 "invalidate" pushes, so
 * invalidations come, RESP2-style, on a second connection: the data connection runs `CLIENT TRACKING ON REDIRECT <id>` naming a
 * subscriber connection subscribed to `__redis__:invalidate`.
 *
 * `ready` only while both connections are up, on the same server (same run_id), the
 * subscription confirmed and tracking switched on after the data connection's last
 * (re)connect; any loss of either connection, a barrier left unanswered, or a flush drops
 * the whole cache and bumps the epoch, so no entry read before is used again.
 *
 * Invalidations are asynchronous: a write another instance made has been answered once
 * Redis queued its invalidation for us, but we may not have read it yet. `barrier()`
 * closes that gap: a PING on the subscriber connection, whose PONG comes after every
 * invalidation Redis queued before it, so after the barrier every write answered before
 * the read began is reflected. One PING serves every hit that arrived while the previous
 * one was in flight.
 */
export class NodeTracking implements CacheTracker {
  readonly #client: Redis;
  readonly #sub: Redis;
  readonly #cache: ClientCache;
  readonly #name: string;
  readonly #logger: Logger | undefined;
  #ready = false;
  #epoch = 0;
  /** Bumped by every loss: a set-up begun before it does not switch tracking on. */
  #attempt = 0;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  /** The hits waiting for the next PING. */
  #batch: Barrier | undefined;
  #pinging = false;
  /** The subscriber connection is subscribed (until it closes: no auto-resubscribe). */
  #subscribed = false;

  constructor(client: Redis, init: { name: string; cache: ClientCache; logger?: Logger }) {
    this.#client = client;
    this.#cache = init.cache;
    this.#name = init.name;
    this.#logger = init.logger;
    // RESP2 on this connection: the invalidations then come as messages on a channel, which
    // ioredis hands over; under RESP3 (ioredis' default) they would be "invalidate" pushes,
    // which ioredis drops.
    this.#sub = client.duplicate({
      protocol: 2,
      autoResubscribe: false,
      enableAutoPipelining: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: false,
    });
    this.#sub.on("close", () => {
      this.#subscribed = false;
    });
    this.#sub.on("error", () => {
      // The data connection's node logs Redis' errors; a subscriber error ends in 'close'.
    });
    this.#sub.on("messageBuffer", (channel: Buffer, payload: unknown) =>
      this.#invalidated(channel, payload),
    );
    for (const conn of [client, this.#sub]) {
      conn.on("ready", this.#onReady);
      conn.on("close", this.#onClose);
      conn.on("end", this.#onClose);
    }
    if (client.status === "ready") this.#setUp();
  }

  get ready(): boolean {
    return this.#ready;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Resolves true once every invalidation Redis queued for this node before now has been
   * applied to the cache; false when that cannot be known by `deadline` (the cache is then
   * dropped) or tracking was lost meanwhile.
   */
  barrier(deadline: number): Promise<boolean> {
    if (!this.#ready) return Promise.resolve(false);
    let batch = this.#batch;
    if (batch === undefined) {
      let resolve!: (ok: boolean) => void;
      const promise = new Promise<boolean>((r) => {
        resolve = r;
      });
      batch = { epoch: this.#epoch, earliest: deadline, promise, resolve };
      this.#batch = batch;
    } else if (deadline < batch.earliest) batch.earliest = deadline;
    // One PING in flight at a time: hits arriving meanwhile share the next one, sent when it
    // returns, so under load the barrier costs one PING per round trip, not one per hit.
    if (!this.#pinging) {
      this.#pinging = true;
      process.nextTick(() => this.#ping());
    }
    return batch.promise;
  }

  /** Drops the cache and starts tracking over (a reply that made the node's state doubtful). */
  doubt(reason: string): void {
    this.#lost(reason);
    if (!this.#closed) this.#setUp();
  }

  /**
   * Stops tracking: the subscriber is closed; a data connection the caller owns (a client
   * passed in, which outlives the storage) gets its listeners back and tracking off.
   */
  close(clientStays = false): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#lost("closed");
    this.#sub.disconnect();
    if (!clientStays) return;
    this.#client.off("ready", this.#onReady);
    this.#client.off("close", this.#onClose);
    this.#client.off("end", this.#onClose);
    if (this.#client.status === "ready") {
      this.#client.call("client", "tracking", "off").catch(() => {});
    }
  }

  readonly #onReady = (): void => this.#setUp();
  readonly #onClose = (): void => this.#lost("connection lost");

  #ping(): void {
    const batch = this.#batch;
    this.#batch = undefined;
    if (batch === undefined) {
      this.#pinging = false;
      return;
    }
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      batch.resolve(ok && this.#ready && this.#epoch === batch.epoch);
      this.#ping();
    };
    const timer = setTimeout(
      () => {
        settle(false);
        // The subscriber did not answer in time: invalidations may be stuck behind it.
        this.#lost("invalidation connection not answering");
        this.#sub.disconnect(true);
      },
      Math.max(0, batch.earliest - Date.now()),
    );
    this.#sub.ping().then(
      () => settle(true),
      () => settle(false),
    );
  }

  #invalidated(channel: Buffer, payload: unknown): void {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    if (!Array.isArray(payload)) {
      // A null payload: FLUSHALL/FLUSHDB, or the tracking table overflowing its limit.
      this.#cache.dropAll();
      return;
    }
    for (const key of payload) this.#cache.invalidate(String(key));
  }

  #lost(reason: string): void {
    this.#attempt++;
    this.#epoch++;
    this.#cache.dropAll();
    if (this.#ready) {
      this.#ready = false;
      this.#logger?.warn("redis client cache off", { target: this.#name, reason });
    }
  }

  #setUp(): void {
    if (this.#closed || this.#ready) return;
    clearTimeout(this.#retry);
    const attempt = ++this.#attempt;
    this.#epoch++;
    if (this.#client.status !== "ready" || this.#sub.status !== "ready") return;
    void this.#trySetUp(attempt).then(
      (done) => {
        if (!done && attempt === this.#attempt) this.#retryLater();
      },
      (err: unknown) => {
        if (attempt !== this.#attempt) return;
        this.#logger?.warn("redis client cache tracking failed", {
          target: this.#name,
          error: err instanceof Error ? err.message : String(err),
        });
        this.#retryLater();
      },
    );
  }

  async #trySetUp(attempt: number): Promise<boolean> {
    const sub = this.#sub;
    const client = this.#client;
    // The subscriber must be on the data connection's server: client ids are per server.
    // Its id and run_id are read before SUBSCRIBE (a subscribed RESP2 connection can only
    // (un)subscribe and PING).
    if (this.#subscribed) {
      await sub.unsubscribe(INVALIDATE_CHANNEL);
      this.#subscribed = false;
    }
    const [id, subRun, dataRun] = await Promise.all([
      sub.call("client", "id") as Promise<number>,
      sub.info("server").then(runId),
      client.info("server").then(runId),
    ]);
    if (attempt !== this.#attempt) return true;
    if (subRun === undefined || subRun !== dataRun) return false;
    await sub.subscribe(INVALIDATE_CHANNEL);
    this.#subscribed = true;
    // Off first: a connection still tracking for an earlier subscriber would redirect there.
    await client.call("client", "tracking", "off");
    await client.call("client", "tracking", "on", "redirect", String(id));
    if (attempt !== this.#attempt || this.#closed) return true;
    this.#epoch++;
    this.#ready = true;
    this.#logger?.info("redis client cache on", { target: this.#name });
    return true;
  }

  #retryLater(): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#setUp(), RETRY_MS);
    this.#retry.unref();
  }
}

function runId(info: string): string | undefined {
  return /run_id:(\w+)/.exec(info)?.[1];
}
