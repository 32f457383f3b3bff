-- KEYS[1] old, KEYS[2] new (same slot: see idFamily.ts), KEYS[3] the old one's lock,
-- KEYS[4] the old one's request records; ARGV[7] lock token, ARGV[8] the old one's state
-- as read, ARGV[9] its document sealed for the new key, ARGV[10] "1" to keep the old one.
-- Reply: {'missing'}, {'taken'}, {'conflict'} or {'ok', ...}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/regenerate_check.lua
-- #include lib/enc_kv_header.lua
-- #include lib/enc_lock.lua

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
