import { LUA_CHUNKED, LUA_COMMON, LUA_IDEM, LUA_REGENERATE_CHECK } from "./luaCommon.js";

/**
 * Scripts of the encrypted Redis storages (EncryptedRedisStorage, EncryptedRedisHashStorage).
 * Lua cannot look inside a ciphertext, so writes are read in Node, decrypted, applied,
 * sealed again, and committed by a compare-and-set script: it writes only if the session
 * is still at the state that was read (its version and creation time, which every write
 * changes), else replies {'conflict'} and Node starts over. Reads and slides change
 * neither, so they never make a write start over.
 *
 * Expiry is computed here with Redis' clock, like every sessiond script (ARGV[1..2], see
 * luaCommon.ts). Replies of the writes: {'ok', version, createTime, expireTime, ...},
 * {'conflict'}, or {'expired'} (the session's lifetime ran out since it was read).
 *
 * Request records (see Idempotency in Storage.ts) are the plain scripts' (luaIdempotency:
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
 */

// Whether the session's lock (KEYS[lock]) lets this commit through, and whether it was held.
const ENC_LOCK = `
local function lock_lets(lock)
  local holder = redis.call('GET', lock)
  if not holder then return true, false end
  return holder == ARGV[7], true
end

-- A commit's reply: the plain apply script's (applyReply.ts), with the increments Node
-- computed (ARGV[first..last], key and value pairs), so that its request record replays
-- exactly like a plain one.
local function committed(version, create, e, first, last)
  local out = {'ok', version, fmt_int(create), fmt_int(e)}
  for i = first, last do table.insert(out, ARGV[i]) end
  return out
end
`;

/**
 * KEYS[1] a request records hash, ARGV[3..6] the record, ARGV[7..] a reply decided in Node
 * without a write ('skip', 'missing', or {'refused', code, message}). Replies the live
 * record's outcome if there is one, else that reply, recorded when it is a refusal: so an
 * outcome decided on a read is checked against the records as atomically as a commit.
 */
export const ENC_SETTLE = `${LUA_COMMON}${LUA_IDEM}
local function main()
  local out = {}
  for i = 7, #ARGV do table.insert(out, ARGV[i]) end
  return out
end
return idem_run(main)
`;

/** KEYS[1] the lock, ARGV[1] the token: frees the lock if this writer still holds it. */
export const ENC_UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

// `redis`: one string "<version> <createTime> <base64 of the sealed document>".
const ENC_KV_HEADER = `
local function kv_state(key)
  local head = redis.call('GETRANGE', key, 0, 63)
  if head == '' then return nil end
  local state, c = string.match(head, '^(%d+ (%d+)) ')
  if not state then return '?', 0 end
  return state, tonumber(c)
end
`;

/**
 * KEYS[1], for a write: {stored text or nil, Redis' clock in ms}. The clock is a new
 * session's creation time, which its seal is bound to (Node seals before the commit).
 */
export const ENC_KV_LOAD = `${LUA_COMMON}
return {redis.call('GET', KEYS[1]), fmt_int(now_ms())}
`;

/** KEYS[1]. Reply: false when missing, else {stored text, expireTime}. */
export const ENC_KV_READ = `${LUA_COMMON}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local c = string.match(raw, '^%d+ (%d+) ')
if not c then return {raw, '0'} end
local e = slide(KEYS[1], now_ms(), tonumber(c))
if not e then return false end
return {raw, fmt_int(e)}
`;

/**
 * KEYS[1], KEYS[2] its request records (ARGV[3..6]). Reply: false when missing, else
 * {version, createTime, expireTime}.
 */
