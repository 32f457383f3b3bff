import { randomBytes } from "node:crypto";
import { ConfigError } from "../../core/ConfigError.js";
import type {
  DocumentStore,
  Loaded,
  LoadOptions,
  LockScope,
  RecordRef,
  SessionChange,
  SessionDoc,
  Write,
} from "../../core/engine/DocumentStore.js";
import { SessionEngine } from "../../core/engine/SessionEngine.js";
import type { SessionData } from "../../core/json.js";
import { type Logger, redactId } from "../../core/Logger.js";
import { SessionError } from "../../core/SessionError.js";
import type { CapabilityKey } from "../../core/storage/capabilities.js";
import { KeyedLock } from "../../core/storage/KeyedLock.js";
import { KeyRing, UnsealError } from "../../core/storage/KeyRing.js";
import type { RequestRecord } from "../../core/storage/requestRecords.js";
import {
  type CallSignal,
  type Expiry,
  MAX_REQUEST_RECORDS,
  type ReadOptions,
  type SessionMeta,
  type SessionRecord,
} from "../../core/storage/Storage.js";
import type { RedisConnection } from "../client/RedisConnection.js";
import type { RedisClient, RedisTarget } from "../client/RedisTarget.js";
import type { RedisBacked } from "../redisBacked.js";
import { checkKey, expiryArgs } from "./applyArgs.js";
import { metaReply } from "./applyReply.js";
import { malformed, openRecord, type Sealer, sealRecord } from "./encryptedRecords.js";
import type { EncryptedCommands } from "./encryptedScripts.js";
import type { RedisLayout } from "./layouts.js";
import { RedisSide, type RedisStorageOptions } from "./RedisSide.js";
import type { SessionKeys } from "./sessionKeys.js";

export interface EncryptedRedisStorageOptions extends RedisStorageOptions {
  /**
   * AES-256 keys, 32-byte Buffers (text is refused: decode hex or base64 first, e.g.
   * `Buffer.from(hex, "hex")`, see encryptionKey.ts): the first seals, every one opens, so
   * a key is rotated by putting the new one first.
   */
  encryptionKeys: readonly Uint8Array[] | KeyRing;
}

/**
 * What a load saw of one session: its state (what the commit script compares: the kv
 * layout's "<version> <createTime>", the hash layout's metadata field; "" when missing)
 * and, for the hash layout, what lets a put re-seal only what changed.
 */
export interface Revision {
  state: string;
  /** redis-hash: each key's value as JSON text; keys sealed under an older key left out. */
  texts?: Map<string, string>;
  /** redis-hash: the version each key's value was sealed at (the sealed manifest's). */
  written?: Map<string, number>;
  /** redis-hash: the keys stored, so that a put deletes the ones it drops. */
  keys?: readonly string[];
}

/** A stored session as decoded by a layout. */
export interface Decoded {
  version: number;
  createTime: number;
  data: SessionData;
  revision: Revision;
  /**
   * Some of it is sealed under an older key of the ring, or in the format before seals were
   * bound to version and creation time (see resealLater).
   */
  stale: boolean;
}

/** A writer inside exclusive(): the commits it lost, and the session locks it took. */
interface Writer {
  keys: readonly string[];
  lost: number;
  tokens: Map<string, string>;
}

/** Commits lost before a writer takes its sessions' locks. */
const LOCK_AFTER = 3;

/**
 * The encrypted Redis layouts as a DocumentStore under SessionEngine, which decides every
 * session rule: this decides only where things live and how they are sealed. `load` and
 * `commit` are one script each (see encryptedScripts.ts); reads and slides are one script.
 * Writes to one session are serialised inside this process (exclusive), so that only
 * writers on other instances ever make a commit lose; a writer that lost LOCK_AFTER
 * commits takes the sessions' locks, so that busier instances do not starve it.
 * It takes a layout (layouts.ts: key names, scripts); subclasses are that layout's sealed
 * encoding: decoding, sealing a put, the read path.
 */
export abstract class EncryptedRedisStore implements DocumentStore<Revision>, RedisBacked, Sealer {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  readonly conflictBudgetMs: number;
  protected readonly ring: KeyRing;
  protected readonly logger: Logger;
  protected readonly scripts: RedisLayout["sealed"];
  readonly #side: RedisSide;
  readonly #locks = new KeyedLock();
  readonly #writers = new Map<string, Writer>();
  /** Sessions with a reseal queued, so a burst of reads queues one. */
  readonly #resealing = new Set<string>();

  constructor(
    client: RedisClient | RedisTarget,
    layout: RedisLayout,
    options: EncryptedRedisStorageOptions,
  ) {
    const keys = options.encryptionKeys;
    this.ring = keys instanceof KeyRing ? keys : new KeyRing(keys);
    if (options.clientCache !== undefined) {
      throw new ConfigError(
        "is not available with encryption (plain storages only)",
        "clientCache",
      );
    }
    this.#side = new RedisSide(client, layout.key, options);
    // Silent unless given one or a Manager hands its own over (JSON on stderr was a
    // surprise in a library).
    this.logger = this.#side.logger;
    this.connection = this.#side.connection;
    this.keys = this.#side.keys;
    this.scripts = layout.sealed;
    this.conflictBudgetMs = this.connection.timeoutMs;
  }

