import { randomBytes } from "node:crypto";
import type { SessionData } from "../../common/json.js";
import { checkOpCount } from "../../common/Limits.js";
import { jsonLogger, type Logger, redactId } from "../../common/Logger.js";
import { SessionError } from "../../common/SessionError.js";
import { applyOps, assertExpectedVersion, assertExpiry } from "../applyOps.js";
import { KeyedLock } from "../file/KeyedLock.js";
import { KeyRing, UnsealError } from "../KeyRing.js";
import type {
  ApplyOptions,
  ApplyResult,
  Delta,
  Expiry,
  KeyRead,
  RegenerateOptions,
  RegenerateResult,
  SessionMeta,
  SessionRecord,
  Storage,
} from "../Storage.js";
import { checkKey, expiryArgs } from "./applyArgs.js";
import { ENCRYPTED_SCRIPTS, type EncryptedCommands } from "./encryptedScripts.js";
import { type RedisClient, RedisConnection } from "./RedisConnection.js";
import type { RedisStorageOptions } from "./RedisStorageBase.js";
import { SessionKeys } from "./sessionKeys.js";

export interface EncryptedRedisStorageOptions extends RedisStorageOptions {
  /**
   * AES-256 keys (32-byte Buffers, or 64 hex / 44 base64 characters): the first seals,
   * every one opens, so a key is rotated by putting the new one first.
   */
  encryptionKeys: readonly (Buffer | Uint8Array | string)[] | KeyRing;
}

/** A session as read for a write: its state token (what the commit script compares) and data. */
export interface Loaded {
  state: string;
  version: number;
  createTime: number;
  data: SessionData;
  /**
   * redis-hash: each key's value as JSON text, so a write re-seals only what changed. Keys
   * sealed under an older key are left out, so that every write seals them again.
   */
  texts?: Map<string, string>;
  /** Some of it is sealed under an older key of the ring (see resealLater). */
  stale: boolean;
}

/** A write script's reply, as the loop needs it. */
export type CommitReply =
  | { tag: "ok"; meta: SessionMeta }
  | { tag: "conflict" | "expired" | "missing" | "taken" };

/** Longest pause between two rounds of a write that other instances keep beating. */
const MAX_PAUSE_MS = 16;
/** Rounds lost before a writer takes the session's lock. */
const LOCK_AFTER = 3;

/**
 * What the encrypted Redis storages share: reads are one script each; writes are a
 * read-modify-write in Node committed by a compare-and-set script (see encryptedScripts.ts),
 * serialised per session inside this process (so only writers on other instances ever
 * make a write start over), started over as often as the call's bound (timeoutMs) allows,
 * and never after a commit whose outcome is unknown (only after a definite 'conflict').
 */
export abstract class EncryptedRedisStorageBase implements Storage {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  protected readonly ring: KeyRing;
  protected readonly logger: Logger;
  readonly #locks = new KeyedLock();
  /** Sessions with a reseal queued, so a burst of reads queues one. */
  readonly #resealing = new Set<string>();

  constructor(client: RedisClient, options: EncryptedRedisStorageOptions) {
    this.keys = new SessionKeys(options.prefix);
    const keys = options.encryptionKeys;
    this.ring = keys instanceof KeyRing ? keys : new KeyRing(keys);
    this.logger = options.logger ?? jsonLogger();
    this.connection = new RedisConnection(client, {
      timeoutMs: options.timeoutMs,
      logger: options.logger,
      target: options.target,
      ownsClient: options.ownsClient,
    });
    for (const [name, script] of Object.entries(ENCRYPTED_SCRIPTS)) {
      client.defineCommand(name, { lua: script.lua, numberOfKeys: script.keys });
    }
  }

  /** The Redis key holding session `id`. */
  abstract keyOf(id: string): string;
  abstract read(id: string, expiry: Expiry): Promise<SessionRecord | undefined>;
  abstract readKey(id: string, key: string, expiry: Expiry): Promise<KeyRead | undefined>;
  abstract touch(id: string, expiry: Expiry): Promise<SessionMeta | undefined>;
  /** The session for a write (no slide: the commit sets the expiry), or undefined. */
  protected abstract load(key: string): Promise<Loaded | undefined>;
  protected abstract commit(
    key: string,
    current: Loaded | undefined,
    data: SessionData,
    version: number,
    lock: Lock,
  ): Promise<CommitReply>;
  protected abstract move(
    from: string,
    to: string,
    current: Loaded,
    keepOld: boolean,
    lock: Lock,
  ): Promise<CommitReply>;

