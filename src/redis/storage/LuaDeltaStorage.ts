import type { JsonValue } from "../../core/json.js";
import { SessionError } from "../../core/SessionError.js";
import { abortable } from "../../core/storage/cancellation.js";
import type { CapabilityKey } from "../../core/storage/capabilities.js";
import type {
  ApplyOptions,
  ApplyResult,
  CallSignal,
  Delta,
  DestroyOptions,
  Idempotency,
  KeyRead,
  ReadOptions,
  RegenerateOptions,
  RegenerateResult,
  Replay,
  SessionMeta,
  SessionRecord,
  Storage,
  TouchOptions,
} from "../../core/storage/Storage.js";
import type { ClientCache } from "../client/ClientCache.js";
import type { NodeTracking } from "../client/NodeTracking.js";
import type { RedisConnection } from "../client/RedisConnection.js";
import type { RedisClient, RedisTarget } from "../client/RedisTarget.js";
import type { RedisBacked } from "../redisBacked.js";
import { applyArgs, checkKey, expiryArgs, writeArgs } from "./applyArgs.js";
import { applyReply, metaReply, unwrapReplay } from "./applyReply.js";
import { decode, type RedisLayout } from "./layouts.js";
import { RecentSlides } from "./RecentSlides.js";
import { RedisSide, type RedisStorageOptions } from "./RedisSide.js";
import type { OneKeyScriptName } from "./scripts.js";
import type { SessionKeys } from "./sessionKeys.js";

/**
 * The Lua-delta write strategy over a layout (RedisStorage, RedisHashStorage): every
 * method is one Lua script (one round trip, atomic, the delta applied and the expiry
 * computed inside Redis), but for the layout's fast Get path.
 */
export class LuaDeltaStorage implements Storage, RedisBacked {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  readonly #side: RedisSide;
  /** Sessions this instance slid lately: their reads skip the slide (see RecentSlides). */
  readonly #slides = new RecentSlides();
  readonly #layout: RedisLayout;
  /** The client-side cache when on (RedisStorageOptions.clientCache). */
  readonly #cache: ClientCache | undefined;

  constructor(
    client: RedisClient | RedisTarget,
    layout: RedisLayout,
    options: RedisStorageOptions = {},
  ) {
    this.#side = new RedisSide(client, layout.key, options);
    this.connection = this.#side.connection;
    this.keys = this.#side.keys;
    this.#layout = layout;
    this.#cache = this.connection.clientCache;
  }

  /** The Redis key holding session `id` (tests check its expiry and slot). */
  keyOf(id: string): string {
    return this.#side.keyOf(id);
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const reply = await this.#script(
      this.#layout.lua.read,
      this.keyOf(id),
      expiryArgs(expiry),
      expiry.signal,
    );
    if (!reply) return undefined;
    return decode(() => this.#layout.decodeRead(reply as unknown[]));
  }

