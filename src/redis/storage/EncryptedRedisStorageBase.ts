import { randomBytes } from "node:crypto";
import { assignKey, type SessionData } from "../../core/json.js";
import { checkOpCount } from "../../core/Limits.js";
import { type Logger, redactId, silentLogger } from "../../core/Logger.js";
import { SessionError } from "../../core/SessionError.js";
import {
  type Applied,
  accepted,
  applyDelta,
  assertExpectedVersion,
  assertExpiry,
} from "../../core/storage/applyOps.js";
import { throwIfCancelled } from "../../core/storage/cancellation.js";
import type { CapabilityKey } from "../../core/storage/capabilities.js";
import { KeyedLock } from "../../core/storage/KeyedLock.js";
import { KeyRing, UnsealError } from "../../core/storage/KeyRing.js";
import { isRecordedCode, refusalRecord, textRefusal } from "../../core/storage/requestRecords.js";
import type {
  ApplyOptions,
  ApplyResult,
  CallSignal,
  Delta,
  DestroyOptions,
  Expiry,
  Idempotency,
  KeyRead,
  RegenerateOptions,
  RegenerateResult,
  Replay,
  SessionMeta,
  SessionRecord,
  Storage,
  TouchOptions,
} from "../../core/storage/Storage.js";
import { RedisConnection } from "../client/RedisConnection.js";
import { type RedisClient, type RedisTarget, targetOf } from "../client/RedisTarget.js";
import { type RedisBacked, redisCapabilities } from "../redisBacked.js";
import { checkKey, writeArgs } from "./applyArgs.js";
import { unwrapReplay } from "./applyReply.js";
import type { EncryptedCommands } from "./encryptedScripts.js";
import type { RedisStorageOptions } from "./RedisStorageBase.js";
import { type ScriptCommands, STORAGE_SCRIPTS } from "./scripts.js";
import { SessionKeys } from "./sessionKeys.js";

export interface EncryptedRedisStorageOptions extends RedisStorageOptions {
  /**
   * AES-256 keys, 32-byte Buffers (text is refused: decode hex or base64 first, e.g.
   * `Buffer.from(hex, "hex")`, see encryptionKey.ts): the first seals, every one opens, so
   * a key is rotated by putting the new one first.
   */
  encryptionKeys: readonly Uint8Array[] | KeyRing;
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
  /**
   * redis-hash: the version each key's value was sealed at, as the session's sealed
   * manifest lists it (see EncryptedRedisHashStorage).
   */
  written?: Map<string, number>;
  /**
   * Some of it is sealed under an older key of the ring, or in the format before seals were
   * bound to version and creation time (see resealLater).
   */
  stale: boolean;
}

/** What a write reads: the session (undefined when missing) and Redis' clock at the read. */
export interface LoadedOrMissing {
  current: Loaded | undefined;
  /**
   * Redis' clock (ms) when it was read: a new session's creation time. Its seal is bound to
   * that time, so Node must know it before the commit script runs; Redis' clock, not
   * Node's, so that instances with skewed clocks still agree on lifetimes.
   */
  now: number;
}

/** A write script's reply, as the loop needs it. */
export type CommitReply =
  | { tag: "ok"; meta: SessionMeta }
  | { tag: "conflict" | "expired" | "missing" | "taken" };

/** Associated data of what a request record keeps sealed (see #sealRecord). */
const RECORD_AAD = "sessiond-redis/1 request ";
/** Longest pause between two rounds of a write that other instances keep beating. */
const MAX_PAUSE_MS = 16;
/** Rounds lost before a writer takes the session's lock. */
const LOCK_AFTER = 3;