  /** The Redis key holding session `id`. */
  keyOf(id: string): string {
    return this.#side.keyOf(id);
  }

  /** The stored session as the load script gives it (undefined: none). */
  protected abstract decode(key: string, id: string, stored: unknown): Decoded | undefined;
  /** What the commit script's put() reads for `doc` under `key`, over what `revision` saw. */
  protected abstract putArgs(key: string, revision: Revision, doc: SessionDoc): string[];
  abstract read(id: string, options: ReadOptions): Promise<SessionRecord | undefined>;

  /** REDIS_BACKED, and SHARDED: the Cluster masters the last ping found down. */
  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#side.capability(key);
  }

  assertKey(key: string): void {
    checkKey(key);
  }

  async load(id: string, options: LoadOptions): Promise<Loaded<Revision>> {
    const key = this.keyOf(id);
    const ref = options.record;
    const records = ref === undefined ? key : this.#recordsOf(id, ref);
    const name = this.scripts.load;
    const reply = await this.run(
      (c) => c[name](key, records, [ref?.key ?? ""]),
      key,
      false,
      options.signal,
    );
    const [stored, pttl, clock, rawRecord] = reply as [unknown, number, string, string | null];
    const now = Number(clock);
    const decoded = this.decode(key, id, stored);
    let record: RequestRecord | undefined;
    if (ref !== undefined && typeof rawRecord === "string") {
      const found = openRecord(this, records, ref.key, rawRecord);
      if (found.e > now) record = found;
    }
    if (decoded === undefined) return { revision: { state: "" }, now, session: undefined, record };
    const { version, createTime, data, revision } = decoded;
    const expireTime = Number(pttl) >= 0 ? now + Number(pttl) : Number.MAX_SAFE_INTEGER;
    return { revision, now, session: { version, createTime, expireTime, data }, record };
  }

  async commit(writes: readonly Write<Revision>[], signal?: CallSignal): Promise<boolean> {
    const keys: string[] = [];
    const args = [String(writes.length), String(MAX_REQUEST_RECORDS)];
    for (const { id, revision, change, record } of writes) {
      const key = this.keyOf(id);
      const records = record === undefined ? key : this.#recordsOf(id, record.ref);
      keys.push(key, lockOf(key), records);
      const token = this.#writers.get(key)?.tokens.get(key) ?? "";
      const block = [revision.state, token, change.kind, expiryOf(change)];
      if (record === undefined) block.push("", "", "");
      else {
        const stored = sealRecord(this, records, record.ref.key, record.record);
        block.push(record.ref.key, String(record.record.e), stored);
      }
      if (change.kind === "put") block.push(...this.putArgs(key, revision, change.doc));
      args.push(String(block.length), ...block);
    }
    return this.#send(keys, args, signal);
  }

  async slide(
    id: string,
    options: Expiry & { signal?: CallSignal | undefined },
  ): Promise<SessionMeta | undefined> {
    const key = this.keyOf(id);
    const name = this.scripts.touch;
    const args = expiryArgs(options);
    const reply = await this.run((c) => c[name](key, args), key, false, options.signal);
    return reply ? metaReply(reply) : undefined;
  }

  async remove(id: string, signal?: CallSignal): Promise<void> {
    const key = this.keyOf(id);
    await this.run((c) => c.del(key), key, true, signal);
  }

  async exclusive<T>(scope: LockScope, fn: () => Promise<T>): Promise<T> {
    const keys = scope.ids.map((id) => this.keyOf(id));
    const writer: Writer = { keys, lost: 0, tokens: new Map() };
    const run = async () => {
      for (const key of keys) this.#writers.set(key, writer);
      try {
        return await fn();
      } finally {
        for (const key of keys) this.#writers.delete(key);
        // A commit that went through freed its lock; any other way out frees it here.
        for (const [key, token] of writer.tokens) this.#unlock(key, token);
      }
    };
    // In the order given (sorted ids), then a create's record: two writers never deadlock.
    const names = scope.createRecord === undefined ? keys : [...keys, `req ${scope.createRecord}`];
    const locked = names.reduceRight<() => Promise<T>>(
      (inner, name) => () => this.#locks.run(name, inner),
      run,
    );
    return locked();
  }

  ping(): Promise<void> {
    return this.connection.ping();
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /** One command on `key`'s node; `write` for what changes a session or its records. */
  protected run<T>(
    op: (c: EncryptedCommands) => Promise<T>,
    key: string,
    write = false,
    signal?: CallSignal,
  ): Promise<T> {
    return this.#side.run((c) => op(c as unknown as EncryptedCommands), key, write, signal);
  }

  /**
   * After a read found session `id` sealed (partly) under an older key or in the earlier
   * format: seals it again under the current one, in the background, same content, version
   * and expiry, so a rotation completes as sessions are used and the old key can go once
   * every session was read or expired. A failure (or a write meanwhile, which seals anew
   * anyway) leaves it to the next read.
   */
  protected resealLater(id: string): void {
    const key = this.keyOf(id);
    if (this.#resealing.has(key)) return;
    this.#resealing.add(key);
    this.exclusive({ ids: [id] }, async () => {
      const reply = await this.run((c) => c[this.scripts.load](key, key, [""]), key);
      const decoded = this.decode(key, id, (reply as unknown[])[0]);
      if (!decoded?.stale) return;
      const { version, createTime, data, revision } = decoded;
      // No expiry: the one the read set stays (KEEPTTL).
      const doc = { version, createTime, expireTime: 0, data };
      const block = [
        revision.state,
        "",
        "put",
        "",
        "",
        "",
        "",
        ...this.putArgs(key, revision, doc),
      ];
      await this.#send([key, lockOf(key), key], ["1", "0", String(block.length), ...block]);
    })
      .catch(() => {})
      .finally(() => this.#resealing.delete(key));
  }

  /** Whether a stored (base64) ciphertext is under an older key of the ring. */
  protected sealedByOldKey(stored: string): boolean {
    return !this.ring.sealedByPrimary(Buffer.from(stored, "base64"));
  }

  /** Text sealed for `aad`, as stored (base64). */
  seal(plain: string, aad: string): string {
    return this.ring.seal(Buffer.from(plain, "utf8"), Buffer.from(aad, "utf8")).toString("base64");
  }

  /**
   * The text sealed in `stored`. A value that does not open (wrong keys, altered, or moved
   * from another session or key) is logged and fails the call as internal; nothing is
   * deleted, so the right key brings it back. `id`: the session, for the log line.
   */
  open(stored: string, aad: string, id = sessionOf(aad), field?: string): string {
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
   * release only (docs/security.md, "Upgrading"): while it lasts, a copy saved before the upgrade
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

  /** The hash a record named by `ref` lives in: the session's, or its create's own. */
  #recordsOf(id: string, ref: RecordRef): string {
    return ref.create ? this.keys.createRecord(id, ref.key) : this.keys.requests(id);
  }

  /** Runs the commit script (KEYS filled to six: one write repeats its own). */
  async #send(keys: string[], args: string[], signal?: CallSignal): Promise<boolean> {
    const first = keys.slice(0, 3);
    while (keys.length < 6) keys.push(...first);
    const name = this.scripts.commit;
    const reply = await this.run(
      (c) => c[name](...(keys as [string]), args),
      keys[0] as string,
      true,
      signal,
    );
    if (reply === "ok") return true;
    if (reply !== "conflict") throw malformed(`unexpected commit reply ${JSON.stringify(reply)}`);
    await this.#lost(keys[0] as string);
    return false;
  }

  /** A commit of the writer on `key` lost: after LOCK_AFTER, it takes its sessions' locks. */
  async #lost(key: string): Promise<void> {
    const writer = this.#writers.get(key);
    if (writer === undefined || ++writer.lost < LOCK_AFTER) return;
    for (const held of writer.keys) {
      if (writer.tokens.has(held)) continue;
      const token = randomBytes(9).toString("base64");
      const lock = lockOf(held);
      const got = await this.run(
        (c) => c.set(lock, token, "PX", this.connection.timeoutMs, "NX"),
        lock,
      );
      if (got === "OK") writer.tokens.set(held, token);
    }
  }

  #unlock(key: string, token: string): void {
    const lock = lockOf(key);
    this.run((c) => c.sessiondEncUnlock(lock, [token]), lock).catch(() => {
      // It expires after the call's bound anyway.
    });
  }
}

