-- KEYS[1] session key. Reply: false when missing, else {document, expireTime}.
-- #include lib/common.lua
-- #include lib/kv_header.lua

local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local now = now_ms()
local _, create = parse_header(raw)
local e = slide(KEYS[1], now, create)
if not e then return false end
return {raw, fmt_int(e)}
