import type { JsonValue, SessionData } from "../../core/json.js";
import type { Logger } from "../../core/Logger.js";
import { SessionError } from "../../core/SessionError.js";
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
import { RedisConnection } from "../client/RedisConnection.js";
import {
  type RedisAddress,
  type RedisClient,
  type RedisTarget,
  targetOf,
} from "../client/RedisTarget.js";
import { type RedisBacked, redisCapabilities } from "../redisBacked.js";
import { applyArgs, checkKey, expiryArgs, writeArgs } from "./applyArgs.js";
import { applyReply, unwrapReplay } from "./applyReply.js";
import { RecentSlides } from "./RecentSlides.js";
import {
  type OneKeyScriptName,
  type RegenerateScriptName,
  STORAGE_SCRIPTS,
  type WriteScriptName,
} from "./scripts.js";
import { SessionKeys } from "./sessionKeys.js";

export interface RedisStorageOptions {
  /** Prepended to every key; default "sessiond:". */
  prefix?: string;
  /** Bound on every call, waiting for a connection included. Default 1000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  /** Close the client when the storage closes. Default false (the caller owns it). */
  ownsClient?: boolean;
  /** Where the client points, for logs; never include a password. */
  target?: string;
  /** Replicas that must confirm each write before it is acknowledged (Redis WAIT). Default 0. */
  waitReplicas?: number;
  /** How long one WAIT may block (below timeoutMs). Default 250 ms. */
  waitTimeoutMs?: number;
  /**
   * The seed nodes of a Cluster client passed in (required then, ignored otherwise):
   * ioredis does not expose the ones it was given, and sessiond connects to each master
   * itself (one plain connection per master), using the Cluster's `redisOptions`.
   */
  clusterNodes?: readonly RedisAddress[];
}

/** The script names and key of one layout; everything else is shared. */
export interface Layout {
  key(keys: SessionKeys, id: string): string;
  read: OneKeyScriptName;
  readKey: OneKeyScriptName;
  touch: WriteScriptName;
  apply: WriteScriptName;
  regenerate: RegenerateScriptName;
}

/**
 * A Storage whose every method is one Lua script (one round trip, atomic, expiry computed
 * and set inside Redis). Subclasses pick the layout and decode a whole-session read.
 */
export abstract class RedisStorageBase implements Storage, RedisBacked {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  readonly #capabilities = redisCapabilities(this);
  /** Sessions this instance slid lately: their reads skip the slide (see RecentSlides). */
  protected readonly slides = new RecentSlides();
  readonly #layout: Layout;

  constructor(
    client: RedisClient | RedisTarget,
    layout: Layout,
    options: RedisStorageOptions = {},
  ) {
    this.keys = new SessionKeys(options.prefix);
    this.connection = new RedisConnection(targetOf(client, options.clusterNodes), {
      scripts: STORAGE_SCRIPTS,
      timeoutMs: options.timeoutMs,
      logger: options.logger,
      target: options.target,
      ownsClient: options.ownsClient,
      waitReplicas: options.waitReplicas,
      waitTimeoutMs: options.waitTimeoutMs,
    });
    this.#layout = layout;
  }

  /** The Redis key holding session `id` (tests check its expiry and slot). */
  keyOf(id: string): string {
    return this.#layout.key(this.keys, id);
  }

  protected abstract decodeRead(reply: unknown[]): SessionRecord;

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const reply = await this.#script(
      this.#layout.read,
      this.keyOf(id),
      expiryArgs(expiry),
      expiry.signal,
    );
    if (!reply) return undefined;
    return decode(() => this.decodeRead(reply as unknown[]));
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    const args = expiryArgs(expiry);
    args.push(checkKey(key));
    const reply = await this.#script(this.#layout.readKey, this.keyOf(id), args, expiry.signal);
    if (!reply) return undefined;
    const [found, text] = reply as [number, string | undefined];
    if (Number(found) !== 1) return { found: false };
    return decode(() => ({ found: true, value: JSON.parse(text as string) as JsonValue }));
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
    const name = this.#layout.apply;
    const reply = await this.connection.run((c) => c[name](key, records, args), {
      key,
      write: true,
      signal: options.signal,
    });
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
    this.slides.forget(from);
    const records =
      options.idempotency === undefined ? recordsUnused(from) : this.keys.requests(oldId);
    const name = this.#layout.regenerate;
    const [reply, replay] = unwrapReplay(
      await this.connection.run((c) => c[name](from, to, records, args), {
        key: from,
        write: true,
        signal: options.signal,
      }),
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
    const name = this.#layout.touch;
    const [reply, replay] = unwrapReplay(
      await this.connection.run((c) => c[name](key, records, args), {
        key,
        write: options.idempotency !== undefined,
        signal: options.signal,
      }),
    );
    if (!reply) return undefined;
    const [version, createTime, expireTime] = reply as [string, string, string];
    return {
      version: Number(version),
      createTime: Number(createTime),
      expireTime: Number(expireTime),
      ...replay,
    };
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<Replay | undefined> {
    const key = this.keyOf(id);
    this.slides.forget(key);
    const idem: Idempotency | undefined = options.idempotency;
    if (idem === undefined) {
      await this.connection.run((c) => c.del(key), { key, write: true, signal: options.signal });
      return undefined;
    }
    // Expiry arguments unused by the script, but every script's ARGV starts with them.
    const args = writeArgs({ ttlMs: 1 }, idem);
    const records = this.keys.requests(id);
    const [, replay] = unwrapReplay(
      await this.connection.run((c) => c.sessiondDestroy(key, records, args), {
        key,
        write: true,
        signal: options.signal,
      }),
    );
    return replay ?? {};
  }

  ping(): Promise<void> {
    return this.connection.ping();
  }

  /** REDIS_BACKED, and SHARDED: the Cluster masters the last ping found down (see redisBacked.ts). */
  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key);
  }

  close(): Promise<void> {
    return this.connection.close();
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

/** Builds a record from parsed entries without ever assigning through `__proto__`. */
export function dataFrom(entries: Iterable<[string, string]>): SessionData {
  const data: SessionData = {};
  for (const [key, text] of entries) {
    Object.defineProperty(data, key, {
      value: JSON.parse(text) as JsonValue,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return data;
}

/** Stored text that does not parse is a bug or tampering, never the caller's fault. */
export function decode<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new SessionError("internal", "internal error", {
      cause: new Error("redis storage: stored session does not decode", { cause: err }),
    });
  }
}
