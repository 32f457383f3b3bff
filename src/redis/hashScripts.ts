import {
  LUA_APPLY_OPS,
  LUA_CHUNKED,
  LUA_COMMON,
  LUA_HASH_META,
  LUA_IDEM,
  LUA_REGENERATE_CHECK,
} from "./luaCommon.js";

/**
 * Scripts for RedisHashStorage: one hash per session, one field per user key holding the
 * value's JSON text, plus the metadata field "" (LUA_HASH_META).
 */
/** KEYS[1] hash. Reply: false when missing, else {version, createTime, expireTime, flat HGETALL}. */
export const HASH_READ = `${LUA_COMMON}${LUA_HASH_META}
local all = redis.call('HGETALL', KEYS[1])
local meta = nil
for i = 1, #all, 2 do
  if all[i] == '' then
    meta = all[i + 1]
    break
  end
end
if not meta then return false end
local now = now_ms()
local version, create = parse_meta(meta)
local e = slide(KEYS[1], now, create)
if not e then return false end
return {fmt_int(version), fmt_int(create), fmt_int(e), all}
`;

/** KEYS[1] hash, ARGV[3] user key. Reply: false when missing, {1, json} or {0}. */
export const HASH_READ_KEY = `${LUA_COMMON}${LUA_HASH_META}
local r = redis.call('HMGET', KEYS[1], '', ARGV[3])
if not r[1] then return false end
local now = now_ms()
local _, create = parse_meta(r[1])
local e = slide(KEYS[1], now, create)
if not e then return false end
if r[2] then return {1, r[2]} end
return {0}
`;

/**
 * KEYS[1] hash, KEYS[2] its request records (ARGV[3..6], see LUA_IDEM). Reply: false when
 * missing, else {version, createTime, expireTime}.
 */
export const HASH_TOUCH = `${LUA_COMMON}${LUA_IDEM}${LUA_HASH_META}
local function main()
  local meta = redis.call('HGET', KEYS[1], '')
  if not meta then return false end
  local now = now_ms()
  local version, create = parse_meta(meta)
  local e = slide(KEYS[1], now, create)
  if not e then return false end
  return {fmt_int(version), fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;

/** KEYS[1] hash, KEYS[2] its request records; ARGV as in LUA_APPLY_OPS. Reply: see applyReply.ts. */
export const HASH_APPLY = `${LUA_COMMON}${LUA_IDEM}${LUA_HASH_META}${LUA_CHUNKED}
local function main()
  local key = KEYS[1]
  local now = now_ms()
  local meta = redis.call('HGET', key, '')
  local exists = false
  local version, create, count, bytes = 0, now, 0, 0
  if meta then
    local v, c, b = parse_meta(meta)
    if expire_at(now, c) <= now then
      redis.call('DEL', key)
    else
      exists = true
      version, create, bytes = v, c, b
      count = redis.call('HLEN', key) - 1
    end
  end
  local function lookup(field)
    if not exists then return false end
    return redis.call('HGET', key, field)
  end
  local function stored_len(field)
    if not exists then return 0 end
    return redis.call('HSTRLEN', key, field)
  end
  ${LUA_APPLY_OPS}
  local refused = apply_delta(exists, version)
  if refused then return refused end
  version = version + 1
  local e = expire_at(now, create)
  if cleared then redis.call('DEL', key) end
  local gone = {}
  local args = {'', fmt_int(version) .. ' ' .. fmt_int(create) .. ' ' .. fmt_int(bytes)}
  for field, text in pairs(changed) do
    if text then
      table.insert(args, field)
      table.insert(args, text)
    elseif not cleared then
      table.insert(gone, field)
    end
  end
  chunked('HDEL', key, gone)
  chunked('HSET', key, args)
  redis.call('PEXPIREAT', key, fmt_int(e))
  return ok_reply(version, create, e)
end
return idem_run(main)
`;

/**
 * KEYS[1] old hash, KEYS[2] new one (same slot: see idFamily.ts), KEYS[3] the old
 * one's request records; ARGV[7] "1" to keep the old one. Reply: {'missing'}, {'taken'} or {'ok', version, createTime, expireTime}.
 */
export const HASH_REGENERATE = `${LUA_COMMON}${LUA_IDEM}${LUA_REGENERATE_CHECK}${LUA_HASH_META}
local function main()
  local meta = redis.call('HGET', KEYS[1], '')
  if not meta then return {'missing'} end
  local _, create, bytes = parse_meta(meta)
  local e, refusal = regenerate_check(create)
  if not e then return refusal end
  if ARGV[7] == '1' then
    redis.call('COPY', KEYS[1], KEYS[2])
  else
    redis.call('RENAME', KEYS[1], KEYS[2])
  end
  redis.call('HSET', KEYS[2], '', '1 ' .. fmt_int(create) .. ' ' .. fmt_int(bytes))
  redis.call('PEXPIREAT', KEYS[2], fmt_int(e))
  return {'ok', '1', fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;
