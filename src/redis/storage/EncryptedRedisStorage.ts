import type { SessionDoc } from "../../core/engine/DocumentStore.js";
import type { SessionData } from "../../core/json.js";
import type { ReadOptions, SessionRecord } from "../../core/storage/Storage.js";
import type { RedisClient, RedisTarget } from "../client/RedisTarget.js";
import { expiryArgs } from "./applyArgs.js";
import {
  type Decoded,
  EncryptedRedisEngine,
  type EncryptedRedisStorageOptions,
  EncryptedRedisStore,
  type Revision,
} from "./EncryptedRedisStore.js";
import { malformed } from "./encryptedRecords.js";
import { KV } from "./layouts.js";

const AAD = "sessiond-redis/2 kv ";
/** The format before seals were bound to version and creation time; read for this release. */
const LEGACY_AAD = "sessiond-redis/1 kv ";

/**
 * The `redis` layout, encrypted: one string per session (the plain layout's key), holding
 * `<version> <createTime> <base64 of the sealed document>`. The document (every key and
 * value) is sealed with AES-256-GCM, bound to the session's Redis key, version and
 * creation time: a document copied to another session's key, put back under a later
 * version, or left under a moved creation time (which would restart the absolute
 * lifetime) does not open. Version and creation time stay readable for the scripts
 * (expiry, compare-and-set); they say nothing about the session's content.
 */
export class EncryptedKvStore extends EncryptedRedisStore {
  constructor(client: RedisClient | RedisTarget, options: EncryptedRedisStorageOptions) {
    super(client, KV, options);
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const key = this.keyOf(id);
    const args = expiryArgs(expiry);
    const reply = await this.run((c) => c.sessiondEncKvRead(key, args), key, false, expiry.signal);
    if (!reply) return undefined;
    const [raw, expireTime] = reply as [string, string];
    const loaded = this.decode(key, id, raw) as Decoded;
    if (loaded.stale) this.resealLater(id);
    return {
      version: loaded.version,
      createTime: loaded.createTime,
      expireTime: Number(expireTime),
      data: loaded.data,
    };
  }

  protected decode(key: string, id: string, raw: unknown): Decoded | undefined {
    if (typeof raw !== "string") return undefined;
    const match = /^(\d+) (\d+) ([A-Za-z0-9+/=]+)$/.exec(raw);
    if (!match) throw malformed("an encrypted session is not in the encrypted layout");
    const [, version, createTime, sealed] = match as unknown as [string, string, string, string];
    const { text, legacy } = this.openBound(
      sealed,
      aad(key, Number(version), Number(createTime)),
      LEGACY_AAD + key,
      id,
    );
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw malformed("a decrypted session is not JSON");
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw malformed("a decrypted session is not an object");
    }
    return {
      revision: { state: `${version} ${createTime}` },
      version: Number(version),
      createTime: Number(createTime),
      data: data as SessionData,
      stale: legacy || this.sealedByOldKey(sealed),
    };
  }

  protected putArgs(key: string, _: Revision, doc: SessionDoc): string[] {
    const { version, createTime } = doc;
    const sealed = this.seal(JSON.stringify(doc.data), aad(key, version, createTime));
    return [`${version} ${createTime} ${sealed}`];
  }
}

/**
 * `redis` with encryption at rest: SessionEngine (every session rule) over EncryptedKvStore
 * (the layout and its sealing).
 */
export class EncryptedRedisStorage extends EncryptedRedisEngine {
  constructor(client: RedisClient | RedisTarget, options: EncryptedRedisStorageOptions) {
    super(new EncryptedKvStore(client, options));
  }
}

/**
 * The document's associated data: its key, version and creation time, as the clear prefix
 * has them (a Redis key holds no newline: prefix and id are checked).
 */
function aad(key: string, version: number, createTime: number): string {
  return `${AAD}${key}\n${version} ${createTime}`;
}