/**
 * What the encrypted Redis storages share: reads are one script each; writes are a
 * read-modify-write in Node committed by a compare-and-set script (see encryptedScripts.ts
 * and ../lua/enc_*.lua), serialised per session inside this process (so only writers on other instances ever
 * make a write start over), started over as often as the call's bound (timeoutMs) allows,
 * and never after a commit whose outcome is unknown (only after a definite 'conflict').
 *
 * Request ids (see Idempotency in Storage.ts): the records are the plain storages' (same
 * keys, same format) and are checked by the commit script itself, atomically with its
 * compare-and-set. An outcome decided in Node without a commit (the session missing or
 * taken, a refusal) is settled by a script that checks the records first, so a first
 * attempt that committed meanwhile is replayed; a refusal is recorded in that script.
 */
export abstract class EncryptedRedisStorageBase implements Storage, RedisBacked {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  /** The plain storages' set (redisBacked.ts), so the health check sees a partly-down Cluster. */
  readonly #capabilities = redisCapabilities(this);
  protected readonly ring: KeyRing;
  protected readonly logger: Logger;
  readonly #locks = new KeyedLock();
  /** Sessions with a reseal queued, so a burst of reads queues one. */
  readonly #resealing = new Set<string>();

  constructor(client: RedisClient | RedisTarget, options: EncryptedRedisStorageOptions) {
    this.keys = new SessionKeys(options.prefix);
    const keys = options.encryptionKeys;
    this.ring = keys instanceof KeyRing ? keys : new KeyRing(keys);
    // Silent unless given one, as every other storage (JSON on stderr was a surprise in a library).
    this.logger = options.logger ?? silentLogger;
    this.connection = new RedisConnection(targetOf(client, options.clusterNodes), {
      scripts: STORAGE_SCRIPTS,
      timeoutMs: options.timeoutMs,
      logger: options.logger,
      target: options.target,
      ownsClient: options.ownsClient,
      waitReplicas: options.waitReplicas,
      waitTimeoutMs: options.waitTimeoutMs,
    });
  }

  /** The Redis key holding session `id`. */
  abstract keyOf(id: string): string;

