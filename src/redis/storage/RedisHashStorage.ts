import type { RedisClient, RedisTarget } from "../client/RedisTarget.js";
import { LuaDeltaStorage } from "./LuaDeltaStorage.js";
import { HASH } from "./layouts.js";
import type { RedisStorageOptions } from "./RedisSide.js";

/**
 * `redis-hash`: the hash layout (one hash per session, see layouts.ts) with the Lua-delta
 * write strategy (every write one script, see ../lua/hash_*.lua).
 */
export class RedisHashStorage extends LuaDeltaStorage {
  constructor(client: RedisClient | RedisTarget, options: RedisStorageOptions = {}) {
    super(client, HASH, options);
  }
}
