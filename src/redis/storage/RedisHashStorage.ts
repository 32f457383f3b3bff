import type { JsonValue } from "../../core/json.js";
import type { KeyRead, ReadOptions, SessionRecord } from "../../core/storage/Storage.js";
import type { RedisClient, RedisTarget } from "../client/RedisTarget.js";
import { checkKey, expiryArgs } from "./applyArgs.js";
import {
  dataFrom,
  decode,
  RedisStorageBase,
  type RedisStorageOptions,
} from "./RedisStorageBase.js";

/**
 * `redis-hash`: one hash per session, one field per key (see ../lua/hash_*.lua). Reading or
 * writing one key touches only that field, so it suits large sessions accessed by key.
 */
export class RedisHashStorage extends RedisStorageBase {
  constructor(client: RedisClient | RedisTarget, options: RedisStorageOptions = {}) {
    super(
      client,
      {
        key: (keys, id) => keys.hash(id),
        read: "sessiondHashRead",
        readKey: "sessiondHashReadKey",
        touch: "sessiondHashTouch",
        apply: "sessiondHashApply",
        regenerate: "sessiondHashRegenerate",
      },
      options,
    );
  }

  /**
   * The Get path. Without an absolute lifetime the new expiry does not depend on what is
   * stored, so a plain HGET and PEXPIRE, auto-pipelined into one round trip, do the job
   * at a fraction of the script's cost to Redis; a session this instance slid within the
   * coalescing window (RecentSlides) is read with one HMGET and not slid again. With a
   * lifetime, the script caps the expiry.
   */
  override async readKey(
    id: string,
    key: string,
    expiry: ReadOptions,
  ): Promise<KeyRead | undefined> {
    if (expiry.maxLifetimeMs !== undefined) return super.readKey(id, key, expiry);
    const [ttl] = expiryArgs(expiry) as [string];
    const field = checkKey(key);
    const hash = this.keyOf(id);
    const now = Date.now();
    let text: string | null | undefined;
    if (this.slides.fresh(hash, expiry.ttlMs, now)) {
      // Slid by this instance moments ago: one HMGET, whose metadata field says whether
      // the session still exists.
      const [meta, value] = await this.connection.run((c) => c.hmget(hash, "", field), {
        key: hash,
        signal: expiry.signal,
      });
      if (meta === null || meta === undefined) {
        this.slides.forget(hash);
        return undefined;
      }
      text = value;
    } else {
      const [value, slid] = await this.connection.run(
        (c) => Promise.all([c.hget(hash, field), c.pexpire(hash, ttl)]),
        { key: hash, signal: expiry.signal },
      );
      if (Number(slid) !== 1) return undefined;
      this.slides.mark(hash, expiry.ttlMs, now);
      text = value;
    }
    if (text === null || text === undefined) return { found: false };
    const json = text;
    return decode(() => ({ found: true, value: JSON.parse(json) as JsonValue }));
  }

  protected decodeRead(reply: unknown[]): SessionRecord {
    const [version, createTime, expireTime, flat] = reply as [string, string, string, string[]];
    return {
      version: Number(version),
      createTime: Number(createTime),
      expireTime: Number(expireTime),
      data: dataFrom(fields(flat)),
    };
  }
}

/** HGETALL's flat [field, value, ...] without the metadata field "". */
function* fields(flat: string[]): Generator<[string, string]> {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i] as string;
    if (field !== "") yield [field, flat[i + 1] as string];
  }
}