  /** REDIS_BACKED, and SHARDED: the Cluster masters the last ping found down. */
  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key);
  }
  abstract read(id: string, expiry: Expiry): Promise<SessionRecord | undefined>;
  abstract readKey(id: string, key: string, expiry: Expiry): Promise<KeyRead | undefined>;
  /** The layout's touch script (KEYS: session, request records; ARGV as writeArgs). */
  protected abstract readonly touchScript: "sessiondEncKvTouch" | "sessiondEncHashTouch";
  /** The session for a write (no slide: the commit sets the expiry), in one round trip. */
  protected abstract load(key: string, signal?: CallSignal): Promise<LoadedOrMissing>;
  /**
   * The commit script's raw reply: a CommitReply's array with `tail` after it (what a
   * request record keeps beyond the meta), or a request record's replay (see unwrapReplay).
   * `createTime` is the session's (current's, or the load's clock for a new one): what is
   * sealed is bound to it and to `version`.
   */
  protected abstract commit(
    key: string,
    current: Loaded | undefined,
    data: SessionData,
    version: number,
    createTime: number,
    lock: Lock,
    tail?: readonly string[],
  ): Promise<unknown>;
  /** The regenerate script's raw reply (as commit's). */
  protected abstract move(
    from: string,
    to: string,
    current: Loaded,
    keepOld: boolean,
    lock: Lock,
  ): Promise<unknown>;

  /** One command on `key`'s node; `write` for what changes a session or its records. */
  protected run<T>(
    op: (c: EncryptedCommands) => Promise<T>,
    key: string,
    write = false,
    signal?: CallSignal,
  ): Promise<T> {
    return this.connection.run((c) => op(c as unknown as EncryptedCommands), {
      key,
      write,
      signal,
    });
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
    const idem = options.idempotency;
    const args = writeArgs(options, idem);
    // A create's record is found by the request key (a retry creates under another id).
    const records =
      idem === undefined
        ? key
        : options.mode === "create"
          ? this.keys.createRecord(id, idem.key)
          : this.keys.requests(id);
    const replayed = (raw: unknown) => this.#applyReplay(raw, records, idem);
    return this.#locks.run(key, () =>
      this.#retrying(key, options.signal, async (token) => {
        const { current, now } = await this.load(key, options.signal);
        if (current ? options.mode === "create" : options.mode === "existing") {
          const skipped = await this.#settle(records, args, idem, ["skip"], options.signal);
          return { done: replayed(skipped) };
        }
        const version = current?.version ?? 0;
        let applied: Applied;
        try {
          applied = accepted(applyDelta(current?.data ?? {}, version, delta, options.limits));
        } catch (err) {
          // A refusal of the state read is recorded, as the plain scripts record theirs.
          // The record keeps the words, sealed; a replay reads its Refusal back from them.
          if (!idem || !refusalRecord(idem, 0, err)) throw err;
          const { code, message } = err as SessionError;
          const sealed = this.#sealRecord(message, records, idem);
          const refused = ["refused", code, sealed];
          const raw = await this.#settle(records, args, idem, refused, options.signal);
          const first = replayed(raw);
          if (first) return { done: first };
          throw err;
        }
        const lock = { key: lockOf(key), token, args, records, signal: options.signal };
        const { data, incremented } = applied;
        // What the record keeps of the increments beyond numbers (key names) is sealed.
        const tail =
          idem && Object.keys(incremented).length > 0
            ? [this.#sealRecord(JSON.stringify(Object.entries(incremented)), records, idem)]
            : [];
        const createTime = current?.createTime ?? now;
        const raw = await this.commit(key, current, data, version + 1, createTime, lock, tail);
        const first = replayed(raw);
        if (first) return { done: first };
        const committed = commitReply(raw);
        if (committed.tag !== "ok") return undefined;
        return { done: { ...committed.meta, incremented } };
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
    const idem = options.idempotency;
    const args = writeArgs(options, idem);
    const records = idem === undefined ? from : this.keys.requests(oldId);
    const [first, second] = from < to ? [from, to] : [to, from];
    // Into itself too the script decides (the record, then the old id: a missing one is
    // "missing", see RegenerateResult; then the new one, which a live session holds), under
    // one lock: taking the same one twice would wait on itself.
    const both = <T>(run: () => Promise<T>) =>
      from === to
        ? this.#locks.run(from, run)
        : this.#locks.run(first, () => this.#locks.run(second, run));
    return both(() =>
      this.#retrying<RegenerateResult>(from, options.signal, async (token) => {
        const { current } = await this.load(from, options.signal);
        const lock = { key: lockOf(from), token, args, records, signal: options.signal };
        const raw = current
          ? await this.move(from, to, current, options.keepOld, lock)
          : await this.#settle(records, args, idem, ["missing"], options.signal);
        const [reply, replay] = unwrapReplay(raw);
        const committed = commitReply(reply);
        if (committed.tag === "ok") return { done: { ...committed.meta, ...replay } };
        if (committed.tag === "missing" || committed.tag === "taken") {
          return { done: committed.tag };
        }
        return undefined;
      }),
    );
  }

  async touch(id: string, options: TouchOptions): Promise<(SessionMeta & Replay) | undefined> {
    const key = this.keyOf(id);
    const idem = options.idempotency;
    const args = writeArgs(options, idem);
    const records = idem === undefined ? key : this.keys.requests(id);
    const name = this.touchScript;
    const [reply, replay] = unwrapReplay(
      await this.run((c) => c[name](key, records, args), key, idem !== undefined, options.signal),
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
    const idem = options.idempotency;
    if (idem === undefined) {
      await this.run((c) => c.del(key), key, true, options.signal);
      return undefined;
    }
    // The plain storages' destroy script: the session is one key in either layout.
    const args = writeArgs({ ttlMs: 1 }, idem);
    const records = this.keys.requests(id);
    const [, replay] = unwrapReplay(
      await this.connection.run((c: ScriptCommands) => c.sessiondDestroy(key, records, args), {
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
    const args = writeArgs(expiry, undefined);
    this.#locks
      .run(key, () =>
        // A background task of its own: no caller's signal applies.
        this.#retrying<undefined>(key, undefined, async (token) => {
          const { current } = await this.load(key);
          if (!current?.stale) return { done: undefined };
          const lock = { key: lockOf(key), token, args, records: key };
          const { data, version, createTime } = current;
          const raw = await this.commit(key, current, data, version, createTime, lock);
          return commitReply(raw).tag === "conflict" ? undefined : { done: undefined };
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
      this.refuse(id, err.message, field);
    }
  }

  /**
   * open() for a seal bound to version and creation time (`aad`), which also takes a seal
   * of the format before that binding (`legacyAad`: bound to the key and field only), so
   * that an upgrade logs nobody out: `legacy` then says to seal it again in the bound
   * format (resealLater, or the next write). Reading the earlier format is kept for this
   * release only (README, "Upgrading"): while it lasts, a copy saved before the upgrade
   * can still be put back with other clear metadata.
   */
  protected openBound(
    stored: string,
    aad: string,
    legacyAad: string,
    id: string,
    field?: string,
  ): { text: string; legacy: boolean } {
    const sealed = Buffer.from(stored, "base64");
    try {
      return {
        text: this.ring.open(sealed, Buffer.from(aad, "utf8")).toString("utf8"),
        legacy: false,
      };
    } catch (err) {
      if (!(err instanceof UnsealError)) throw err;
      try {
        const text = this.ring.open(sealed, Buffer.from(legacyAad, "utf8")).toString("utf8");
        return { text, legacy: true };
      } catch {
        // The bound format's reason is the one worth logging.
        this.refuse(id, err.message, field);
      }
    }
  }

  /**
   * A stored session that is not what was sealed (it does not decrypt, or its clear
   * metadata or its keys disagree with what is sealed): logged, and the call fails as
   * internal; nothing is deleted, so putting the right data (or key) back brings it back.
   */
  protected refuse(id: string, reason: string, field?: string): never {
    this.logger.error(
      "redis storage: a stored value does not decrypt (wrong encryption keys, or it was altered, moved from another session or key, or put back from an earlier version); left in place",
      {
        session: redactId(id),
        ...(field === undefined ? {} : { key: field }),
        reason,
      },
    );
    throw new SessionError("internal", "internal error", {
      cause: new Error(`redis storage: stored session does not decrypt: ${reason}`),
    });
  }

  /**
   * Runs read-modify-write rounds on session `key` until one reports done (undefined means
   * "start over": the commit found the session changed). A writer that lost LOCK_AFTER
   * rounds takes the session's lock, so that it is not starved by busier instances.
   */
  async #retrying<T>(
    key: string,
    signal: CallSignal | undefined,
    round: (token: string) => Promise<{ done: T } | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + this.connection.timeoutMs;
    let token = "";
    try {
      for (let attempt = 1; ; attempt++) {
        // Each round reads and then commits: a cancelled call starts no further round.
        throwIfCancelled(signal);
        const result = await round(token);
        if (result) return result.done;
        if (token === "" && attempt >= LOCK_AFTER) token = await this.#lock(key);
        // Jittered, growing pause: writers on other instances that collided spread out.
        const pause = Math.random() * Math.min(MAX_PAUSE_MS, 2 ** attempt);
        if (Date.now() + pause >= deadline) {
          throw new SessionError(
            "aborted",
            `concurrent writes to this session from other instances won ${attempt} times in a row; nothing was applied, retry`,
            { reason: "WRITE_CONFLICT" },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    } finally {
      // A commit that went through freed it; any other way out frees it here.
      if (token !== "") this.#unlock(key, token);
    }
  }

  /**
   * The first attempt's outcome when `raw` (a write or settle script's reply) is a record's
   * replay: its result marked replayed, or its refusal thrown again; undefined otherwise.
   */
  #applyReplay(
    raw: unknown,
    records: string,
    idem: Idempotency | undefined,
  ): ApplyResult | undefined {
    const [reply, replay] = unwrapReplay(raw);
    if (replay === undefined || idem === undefined) return undefined;
    const [tag, a, b, c, sealed] = reply as unknown[];
    if (tag === "refused" && isRecordedCode(a) && typeof b === "string") {
      throw textRefusal([a, this.#openRecord(b, records, idem)]);
    }
    if (tag !== "ok") throw malformed(`unexpected request record ${JSON.stringify(reply)}`);
    const incremented: Record<string, number> = {};
    if (typeof sealed === "string") {
      for (const [k, v] of this.#increments(this.#openRecord(sealed, records, idem))) {
        assignKey(incremented, k, v);
      }
    }
    return {
      version: Number(a),
      createTime: Number(b),
      expireTime: Number(c),
      incremented,
      ...replay,
    };
  }

  #increments(text: string): [string, number][] {
    let pairs: unknown;
    try {
      pairs = JSON.parse(text);
    } catch {
      pairs = undefined;
    }
    const ok =
      Array.isArray(pairs) &&
      pairs.every(
        (p) =>
          Array.isArray(p) &&
          p.length === 2 &&
          typeof p[0] === "string" &&
          typeof p[1] === "number",
      );
    if (!ok) throw malformed("a request record's increments are malformed");
    return pairs as [string, number][];
  }

  /** Sealed for one request record: bound to its hash and name, so it opens nowhere else. */
  #sealRecord(text: string, records: string, idem: Idempotency): string {
    return this.seal(text, `${RECORD_AAD}${records}\n${idem.key}`);
  }

  #openRecord(stored: string, records: string, idem: Idempotency): string {
    const id = records.slice(records.indexOf("}") + 1);
    return this.open(stored, `${RECORD_AAD}${records}\n${idem.key}`, id);
  }

  /**
   * An outcome decided in Node without a commit (`reply`, as a script would give it), or,
   * under a request id, the outcome of a live record instead (see ENC_SETTLE).
   */
  async #settle(
    records: string,
    args: string[],
    idem: Idempotency | undefined,
    reply: string[],
    signal: CallSignal | undefined,
  ): Promise<unknown> {
    if (idem === undefined) return reply;
    return this.run(
      (c) => c.sessiondEncSettle(records, [...args, ...reply]),
      records,
      true,
      signal,
    );
  }

  /** The lock's token when this writer got it, else "" (another writer holds it). */
  async #lock(key: string): Promise<string> {
    const token = randomBytes(9).toString("base64");
    const lock = lockOf(key);
    const got = await this.run(
      (c) => c.set(lock, token, "PX", this.connection.timeoutMs, "NX"),
      lock,
    );
    return got === "OK" ? token : "";
  }

  #unlock(key: string, token: string): void {
    const lock = lockOf(key);
    this.run((c) => c.sessiondEncUnlock(lock, [token]), lock).catch(() => {
      // It expires after the call's bound anyway.
    });
  }
}

/** What a commit script needs besides the session: its lock, request records and ARGV[1..6]. */
export interface Lock {
  key: string;
  /** "" when this writer does not hold the lock. */
  token: string;
  /** ARGV[1..6]: the expiry, then the request record (see writeArgs). */
  args: string[];
  /** The request records hash (KEYS' last), or the session key again when there is none. */
  records: string;
  /** The caller's cancellation, for the commit's command. */
  signal?: CallSignal | undefined;
}

/** Same hash tag as the session key, so the lock is in its Cluster slot. */
function lockOf(key: string): string {
  return `${key}:lock`;
}

/** A write script's reply array (not a replay) as a CommitReply. */
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
