import type { SessionDoc } from "../../core/engine/DocumentStore.js";
import { assignKey, type JsonValue, type SessionData } from "../../core/json.js";
import type { KeyRead, ReadOptions, SessionRecord } from "../../core/storage/Storage.js";
import type { RedisClient, RedisTarget } from "../client/RedisTarget.js";
import { checkKey, expiryArgs } from "./applyArgs.js";
import {
  type Decoded,
  EncryptedRedisEngine,
  type EncryptedRedisStorageOptions,
  EncryptedRedisStore,
  type Revision,
} from "./EncryptedRedisStore.js";
import { malformed } from "./encryptedRecords.js";
import { HASH } from "./layouts.js";

const AAD = "sessiond-redis/2 hash ";
const MANIFEST_AAD = "sessiond-redis/2 manifest ";
/** The format before the manifest (values bound to key and field only); read for this release. */
const LEGACY_AAD = "sessiond-redis/1 hash ";
/** What the manifest cache may hold, in characters of metadata text (about as many bytes). */
const MANIFEST_CACHE_CHARS = 4 * 1024 * 1024;
const META = /^(\d+) (\d+) (\d+)(?: ([A-Za-z0-9+/=]+))?$/;

/** The metadata field as read: clear numbers, and the sealed manifest opened. */
interface Meta {
  version: number;
  createTime: number;
  /** Each key and the version its value was sealed at; undefined in the earlier format. */
  written: Map<string, number> | undefined;
}

/**
 * The `redis-hash` layout, encrypted: the plain layout (one hash per session), each
 * value sealed on its own with AES-256-GCM, and the metadata field "" =
 * "<version> <createTime> <bytes> <sealed manifest>". The manifest lists every key with the
 * version its value was sealed at, and is bound to the session's Redis key and the clear
 * numbers before it; each value is bound to its session's key, its field, the version it
 * was sealed at and the creation time. So a value moved to another key or session, a
 * value put back from an earlier version, a deleted field, or a moved creation time
 * (which would restart the absolute lifetime) does not read: the call fails as internal.
 * Reading one key stays one script (the field, the metadata and HLEN for the count); a
 * put writes back only the fields that changed and the manifest (the commit compares the
 * metadata).
 *
 * Key names stay readable, as the field names: the values are what is sealed.
 */
export class EncryptedHashStore extends EncryptedRedisStore {
  /**
   * Manifests opened lately, by Redis key, with the exact metadata text they came from:
   * every one-key Get opens the manifest, whose size grows with the session's keys, and a
   * request often reads several keys of one session. The same text under the same key
   * always opens to the same result, so reusing it checks as much as opening it again.
   */
  readonly #manifests = new Map<string, { raw: string; meta: Meta }>();
  #manifestChars = 0;

  constructor(client: RedisClient | RedisTarget, options: EncryptedRedisStorageOptions) {
    super(client, HASH, options);
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const key = this.keyOf(id);
    const args = expiryArgs(expiry);
    const reply = await this.run(
      (c) => c.sessiondEncHashRead(key, args),
      key,
      false,
      expiry.signal,
    );
    if (!reply) return undefined;
    const [meta, expireTime, flat] = reply as [string, string, string[]];
    const loaded = this.#decode(key, meta, flat, id);
    if (loaded.stale) this.resealLater(id);
    return {
      version: loaded.version,
      createTime: loaded.createTime,
      expireTime: Number(expireTime),
      data: loaded.data,
    };
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    const field = checkKey(key);
    const hash = this.keyOf(id);
    const args = expiryArgs(expiry);
    args.push(field);
    const reply = await this.run(
      (c) => c.sessiondEncHashReadKey(hash, args),
      hash,
      false,
      expiry.signal,
    );
    if (!reply) return undefined;
    const [rawMeta, count, sealed] = reply as [string, number, string | undefined];
    const meta = this.#meta(hash, rawMeta, id);
    const { written } = meta;
    if (written === undefined) {
      // The earlier format: sealed again in the bound one, whatever was asked.
      this.resealLater(id);
      if (sealed === undefined) return { found: false };
      return { found: true, value: parse(this.open(sealed, legacyAad(hash, field), id, field)) };
    }
    // The key asked for first (its log line names it), then the count (any other key).
    const at = written.get(field);
    if (sealed === undefined) {
      if (at !== undefined) {
        this.refuse(id, "the sealed manifest lists this key; the hash lacks it", field);
      }
    } else if (at === undefined) this.refuse(id, "a key the sealed manifest does not list", field);
    if (Number(count) !== written.size + 1) this.#fieldCount(id, written.size, Number(count) - 1);
    if (sealed === undefined || at === undefined) return { found: false };
    const value = parse(this.open(sealed, aad(hash, at, meta.createTime, field), id, field));
    if (this.sealedByOldKey(sealed)) this.resealLater(id);
    return { found: true, value };
  }

