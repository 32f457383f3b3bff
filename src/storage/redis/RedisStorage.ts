import type { SessionRecord } from "../Storage.js";
import type { RedisClient } from "./RedisConnection.js";
import { dataFrom, RedisStorageBase, type RedisStorageOptions } from "./RedisStorageBase.js";

/**
 * `redis`: one string key per session holding its whole document (see kvScripts.ts).
 * A whole-session read is one GET; every write rewrites the document inside Redis, so
 * it suits small sessions read whole.
 */
export class RedisStorage extends RedisStorageBase {
  constructor(client: RedisClient, options: RedisStorageOptions = {}) {
    super(
      client,
      {
        key: (keys, id) => keys.kv(id),
        read: "sessiondKvRead",
        readKey: "sessiondKvReadKey",
        touch: "sessiondKvTouch",
        apply: "sessiondKvApply",
      },
      options,
    );
  }

  protected decodeRead(reply: unknown[]): SessionRecord {
    const [raw, expireTime] = reply as [string, string];
    const doc = JSON.parse(raw) as { v: number; c: number; d: Record<string, string> };
    return {
      version: doc.v,
      createTime: doc.c,
      expireTime: Number(expireTime),
      data: dataFrom(Object.entries(doc.d)),
    };
  }
}
