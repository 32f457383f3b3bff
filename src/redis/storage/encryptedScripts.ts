import {
  ENC_HASH_COMMIT,
  ENC_HASH_LOAD,
  ENC_HASH_READ,
  ENC_HASH_READ_KEY,
  ENC_HASH_TOUCH,
  ENC_KV_COMMIT,
  ENC_KV_LOAD,
  ENC_KV_READ,
  ENC_KV_TOUCH,
  ENC_UNLOCK,
} from "../../gen/lua.js";

/**
 * Scripts of the encrypted Redis storages (EncryptedRedisStorage, EncryptedRedisHashStorage),
 * DocumentStores under SessionEngine, which decides every session rule. Lua cannot look
 * inside a ciphertext, so a write is the engine's round: `load` (one script: the stored
 * session, Redis' clock, the request record asked for), the rules decided and sealed in
 * Node, then `commit` (one script for all of a round's writes): it writes only if every
 * session is still at the state that was read (its version and creation time, which every
 * put changes) and the record is still absent, else replies 'conflict' and the engine
 * starts over. Reads and slides change no state, so they never make a write start over.
 *
 * Their Lua is src/redis/lua/enc_*.lua (built into src/gen/lua.ts by `npm run gen`). Reads
 * and slides compute the expiry there with Redis' clock (ARGV[1..2], see
 * ../lua/lib/common.lua); a commit gets the expiry the engine computed from the load's clock.
 *
 * Request records are sealed in Node (see encryptedRecords.ts) and stored as
 * `{"e":<expiry ms>,"x":"<sealed>"}`, so that Lua can still drop expired ones and the oldest
 * beyond the cap (../lua/lib/prune_records.lua).
 *
 * A writer that keeps losing (writers on other instances keep committing first) takes the
 * session's write lock (`<session key>:lock`, SET NX PX, same slot): while it is held, only
 * commits carrying its token go through, so the writer that waited longest gets its turn.
 * A commit that goes through frees the lock; an abandoned lock expires after the call's bound.
 *
 * Registered with defineCommand beside the plain scripts on every node (see RedisNode.ts).
 */
export const ENCRYPTED_SCRIPTS = {
  sessiondEncKvLoad: { lua: ENC_KV_LOAD, keys: 2 },
  sessiondEncKvRead: { lua: ENC_KV_READ, keys: 1 },
  sessiondEncKvTouch: { lua: ENC_KV_TOUCH, keys: 1 },
  sessiondEncKvCommit: { lua: ENC_KV_COMMIT, keys: 6 },
  sessiondEncHashLoad: { lua: ENC_HASH_LOAD, keys: 2 },
  sessiondEncHashRead: { lua: ENC_HASH_READ, keys: 1 },
  sessiondEncHashReadKey: { lua: ENC_HASH_READ_KEY, keys: 1 },
  sessiondEncHashTouch: { lua: ENC_HASH_TOUCH, keys: 1 },
  sessiondEncHashCommit: { lua: ENC_HASH_COMMIT, keys: 6 },
  sessiondEncUnlock: { lua: ENC_UNLOCK, keys: 1 },
} as const;

type Script = (...keysThenArgs: [...string[], readonly string[]]) => Promise<unknown>;

/** The client as seen through defineCommand: keys first, then the arguments as one array. */
export type EncryptedCommands = { [name in keyof typeof ENCRYPTED_SCRIPTS]: Script } & {
  set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<string | null>;
  del(key: string): Promise<number>;
};
