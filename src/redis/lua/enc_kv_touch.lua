-- KEYS[1], KEYS[2] its request records (ARGV[3..6]). Reply: false when missing, else
-- {version, createTime, expireTime}.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/enc_kv_header.lua

local function main()
  local state, create = kv_state(KEYS[1])
  if not state then return false end
  local e = slide(KEYS[1], now_ms(), create)
  if not e then return false end
  local v = string.match(state, '^(%d+)')
  return {v, fmt_int(create), fmt_int(e)}
end
return idem_run(main)
