-- The encrypted storages' load (enc_kv_load.lua, enc_hash_load.lua): what a write reads,
-- in one snapshot: the stored session, its PTTL, Redis' clock and the record asked for.

local function enc_load(stored)
  local record = false
  if ARGV[1] ~= '' then record = redis.call('HGET', KEYS[2], ARGV[1]) end
  return {stored, redis.call('PTTL', KEYS[1]), fmt_int(now_ms()), record}
end