  protected decode(key: string, id: string, flat: unknown): Decoded | undefined {
    if (!Array.isArray(flat)) return undefined;
    let meta: string | undefined;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (flat[i] === "") meta = flat[i + 1];
    }
    return meta === undefined ? undefined : this.#decode(key, meta, flat as string[], id);
  }

  protected putArgs(key: string, revision: Revision, doc: SessionDoc): string[] {
    const { version, createTime, data } = doc;
    const before = revision.texts ?? new Map<string, string>();
    const gone = (revision.keys ?? []).filter((field) => !Object.hasOwn(data, field));
    const pairs: string[] = [];
    const written = new Map<string, number>();
    let bytes = 0;
    for (const [field, value] of Object.entries(data)) {
      const text = JSON.stringify(value);
      bytes += Buffer.byteLength(field, "utf8") + Buffer.byteLength(text, "utf8");
      // A value left as it was keeps its seal, and the version it was sealed at.
      const kept = before.get(field) === text ? revision.written?.get(field) : undefined;
      if (kept !== undefined) written.set(field, kept);
      else {
        pairs.push(field, this.seal(text, aad(key, version, createTime, field)));
        written.set(field, version);
      }
    }
    const manifest = this.#sealManifest(key, version, createTime, bytes, written);
    const meta = `${version} ${createTime} ${bytes} ${manifest}`;
    return [meta, String(gone.length), ...gone, ...pairs];
  }

  #decode(key: string, rawMeta: string, flat: string[], id: string): Decoded {
    const meta = this.#meta(key, rawMeta, id);
    const { written, createTime } = meta;
    const data: SessionData = {};
    const texts = new Map<string, string>();
    // The earlier format is sealed again, every value, by the next write or a reseal.
    let stale = written === undefined;
    let count = 0;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i] as string;
      if (field === "") continue;
      count++;
      const sealed = flat[i + 1] as string;
      let text: string;
      if (written === undefined) text = this.open(sealed, legacyAad(key, field), id, field);
      else {
        const at = written.get(field);
        if (at === undefined) this.refuse(id, "a key the sealed manifest does not list", field);
        text = this.open(sealed, aad(key, at, createTime, field), id, field);
        // Left out when under an older key: the next write, whatever it changes, seals it anew.
        if (this.sealedByOldKey(sealed)) stale = true;
        else texts.set(field, text);
      }
      assignKey(data, field, parse(text));
    }
    if (written !== undefined && count !== written.size) this.#fieldCount(id, written.size, count);
    const revision = {
      state: rawMeta,
      texts,
      written: written ?? new Map(),
      keys: Object.keys(data),
    };
    return { revision, version: meta.version, createTime, data, stale };
  }

  /**
   * The metadata with its manifest opened: bound to the key and the clear numbers, so a
   * moved creation time, or a manifest (or whole metadata) from an earlier version put
   * back beside later values, does not read.
   */
  #meta(key: string, raw: string, id: string): Meta {
    const cached = this.#manifests.get(key);
    if (cached?.raw === raw) return cached.meta;
    const meta = this.#openMeta(key, raw, id);
    if (meta.written !== undefined) this.#remember(key, raw, meta);
    return meta;
  }

  #remember(key: string, raw: string, meta: Meta): void {
    const before = this.#manifests.get(key);
    if (before !== undefined) this.#manifestChars -= before.raw.length;
    this.#manifests.delete(key);
    this.#manifests.set(key, { raw, meta });
    this.#manifestChars += raw.length;
    // Oldest first (Map order), until the texts add up to at most MANIFEST_CACHE_CHARS.
    for (const [oldest, entry] of this.#manifests) {
      if (this.#manifestChars <= MANIFEST_CACHE_CHARS) break;
      this.#manifests.delete(oldest);
      this.#manifestChars -= entry.raw.length;
    }
  }

  #openMeta(key: string, raw: string, id: string): Meta {
    const match = META.exec(raw);
    if (!match) throw malformed("an encrypted session's metadata is malformed");
    const [, v, c, bytes, sealed] = match as unknown as [string, string, string, string, string?];
    const version = Number(v);
    const createTime = Number(c);
    if (sealed === undefined) return { version, createTime, written: undefined };
    const text = this.open(sealed, manifestAad(key, version, createTime, Number(bytes)), id);
    let pairs: unknown;
    try {
      pairs = JSON.parse(text);
    } catch {
      pairs = undefined;
    }
    if (!Array.isArray(pairs)) throw malformed("a session's manifest is malformed");
    const written = new Map<string, number>();
    for (const pair of pairs) {
      const [field, at] = Array.isArray(pair) ? pair : [];
      if (typeof field !== "string" || !Number.isSafeInteger(at) || at < 1 || at > version) {
        throw malformed("a session's manifest is malformed");
      }
      written.set(field, at);
    }
    return { version, createTime, written };
  }

  /** Sealed list of [key, version sealed at], bound to the key and the metadata's numbers. */
  #sealManifest(
    key: string,
    version: number,
    createTime: number,
    bytes: number,
    written: Map<string, number>,
  ): string {
    return this.seal(JSON.stringify([...written]), manifestAad(key, version, createTime, bytes));
  }

  #fieldCount(id: string, listed: number, held: number): never {
    this.refuse(
      id,
      `the sealed manifest lists ${listed} keys, the hash holds ${held} (a key was deleted or added)`,
    );
  }
}

/**
 * `redis-hash` with encryption at rest: SessionEngine (every session rule) over
 * EncryptedHashStore (the layout, its sealing and its one-key read).
 */
export class EncryptedRedisHashStorage extends EncryptedRedisEngine {
  constructor(client: RedisClient | RedisTarget, options: EncryptedRedisStorageOptions) {
    super(new EncryptedHashStore(client, options));
  }
}

/**
 * A value's associated data: its session's key, the version it was sealed at, the
 * creation time, its field. A Redis key holds no newline (prefix and id are checked) and
 * the numbers are digits, so with the field last this split is unambiguous.
 */
function aad(key: string, version: number, createTime: number, field: string): string {
  return `${AAD}${key}\n${version} ${createTime}\n${field}`;
}

/** The manifest's: the session's key and the clear numbers of the metadata. */
function manifestAad(key: string, version: number, createTime: number, bytes: number): string {
  return `${MANIFEST_AAD}${key}\n${version} ${createTime} ${bytes}`;
}

function legacyAad(key: string, field: string): string {
  return `${LEGACY_AAD}${key}\n${field}`;
}

function parse(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw malformed("a decrypted value is not JSON");
  }
}
