import type { SessionRecord } from "../Storage.js";
import type { RedisClient } from "./RedisConnection.js";
import { dataFrom, RedisStorageBase, type RedisStorageOptions } from "./RedisStorageBase.js";

/**
 * `redis-hash`: one hash per session, one field per key (see hashScripts.ts). Reading or
 * writing one key touches only that field, so it suits large sessions accessed by key.
 */
export class RedisHashStorage extends RedisStorageBase {
  constructor(client: RedisClient, options: RedisStorageOptions = {}) {
    super(
      client,
      {
        key: (keys, id) => keys.hash(id),
        read: "sessiondHashRead",
        readKey: "sessiondHashReadKey",
        touch: "sessiondHashTouch",
        apply: "sessiondHashApply",
      },
      options,
    );
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