  /**
   * The Get path. Without an absolute lifetime the new expiry does not depend on what is
   * stored, so a plain read and a PEXPIRE, auto-pipelined into one round trip, do the job
   * at a fraction of the script's cost to Redis (which every instance shares); a session
   * this instance slid within the coalescing window (RecentSlides) is read without being
   * slid again. With a lifetime, the script caps the expiry.
   */
  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    const args = expiryArgs(expiry);
    const field = checkKey(key);
    const k = this.keyOf(id);
    const { signal } = expiry;
    if (expiry.maxLifetimeMs === undefined) {
      const tracker = this.#cache === undefined ? undefined : this.connection.trackerFor(k);
      if (tracker !== undefined)
        return this.#cachedReadKey(k, field, args[0] as string, expiry, tracker);
      const found = await this.#fastRead(k, field, args[0] as string, expiry);
      return found === undefined ? undefined : keyRead(found.text);
    }
    args.push(field);
    const reply = await this.#script(this.#layout.lua.readKey, k, args, signal);
    if (!reply) return undefined;
    const [found, text] = reply as [number, string | undefined];
    if (Number(found) !== 1) return { found: false };
    return decode(() => ({ found: true, value: JSON.parse(text as string) as JsonValue }));
  }

  /**
   * The fast path's read: one key's text (null: the session lacks it), or undefined when
   * there is no session; slid unless this instance slid it within the coalescing window.
   */
  async #fastRead(
    k: string,
    field: string,
    ttl: string,
    expiry: ReadOptions,
  ): Promise<{ text: string | null } | undefined> {
    const layout = this.#layout;
    const now = Date.now();
    const fresh = this.#slides.fresh(k, expiry.ttlMs, now);
    const found = await this.#side.run(
      (c) => (fresh ? layout.peek(c, k, field) : layout.slide(c, k, field, ttl)),
      k,
      false,
      expiry.signal,
    );
    if (found === undefined) {
      if (fresh) this.#slides.forget(k);
      return undefined;
    }
    if (!fresh) this.#slides.mark(k, expiry.ttlMs, now);
    return found;
  }

  /**
   * The fast path with the client-side cache: a hit is answered once the node's barrier
   * says no invalidation is still on its way (see NodeTracking), and still slides the
   * expiry unless this instance slid it within the coalescing window; a miss reads from
   * Redis (which then tracks the key for us) and keeps what it read unless the key was
   * invalidated meanwhile.
   */
  async #cachedReadKey(
    k: string,
    field: string,
    ttl: string,
    expiry: ReadOptions,
    tracker: NodeTracking,
  ): Promise<KeyRead | undefined> {
    const cache = this.#cache as ClientCache;
    if (cache.get(k, field, tracker) !== undefined) {
      const now = Date.now();
      const fresh = this.#slides.fresh(k, expiry.ttlMs, now);
      const synced = tracker.barrier(now + this.connection.timeoutMs);
      if (fresh) {
        const ok = await abortable(synced, expiry.signal, "unsent");
        const text = ok ? cache.peek(k, field, tracker) : undefined;
        if (text !== undefined) return keyRead(text);
      } else {
        // Slide and barrier in one round trip's time.
        const slid = this.#side.run((c) => c.pexpire(k, ttl), k, false, expiry.signal);
        const [ok, moved] = await Promise.all([synced, slid]);
        if (Number(moved) !== 1) {
          cache.invalidate(k);
          this.#slides.forget(k);
          return undefined;
        }
        this.#slides.mark(k, expiry.ttlMs, now);
        const text = ok ? cache.peek(k, field, tracker) : undefined;
        if (text !== undefined) return keyRead(text);
      }
    }
    const ticket = cache.begin(k, tracker);
    let found: { text: string | null } | undefined;
    try {
      found = await this.#fastRead(k, field, ttl, expiry);
    } finally {
      cache.end(ticket, field, found?.text);
    }
    return found === undefined ? undefined : keyRead(found.text);
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    const args = applyArgs(delta, options);
    const key = this.keyOf(id);
    // A create's record is found by the request key (a retry creates under another id).
    const idem = options.idempotency;
    const records =
      idem === undefined
        ? recordsUnused(key)
        : options.mode === "create"
          ? this.keys.createRecord(id, idem.key)
          : this.keys.requests(id);
    const name = this.#layout.lua.apply;
    const reply = await this.#writing([key], () =>
      this.connection.run((c) => c[name](key, records, args), {
        key,
        write: true,
        signal: options.signal,
      }),
    );
    return applyReply(reply, delta.expectedVersion, options.limits);
  }

  async regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    const from = this.keyOf(oldId);
    const to = this.keyOf(newId);
    // Into itself too the script decides: the record, then the old id (a missing one is
    // "missing", see RegenerateResult), then the new one, which a live session holds.
    const args = writeArgs(options, options.idempotency);
    args.push(options.keepOld ? "1" : "");
    this.#slides.forget(from);
    const records =
      options.idempotency === undefined ? recordsUnused(from) : this.keys.requests(oldId);
    const name = this.#layout.lua.regenerate;
    const [reply, replay] = unwrapReplay(
      await this.#writing([from, to], () =>
        this.connection.run((c) => c[name](from, to, records, args), {
          key: from,
          write: true,
          signal: options.signal,
        }),
      ),
    );
    const [tag, version, createTime, expireTime] = reply as string[];
    if (tag === "missing" || tag === "taken") return tag;
    if (tag !== "ok") {
      throw new SessionError("internal", "internal error", {
        cause: new Error(`unexpected regenerate reply ${JSON.stringify(reply)}`),
      });
    }
    return {
      version: Number(version),
      createTime: Number(createTime),
      expireTime: Number(expireTime),
      ...replay,
    };
  }

  async touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined> {
    const args = writeArgs(options, options.idempotency);
    const key = this.keyOf(id);
    const records = options.idempotency === undefined ? recordsUnused(key) : this.keys.requests(id);
    const name = this.#layout.lua.touch;
    const [reply, replay] = unwrapReplay(
      await this.connection.run((c) => c[name](key, records, args), {
        key,
        write: options.idempotency !== undefined,
        signal: options.signal,
      }),
    );
    if (!reply) return undefined;
    return { ...metaReply(reply), ...replay };
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<Replay | undefined> {
    const key = this.keyOf(id);
    this.#slides.forget(key);
    const idem: Idempotency | undefined = options.idempotency;
    if (idem === undefined) {
      await this.#writing([key], () =>
        this.connection.run((c) => c.del(key), { key, write: true, signal: options.signal }),
      );
      return undefined;
    }
    // Expiry arguments unused by the script, but every script's ARGV starts with them.
    const args = writeArgs({ ttlMs: 1 }, idem);
    const records = this.keys.requests(id);
    const [, replay] = unwrapReplay(
      await this.#writing([key], () =>
        this.connection.run((c) => c.sessiondDestroy(key, records, args), {
          key,
          write: true,
          signal: options.signal,
        }),
      ),
    );
    return replay ?? {};
  }

  ping(): Promise<void> {
    return this.connection.ping();
  }

  /** REDIS_BACKED, and SHARDED: the Cluster masters the last ping found down (see redisBacked.ts). */
  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#side.capability(key);
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /**
   * A write through this instance: the cache forgets its keys before it is sent (a read in
   * flight then keeps nothing) and again before it is answered, applied or not (a read
   * begun meanwhile may have kept the old value), so this instance reads its own writes
   * without waiting for Redis' invalidation.
   */
  async #writing<T>(keys: readonly string[], write: () => Promise<T>): Promise<T> {
    const cache = this.#cache;
    if (cache === undefined) return write();
    for (const key of keys) cache.invalidate(key);
    try {
      return await write();
    } finally {
      for (const key of keys) cache.invalidate(key);
    }
  }

  #script(
    name: OneKeyScriptName,
    key: string,
    args: string[],
    signal: CallSignal | undefined,
  ): Promise<unknown> {
    return this.connection.run((c) => c[name](key, args), { key, signal });
  }
}

/**
 * The records key a script gets when the call has no request id: the session key again.
 * The script leaves it alone, and naming no second key keeps a write single-key for
 * Redis Cluster: while its slot migrates, a key missing from a multi-key script makes
 * Redis answer TRYAGAIN until the migration ends, where a single key is simply redirected.
 */
function recordsUnused(sessionKey: string): string {
  return sessionKey;
}

function keyRead(text: string | null): KeyRead {
  if (text === null) return { found: false };
  return decode(() => ({ found: true, value: JSON.parse(text) as JsonValue }));
}
