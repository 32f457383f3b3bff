-- KEYS[1] old session key, KEYS[2] new one (same slot: see idFamily.ts), KEYS[3] the old
-- one's request records; ARGV[7] "1" to keep the old one.
-- Reply: {'missing'}, {'taken'} or {'ok', version, createTime, expireTime}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/regenerate_check.lua
-- #include lib/kv_header.lua

local function main()
  local raw = redis.call('GET', KEYS[1])
  if not raw then return {'missing'} end
  local _, create = parse_header(raw)
  local e, refusal = regenerate_check(create)
  if not e then return refusal end
  local body = string.gsub(raw, '^{"v":%d+,', '{"v":1,', 1)
  redis.call('SET', KEYS[2], body, 'PXAT', fmt_int(e))
  if ARGV[7] ~= '1' then redis.call('DEL', KEYS[1]) end
  return {'ok', '1', fmt_int(create), fmt_int(e)}
end
return idem_run(main)