  protected run<T>(op: (c: EncryptedCommands) => Promise<T>): Promise<T> {
    return this.connection.run((c) => op(c as unknown as EncryptedCommands));
  }

  async apply(id: string, delta: Delta, options: ApplyOptions): Promise<ApplyResult | undefined> {
    const key = this.keyOf(id);
    assertExpiry(options);
    assertExpectedVersion(delta.expectedVersion);
    checkOpCount(0, delta.ops.length, options.limits);
    for (const op of delta.ops) {
      if (op.type !== "clear") checkKey(op.key);
      if (op.type === "increment" && !Number.isFinite(op.delta)) {
        throw new SessionError(
          "invalid_argument",
          `increment of key "${op.key}" must be a finite number`,
        );
      }
    }
    const expiry = expiryArgs(options);
    return this.#locks.run(key, () =>
      this.#retrying(key, async (token) => {
        const current = await this.load(key);
        if (current ? options.mode === "create" : options.mode === "existing") {
          return { done: undefined };
        }
        const version = current?.version ?? 0;
        if (delta.expectedVersion !== undefined && delta.expectedVersion !== version) {
          throw new SessionError(
            "aborted",
            `version mismatch: expected ${delta.expectedVersion}, session is at ${version}`,
          );
        }
        const { data, incremented } = applyOps(current?.data ?? {}, delta.ops, options.limits);
        const lock = { key: lockOf(key), token, expiry };
        const reply = await this.commit(key, current, data, version + 1, lock);
        if (reply.tag !== "ok") return undefined;
        return { done: { ...reply.meta, incremented } };
      }),
    );
  }

  async regenerate(
    oldId: string,
    newId: string,
    options: RegenerateOptions,
  ): Promise<RegenerateResult> {
    const from = this.keyOf(oldId);
    const to = this.keyOf(newId);
    assertExpiry(options);
    if (from === to) return "taken";
    const expiry = expiryArgs(options);
    const [first, second] = from < to ? [from, to] : [to, from];
    return this.#locks.run(first, () =>
      this.#locks.run(second, () =>
        this.#retrying<RegenerateResult>(from, async (token) => {
          const current = await this.load(from);
          if (!current) return { done: "missing" };
          const lock = { key: lockOf(from), token, expiry };
          const reply = await this.move(from, to, current, options.keepOld, lock);
          if (reply.tag === "ok") return { done: reply.meta };
          if (reply.tag === "missing" || reply.tag === "taken") return { done: reply.tag };
          return undefined;
        }),
      ),
    );
  }

  async destroy(id: string): Promise<void> {
    const key = this.keyOf(id);
    await this.run((c) => c.del(key));
  }

  ping(): Promise<void> {
    return this.connection.ping();
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /**
   * After a read found `key` sealed (partly) under an older key: seals it again under the
   * current one, in the background, same content and version, so a rotation completes as
   * sessions are used and the old key can go once every session was read or expired.
   * A failure leaves it as it was, to be tried at the next read.
   */
  protected resealLater(key: string, expiry: Expiry): void {
    if (this.#resealing.has(key)) return;
    this.#resealing.add(key);
    const args = expiryArgs(expiry);
    this.#locks
      .run(key, () =>
        this.#retrying<undefined>(key, async (token) => {
          const current = await this.load(key);
          if (!current?.stale) return { done: undefined };
          const lock = { key: lockOf(key), token, expiry: args };
          const reply = await this.commit(key, current, current.data, current.version, lock);
          return reply.tag === "conflict" ? undefined : { done: undefined };
        }),
      )
      .catch(() => {})
      .finally(() => this.#resealing.delete(key));
  }

  /** Whether a stored (base64) ciphertext is under an older key of the ring. */
  protected sealedByOldKey(stored: string): boolean {
    return !this.ring.sealedByPrimary(Buffer.from(stored, "base64"));
  }

  /** Text sealed for `aad`, as stored (base64). */
  protected seal(plain: string, aad: string): string {
    return this.ring.seal(Buffer.from(plain, "utf8"), Buffer.from(aad, "utf8")).toString("base64");
  }

  /**
   * The text sealed in `stored`. A value that does not open (wrong keys, altered, or moved
   * from another session or key) is logged and fails the call as internal; nothing is
   * deleted, so the right key brings it back.
   */
  protected open(stored: string, aad: string, id: string, field?: string): string {
    try {
      return this.ring
        .open(Buffer.from(stored, "base64"), Buffer.from(aad, "utf8"))
        .toString("utf8");
    } catch (err) {
      if (!(err instanceof UnsealError)) throw err;
      this.logger.error(
        "redis storage: a stored value does not decrypt (wrong encryption keys, or it was altered or moved from another session or key); left in place",
        {
          session: redactId(id),
          ...(field === undefined ? {} : { key: field }),
          reason: err.message,
        },
      );
      throw new SessionError("internal", "internal error", {
        cause: new Error(`redis storage: stored session does not decrypt: ${err.message}`),
      });
    }
  }

  /**
   * Runs read-modify-write rounds on session `key` until one reports done (undefined means
   * "start over": the commit found the session changed). A writer that lost LOCK_AFTER
   * rounds takes the session's lock, so that it is not starved by busier instances.
   */
  async #retrying<T>(
    key: string,
    round: (token: string) => Promise<{ done: T } | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + this.connection.timeoutMs;
    let token = "";
    try {
      for (let attempt = 1; ; attempt++) {
        const result = await round(token);
        if (result) return result.done;
        if (token === "" && attempt >= LOCK_AFTER) token = await this.#lock(key);
        // Jittered, growing pause: writers on other instances that collided spread out.
        const pause = Math.random() * Math.min(MAX_PAUSE_MS, 2 ** attempt);
        if (Date.now() + pause >= deadline) {
          throw new SessionError(
            "aborted",
            `concurrent writes to this session from other instances won ${attempt} times in a row; nothing was applied, retry`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    } finally {
      // A commit that went through freed it; any other way out frees it here.
      if (token !== "") this.#unlock(key, token);
    }
  }

  /** The lock's token when this writer got it, else "" (another writer holds it). */
  async #lock(key: string): Promise<string> {
    const token = randomBytes(9).toString("base64");
    const got = await this.run((c) =>
      c.set(lockOf(key), token, "PX", this.connection.timeoutMs, "NX"),
    );
    return got === "OK" ? token : "";
  }

  #unlock(key: string, token: string): void {
    this.run((c) => c.sessiondEncUnlock(lockOf(key), [token])).catch(() => {
      // It expires after the call's bound anyway.
    });
  }
}

/** What a commit script needs besides the session: its lock and the expiry arguments. */
export interface Lock {
  key: string;
  /** "" when this writer does not hold the lock. */
  token: string;
  expiry: string[];
}

/** Same hash tag as the session key, so the lock is in its Cluster slot. */
function lockOf(key: string): string {
  return `${key}:lock`;
}

/** A write script's reply array as a CommitReply. */
export function commitReply(reply: unknown): CommitReply {
  const [tag, version, createTime, expireTime] = Array.isArray(reply) ? reply : [];
  if (tag === "ok") {
    return {
      tag,
      meta: {
        version: Number(version),
        createTime: Number(createTime),
        expireTime: Number(expireTime),
      },
    };
  }
  if (tag === "conflict" || tag === "expired" || tag === "missing" || tag === "taken") {
    return { tag };
  }
  throw new SessionError("internal", "internal error", {
    cause: new Error(`unexpected encrypted write reply ${JSON.stringify(reply)}`),
  });
}

/** Stored text that does not parse is a bug or tampering, never the caller's fault. */
export function malformed(what: string): SessionError {
  return new SessionError("internal", "internal error", {
    cause: new Error(`redis storage: ${what}`),
  });
}
