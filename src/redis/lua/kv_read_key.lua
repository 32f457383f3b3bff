-- KEYS[1] session key, ARGV[3] user key. Reply: false when missing, {1, json} or {0}.
-- #include lib/common.lua
-- #include lib/kv_header.lua
-- #include lib/kv_slid.lua

local raw = kv_slid(KEYS[1])
if not raw then return false end
local value = cjson.decode(raw).d[ARGV[3]]
if value then return {1, value} end
return {0}
