-- KEYS[1] old hash, KEYS[2] new one (same slot: see idFamily.ts), KEYS[3] the old
-- one's request records; ARGV[7] "1" to keep the old one.
-- Reply: {'missing'}, {'taken'} or {'ok', version, createTime, expireTime}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/regenerate_check.lua
-- #include lib/hash_meta.lua

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
