-- KEYS[1] session key, KEYS[2] its request records (ARGV[3..6], see idempotency.lua).
-- Reply: false when missing, else {version, createTime, expireTime}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/kv_header.lua

local function main()
  local head = redis.call('GETRANGE', KEYS[1], 0, 63)
  if head == '' then return false end
  local version, create = parse_header(head)
  return touched(KEYS[1], fmt_int(version), create)
end
return idem_run(main)