export const ENC_KV_TOUCH = `${LUA_COMMON}${LUA_IDEM}${ENC_KV_HEADER}
local function main()
  local state, create = kv_state(KEYS[1])
  if not state then return false end
  local e = slide(KEYS[1], now_ms(), create)
  if not e then return false end
  local v = string.match(state, '^(%d+)')
  return {v, fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;

/**
 * KEYS[1] session, KEYS[2] its lock, KEYS[3] its request records; ARGV[7] lock token,
 * ARGV[8] the state read ("<version> <createTime>", "" when missing), ARGV[9] the new
 * version, ARGV[10] the creation time the document is sealed for (a new session's: the
 * load's clock; else the state's, which the compare-and-set keeps), ARGV[11] the sealed
 * document (base64), ARGV[12..] the increments.
 */
export const ENC_KV_WRITE = `${LUA_COMMON}${LUA_IDEM}${ENC_KV_HEADER}${ENC_LOCK}
local function main()
  local lets, held = lock_lets(KEYS[2])
  if not lets then return {'conflict'} end
  local state, create = kv_state(KEYS[1])
  if (state or '') ~= ARGV[8] then return {'conflict'} end
  local now = now_ms()
  if not state then create = tonumber(ARGV[10]) end
  if held then redis.call('DEL', KEYS[2]) end
  local e = expire_at(now, create)
  if e <= now then
    redis.call('DEL', KEYS[1])
    return {'expired'}
  end
  redis.call('SET', KEYS[1], ARGV[9] .. ' ' .. fmt_int(create) .. ' ' .. ARGV[11], 'PXAT', fmt_int(e))
  return committed(ARGV[9], create, e, 12, #ARGV)
end
return idem_run(main)
`;

/**
 * KEYS[1] old, KEYS[2] new (same slot: see idFamily.ts), KEYS[3] the old one's lock,
 * KEYS[4] the old one's request records; ARGV[7] lock token, ARGV[8] the old one's state
 * as read, ARGV[9] its document sealed for the new key, ARGV[10] "1" to keep the old one.
 * Reply: {'missing'}, {'taken'}, {'conflict'} or {'ok', ...}.
 */
export const ENC_KV_REGENERATE = `${LUA_COMMON}${LUA_IDEM}${LUA_REGENERATE_CHECK}${ENC_KV_HEADER}${ENC_LOCK}
local function main()
  local lets, held = lock_lets(KEYS[3])
  if not lets then return {'conflict'} end
  local state, create = kv_state(KEYS[1])
  if not state then return {'missing'} end
  if state ~= ARGV[8] then return {'conflict'} end
  if held then redis.call('DEL', KEYS[3]) end
  local e, refusal = regenerate_check(create)
  if not e then return refusal end
  redis.call('SET', KEYS[2], '1 ' .. fmt_int(create) .. ' ' .. ARGV[9], 'PXAT', fmt_int(e))
  if ARGV[10] ~= '1' then redis.call('DEL', KEYS[1]) end
  return {'ok', '1', fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;

// `redis-hash`: the metadata field "" = "<version> <createTime> <bytes> <sealed manifest>"
// (no manifest in the format before it: still read for one release), and one field per key
// holding the base64 of its sealed value. Only Node reads the manifest.
const ENC_HASH_META = `
local function hash_create(meta)
  return tonumber(string.match(meta, '^%d+ (%d+)')) or 0
end
`;

/**
 * KEYS[1], for a write: {flat HGETALL, Redis' clock in ms} (the clock: a new session's
 * creation time, which its seals are bound to).
 */
export const ENC_HASH_LOAD = `${LUA_COMMON}
return {redis.call('HGETALL', KEYS[1]), fmt_int(now_ms())}
`;

/** KEYS[1]. Reply: false when missing, else {meta, expireTime, flat HGETALL}. */
export const ENC_HASH_READ = `${LUA_COMMON}${ENC_HASH_META}
local all = redis.call('HGETALL', KEYS[1])
local meta = nil
for i = 1, #all, 2 do
  if all[i] == '' then
    meta = all[i + 1]
    break
  end
end
if not meta then return false end
local e = slide(KEYS[1], now_ms(), hash_create(meta))
if not e then return false end
return {meta, fmt_int(e), all}
`;

/**
 * KEYS[1], ARGV[3] field. Reply: false when missing, else {meta, field count (HLEN, the
 * metadata included), sealed value} or {meta, field count} when the field is absent: Node
 * checks both against the sealed manifest, so a deleted field is seen by any one-key read.
 */
export const ENC_HASH_READ_KEY = `${LUA_COMMON}${ENC_HASH_META}
local r = redis.call('HMGET', KEYS[1], '', ARGV[3])
if not r[1] then return false end
local e = slide(KEYS[1], now_ms(), hash_create(r[1]))
if not e then return false end
local n = redis.call('HLEN', KEYS[1])
if r[2] then return {r[1], n, r[2]} end
return {r[1], n}
`;

/**
 * KEYS[1], KEYS[2] its request records (ARGV[3..6]). Reply: false when missing, else
 * {version, createTime, expireTime}.
 */
export const ENC_HASH_TOUCH = `${LUA_COMMON}${LUA_IDEM}${ENC_HASH_META}
local function main()
  local meta = redis.call('HGET', KEYS[1], '')
  if not meta then return false end
  local create = hash_create(meta)
  local e = slide(KEYS[1], now_ms(), create)
  if not e then return false end
  return {string.match(meta, '^(%d+)'), fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;

/**
 * KEYS[1] session, KEYS[2] its lock, KEYS[3] its request records; ARGV[7] lock token,
 * ARGV[8] the metadata as read ("" when missing), ARGV[9] new version, ARGV[10] new byte
 * count, ARGV[11] the creation time the seals are bound to (a new session's: the load's
 * clock; else the metadata's, which the compare-and-set keeps), ARGV[12] the new sealed
 * manifest, ARGV[13] k, ARGV[14..13+k] the increments, ARGV[14+k] n, then n fields to
 * delete, then field, sealed pairs.
 */
export const ENC_HASH_WRITE = `${LUA_COMMON}${LUA_IDEM}${ENC_HASH_META}${LUA_CHUNKED}${ENC_LOCK}
local function main()
  local key = KEYS[1]
  local lets, held = lock_lets(KEYS[2])
  if not lets then return {'conflict'} end
  local meta = redis.call('HGET', key, '')
  if (meta or '') ~= ARGV[8] then return {'conflict'} end
  if held then redis.call('DEL', KEYS[2]) end
  local now = now_ms()
  local create = tonumber(ARGV[11])
  if meta then create = hash_create(meta) end
  local e = expire_at(now, create)
  if e <= now then
    redis.call('DEL', key)
    return {'expired'}
  end
  local k = tonumber(ARGV[13])
  local at = 14 + k
  local n = tonumber(ARGV[at])
  local gone = {}
  for i = at + 1, at + n do table.insert(gone, ARGV[i]) end
  chunked('HDEL', key, gone)
  local args = {'', ARGV[9] .. ' ' .. fmt_int(create) .. ' ' .. ARGV[10] .. ' ' .. ARGV[12]}
  for i = at + n + 1, #ARGV do table.insert(args, ARGV[i]) end
  chunked('HSET', key, args)
  redis.call('PEXPIREAT', key, fmt_int(e))
  return committed(ARGV[9], create, e, 14, 13 + k)
end
return idem_run(main)
`;

/**
 * KEYS[1] old, KEYS[2] new (same slot), KEYS[3] the old one's lock, KEYS[4] the old one's
 * request records; ARGV[7] lock token, ARGV[8] the old metadata as read, ARGV[9] "1" to
 * keep the old one, ARGV[10] the new one's metadata (version 1, the old creation time,
 * which the compare-and-set keeps, and a manifest sealed for the new key), ARGV[11..]
 * field, sealed pairs (every value sealed for the new key).
 */
export const ENC_HASH_REGENERATE = `${LUA_COMMON}${LUA_IDEM}${LUA_REGENERATE_CHECK}${ENC_HASH_META}${LUA_CHUNKED}${ENC_LOCK}
local function main()
  local lets, held = lock_lets(KEYS[3])
  if not lets then return {'conflict'} end
  local meta = redis.call('HGET', KEYS[1], '')
  if not meta then return {'missing'} end
  if meta ~= ARGV[8] then return {'conflict'} end
  if held then redis.call('DEL', KEYS[3]) end
  local create = hash_create(meta)
  local e, refusal = regenerate_check(create)
  if not e then return refusal end
  local args = {'', ARGV[10]}
  for i = 11, #ARGV do table.insert(args, ARGV[i]) end
  chunked('HSET', KEYS[2], args)
  redis.call('PEXPIREAT', KEYS[2], fmt_int(e))
  if ARGV[9] ~= '1' then redis.call('DEL', KEYS[1]) end
  return {'ok', '1', fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;

/** Registered with defineCommand beside the plain scripts on every node (see RedisNode.ts). */
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
