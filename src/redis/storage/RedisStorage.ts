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

interface Document {
  v: number;
  c: number;
  d: Record<string, string>;
}

/**
 * `redis`: one string key per session holding its whole document (see ../lua/kv_*.lua).
 * A whole-session read is one GET; every write rewrites the document inside Redis, so
 * it suits small sessions read whole.
 */
export class RedisStorage extends RedisStorageBase {
  constructor(client: RedisClient | RedisTarget, options: RedisStorageOptions = {}) {
    super(
      client,
      {
        key: (keys, id) => keys.kv(id),
        read: "sessiondKvRead",
        readKey: "sessiondKvReadKey",
        touch: "sessiondKvTouch",
        apply: "sessiondKvApply",
        regenerate: "sessiondKvRegenerate",
      },
      options,
    );
  }

  /**
   * The Get path. Without an absolute lifetime the new expiry does not depend on what is
   * stored, so a GET and a PEXPIRE, auto-pipelined into one round trip, do the job and
   * the document is parsed here rather than by cjson inside Redis, which every sessiond
   * instance shares. With a lifetime, the script caps the expiry.
   */
  override async readKey(
    id: string,
    key: string,
    expiry: ReadOptions,
  ): Promise<KeyRead | undefined> {
    if (expiry.maxLifetimeMs !== undefined) return super.readKey(id, key, expiry);
    const [ttl] = expiryArgs(expiry) as [string];
    checkKey(key);
    const kv = this.keyOf(id);
    const now = Date.now();
    let raw: string | null;
    if (this.slides.fresh(kv, expiry.ttlMs, now)) {
      // Slid by this instance moments ago (RecentSlides): one GET.
      raw = await this.connection.run((c) => c.get(kv), { key: kv, signal: expiry.signal });
      if (typeof raw !== "string") {
        this.slides.forget(kv);
        return undefined;
      }
    } else {
      const [text, slid] = await this.connection.run(
        (c) => Promise.all([c.get(kv), c.pexpire(kv, ttl)]),
        { key: kv, signal: expiry.signal },
      );
      if (Number(slid) !== 1 || typeof text !== "string") return undefined;
      this.slides.mark(kv, expiry.ttlMs, now);
      raw = text;
    }
    const doc = raw;
    return decode(() => {
      const data = (JSON.parse(doc) as Document).d;
      return Object.hasOwn(data, key)
        ? { found: true, value: JSON.parse(data[key] as string) as JsonValue }
        : { found: false };
    });
  }

  protected decodeRead(reply: unknown[]): SessionRecord {
    const [raw, expireTime] = reply as [string, string];
    const doc = JSON.parse(raw) as Document;
    return {
      version: doc.v,
      createTime: doc.c,
      expireTime: Number(expireTime),
      data: dataFrom(Object.entries(doc.d)),
    };
  }
}
