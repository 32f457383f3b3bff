import type { RedisClient, RedisTarget } from "../client/RedisTarget.js";
import { LuaDeltaStorage } from "./LuaDeltaStorage.js";
import { KV } from "./layouts.js";
import type { RedisStorageOptions } from "./RedisSide.js";

/**
 * `redis`: the kv layout (one string per session, see layouts.ts) with the Lua-delta
 * write strategy (every write one script, see ../lua/kv_*.lua).
 */
export class RedisStorage extends LuaDeltaStorage {
  constructor(client: RedisClient | RedisTarget, options: RedisStorageOptions = {}) {
    super(client, KV, options);
  }
}
