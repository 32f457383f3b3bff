import {
  ENC_HASH_LOAD,
  ENC_HASH_READ,
  ENC_HASH_READ_KEY,
  ENC_HASH_REGENERATE,
  ENC_HASH_TOUCH,
  ENC_HASH_WRITE,
  ENC_KV_LOAD,
  ENC_KV_READ,
  ENC_KV_REGENERATE,
  ENC_KV_TOUCH,
  ENC_KV_WRITE,
  ENC_SETTLE,
  ENC_UNLOCK,
} from "../../gen/lua.js";

/**
 * Scripts of the encrypted Redis storages (EncryptedRedisStorage, EncryptedRedisHashStorage).
 * Lua cannot look inside a ciphertext, so writes are read in Node, decrypted, applied,
 * sealed again, and committed by a compare-and-set script: it writes only if the session
 * is still at the state that was read (its version and creation time, which every write
 * changes), else replies {'conflict'} and Node starts over. Reads and slides change
 * neither, so they never make a write start over.
 *
 * Their Lua is src/redis/lua/enc_*.lua (built into src/gen/lua.ts by `npm run gen`).
 * Expiry is computed there with Redis' clock, like every sessiond script (ARGV[1..2], see
 * ../lua/lib/common.lua). Replies of the writes: {'ok', version, createTime, expireTime, ...},
 * {'conflict'}, or {'expired'} (the session's lifetime ran out since it was read).
 *
 * Request records (see Idempotency in Storage.ts) are the plain scripts' (../lua/lib/idempotency.lua:
 * ARGV[3..6], the records hash as the last key, in the session's slot; the session key
 * again when there is no request id): a write checks and records in the same script as
 * its compare-and-set, so a first attempt that commits between another attempt's read
 * and its commit is replayed, not applied twice. The replies recorded are the plain
 * scripts' (an apply's carries its increments), so records replay alike in every layout.
 *
 * A writer that keeps losing (writers on other instances keep committing first) takes the
 * session's write lock (`<session key>:lock`, SET NX PX, same slot): while it is held, only
 * commits carrying its token (ARGV[7], "" for none) go through, so the writer that waited
 * longest gets its turn. A commit that goes through frees the lock; an abandoned lock
 * expires after the call's bound.
 *
 * Registered with defineCommand beside the plain scripts on every node (see RedisNode.ts).
 */
export const ENCRYPTED_SCRIPTS = {
  sessiondEncKvLoad: { lua: ENC_KV_LOAD, keys: 1 },
  sessiondEncKvRead: { lua: ENC_KV_READ, keys: 1 },
  sessiondEncKvTouch: { lua: ENC_KV_TOUCH, keys: 2 },
  sessiondEncKvWrite: { lua: ENC_KV_WRITE, keys: 3 },
  sessiondEncKvRegenerate: { lua: ENC_KV_REGENERATE, keys: 4 },
  sessiondEncHashLoad: { lua: ENC_HASH_LOAD, keys: 1 },
  sessiondEncHashRead: { lua: ENC_HASH_READ, keys: 1 },
  sessiondEncHashReadKey: { lua: ENC_HASH_READ_KEY, keys: 1 },
  sessiondEncHashTouch: { lua: ENC_HASH_TOUCH, keys: 2 },
  sessiondEncHashWrite: { lua: ENC_HASH_WRITE, keys: 3 },
  sessiondEncHashRegenerate: { lua: ENC_HASH_REGENERATE, keys: 4 },
  sessiondEncSettle: { lua: ENC_SETTLE, keys: 1 },
  sessiondEncUnlock: { lua: ENC_UNLOCK, keys: 1 },
} as const;

type Script = (...keysThenArgs: [...string[], readonly string[]]) => Promise<unknown>;

/** The client as seen through defineCommand: keys first, then the arguments as one array. */
export type EncryptedCommands = { [name in keyof typeof ENCRYPTED_SCRIPTS]: Script } & {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<string | null>;
  del(key: string): Promise<number>;
  /** Raw replies: HGETALL as a flat array (never an object a "__proto__" field could bend). */
  call(command: string, ...args: string[]): Promise<unknown>;
};
