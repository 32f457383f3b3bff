-- KEYS[1] session, KEYS[2] its lock, KEYS[3] its request records; ARGV[7] lock token,
-- ARGV[8] the state read ("<version> <createTime>", "" when missing), ARGV[9] the new
-- version, ARGV[10] the creation time the document is sealed for (a new session's: the
-- load's clock; else the state's, which the compare-and-set keeps), ARGV[11] the sealed
-- document (base64), ARGV[12..] the increments.
-- Reply: {'ok', version, createTime, expireTime, ...}, {'conflict'} or {'expired'}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/enc_kv_header.lua
-- #include lib/enc_lock.lua

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
