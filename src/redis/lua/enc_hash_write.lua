-- KEYS[1] session, KEYS[2] its lock, KEYS[3] its request records; ARGV[7] lock token,
-- ARGV[8] the metadata as read ("" when missing), ARGV[9] new version, ARGV[10] new byte
-- count, ARGV[11] the creation time the seals are bound to (a new session's: the load's
-- clock; else the metadata's, which the compare-and-set keeps), ARGV[12] the new sealed
-- manifest, ARGV[13] k, ARGV[14..13+k] the increments, ARGV[14+k] n, then n fields to
-- delete, then field, sealed pairs.
-- Reply: {'ok', version, createTime, expireTime, ...}, {'conflict'} or {'expired'}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/enc_hash_meta.lua
-- #include lib/chunked.lua
-- #include lib/enc_lock.lua

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
