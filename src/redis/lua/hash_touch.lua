-- KEYS[1] hash, KEYS[2] its request records (ARGV[3..6], see idempotency.lua).
-- Reply: false when missing, else {version, createTime, expireTime}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/hash_meta.lua

local function main()
  local meta = redis.call('HGET', KEYS[1], '')
  if not meta then return false end
  local version, create = parse_meta(meta)
  return touched(KEYS[1], fmt_int(version), create)
end
return idem_run(main)
