-- KEYS[1]. Reply: false when missing, else {stored text, expireTime}.
-- #include lib/common.lua

local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local c = string.match(raw, '^%d+ (%d+) ')
if not c then return {raw, '0'} end
local e = slide(KEYS[1], now_ms(), tonumber(c))
if not e then return false end
return {raw, fmt_int(e)}
