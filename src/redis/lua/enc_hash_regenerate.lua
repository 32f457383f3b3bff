-- KEYS[1] old, KEYS[2] new (same slot), KEYS[3] the old one's lock, KEYS[4] the old one's
-- request records; ARGV[7] lock token, ARGV[8] the old metadata as read, ARGV[9] "1" to
-- keep the old one, ARGV[10] the new one's metadata (version 1, the old creation time,
-- which the compare-and-set keeps, and a manifest sealed for the new key), ARGV[11..]
-- field, sealed pairs (every value sealed for the new key).
-- Reply: {'missing'}, {'taken'}, {'conflict'} or {'ok', ...}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/regenerate_check.lua
-- #include lib/enc_hash_meta.lua
-- #include lib/chunked.lua
-- #include lib/enc_lock.lua

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
