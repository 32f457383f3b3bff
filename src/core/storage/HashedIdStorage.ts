import { createHmac, hkdfSync } from "node:crypto";
import { ConfigError } from "../ConfigError.js";
import { SessionError } from "../SessionError.js";
import { type CapabilityKey, CapabilitySet, REQUEST_ID_SECRET } from "./capabilities.js";
import { ID_FAMILY_LENGTH, idFamily } from "./idFamily.js";
import type { KeyRead, SessionRecord, Storage } from "./Storage.js";
import { StorageDecorator } from "./StorageDecorator.js";
import { isSafeId } from "./safeId.js";

/** Keys shorter than this are refused: the hash is only as secret as its key. */
export const MIN_ID_HASH_KEY_BYTES = 32;
/** Families seen, with their hashes; bounded (there are 36^4 families). */
const FAMILY_CACHE_MAX = 65_536;

/**
 * A key kept in the backing store (e.g. in Redis): looked up on first use (retried after a
 * failure), and checked on every ping so that a key lost from the store is put back, or a
 * disagreement between instances shows as an unhealthy storage.
 */
export interface IdHashKeyLookup {
  load(): Promise<Buffer>;
  verify?(key: Buffer): Promise<void>;
}

/** Where the id-hash key comes from: the key itself, or a lookup. */
export type IdHashKeySource = Buffer | Uint8Array | IdHashKeyLookup;

/**
 * A Storage that never hands the ids it is given to the storage it wraps: each session is
 * stored under HMAC-SHA-256(key, id), so a listing of the storage (Redis SCAN, a file
 * directory, a MONITOR trace) shows no id a caller could present. HMAC is one-way: even
 * with the key, a stored name yields no id; the key only lets one check a guessed id.
 *
 * A stored name is `base64url(HMAC(key, "family:" + family))[0..4]` followed by
 * `base64url(HMAC(key, "id:" + id))` (47 characters of [0-9A-Za-z_-]): ids of one family
 * (see idFamily.ts) get names of one family, so a session and the one it is regenerated
 * into still share a Redis Cluster slot.
 *
 * Every other capability of the wrapped storage passes through (StorageDecorator); this one
 * adds REQUEST_ID_SECRET. A capability that handed out the wrapped storage's ids would
 * hand out hashed names, not session ids: such a capability must be answered here.
 */
export class HashedIdStorage extends StorageDecorator {
  readonly #capabilities = new CapabilitySet().with(REQUEST_ID_SECRET, this);
  #key: Buffer | undefined;
  #loading: Promise<Buffer> | undefined;
  readonly #lookup: IdHashKeyLookup | undefined;
  readonly #families = new Map<string, string>();

  constructor(inner: Storage, key: IdHashKeySource) {
    super(inner);
    if (key instanceof Uint8Array) this.#key = checkIdHashKey(Buffer.from(key));
    else this.#lookup = key;
  }

  /**
   * Loads the key now when it comes from a lookup (a file, Redis), so that a missing or
   * bad key fails here, at start-up, rather than at the first call. A failed load is tried
   * again by the next call.
   */
  async loadKey(): Promise<void> {
    if (this.#key === undefined) await this.#loadKey();
  }

  /** The name `id` is stored under. Throws invalid_argument for an id outside [0-9A-Za-z_-]. */
  async storedId(id: string): Promise<string> {
    return this.#hash(id, this.#key ?? (await this.#loadKey()));
  }

  // Arguments after the id are passed on as they are (options the Storage interface may
  // grow, e.g. request records, reach the inner storage untouched).
  override async read(
    ...[id, ...rest]: Parameters<Storage["read"]>
  ): Promise<SessionRecord | undefined> {
    return this.inner.read(await this.storedId(id), ...rest);
  }

  override async readKey(
    ...[id, ...rest]: Parameters<Storage["readKey"]>
  ): Promise<KeyRead | undefined> {
    return this.inner.readKey(await this.storedId(id), ...rest);
  }

  override async apply(
    ...[id, ...rest]: Parameters<Storage["apply"]>
  ): ReturnType<Storage["apply"]> {
    return this.inner.apply(await this.storedId(id), ...rest);
  }

  override async regenerate(
    ...[oldId, newId, ...rest]: Parameters<Storage["regenerate"]>
  ): ReturnType<Storage["regenerate"]> {
    const from = await this.storedId(oldId);
    const to = await this.storedId(newId);
    return this.inner.regenerate(from, to, ...rest);
  }

  override async touch(
    ...[id, ...rest]: Parameters<Storage["touch"]>
  ): ReturnType<Storage["touch"]> {
    return this.inner.touch(await this.storedId(id), ...rest);
  }

  override async destroy(
    ...[id, ...rest]: Parameters<Storage["destroy"]>
  ): ReturnType<Storage["destroy"]> {
    return this.inner.destroy(await this.storedId(id), ...rest);
  }

  /**
   * A secret for request records (Manager's requestIdSecret), derived from the id-hash key
   * with HKDF under its own label: instances sharing the key share it, and neither use of
   * the key can stand in for the other. The key itself never leaves this object.
   */
  requestIdSecret(): { load(): Promise<Buffer> } {
    return {
      load: async () => {
        const key = this.#key ?? (await this.#loadKey());
        return Buffer.from(
          hkdfSync(
            "sha256",
            key,
            "sessiond/id-hash-key",
            "request-id secret v1",
            32,
          ) as ArrayBuffer,
        );
      },
    };
  }

  override async ping(): Promise<void> {
    await this.inner.ping();
    // A key that could not be fetched yet (the store was down at start) is fetched now,
    // so health turns SERVING only once sessions can really be reached.
    const key = this.#key ?? (await this.#loadKey());
    await this.#lookup?.verify?.(key);
  }

  override capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key) ?? super.capability(key);
  }

  #hash(id: string, key: Buffer): string {
    if (!isSafeId(id)) {
      throw new SessionError("invalid_argument", "malformed session id: refused by the storage", {
        reason: "MALFORMED_SESSION_ID",
      });
    }
    const family = idFamily(id);
    let hashedFamily = this.#families.get(family);
    if (hashedFamily === undefined) {
      hashedFamily = createHmac("sha256", key)
        .update(`family:${family}`)
        .digest("base64url")
        .slice(0, ID_FAMILY_LENGTH);
      if (this.#families.size >= FAMILY_CACHE_MAX) this.#families.clear();
      this.#families.set(family, hashedFamily);
    }
    return hashedFamily + createHmac("sha256", key).update(`id:${id}`).digest("base64url");
  }

  #loadKey(): Promise<Buffer> {
    const lookup = this.#lookup as IdHashKeyLookup;
    this.#loading ??= lookup.load().then(
      (key) => {
        this.#key = checkIdHashKey(key);
        return this.#key;
      },
      (err: unknown) => {
        this.#loading = undefined;
        throw err;
      },
    );
    return this.#loading;
  }
}

/**
 * A ConfigError, also when a lookup loads the key at the first call: a short key is the
 * deployer's mistake, which the caller cannot fix (it answers INTERNAL, logged).
 */
export function checkIdHashKey(key: Buffer): Buffer {
  if (!Buffer.isBuffer(key) || key.length < MIN_ID_HASH_KEY_BYTES) {
    throw new ConfigError(`the id-hash key must be at least ${MIN_ID_HASH_KEY_BYTES} bytes`);
  }
  return key;
}