/**
 * SessionEngine over an encrypted layout, with its Redis side at hand (RedisBacked): what
 * EncryptedRedisStorage and EncryptedRedisHashStorage are, each over its layout's store.
 */
export class EncryptedRedisEngine extends SessionEngine<Revision> implements RedisBacked {
  readonly connection: RedisConnection;
  readonly keys: SessionKeys;
  readonly #layout: EncryptedRedisStore;

  constructor(store: EncryptedRedisStore) {
    super(store);
    this.#layout = store;
    this.connection = store.connection;
    this.keys = store.keys;
  }

  keyOf(id: string): string {
    return this.#layout.keyOf(id);
  }
}

/** The expiry a change sets, in ms ("": none). */
function expiryOf(change: SessionChange): string {
  if (change.kind === "put") return String(change.doc.expireTime);
  return change.kind === "slide" ? String(change.expireTime) : "";
}

/** Same hash tag as the session key, so the lock is in its Cluster slot. */
function lockOf(key: string): string {
  return `${key}:lock`;
}

/** The session part of a key (or of associated data naming one), for log lines. */
export function sessionOf(key: string): string {
  const rest = key.slice(key.indexOf("}") + 1);
  const end = rest.search(/[\n:]/);
  return end < 0 ? rest : rest.slice(0, end);
}
