-- KEYS[1] hash, ARGV[3] user key. Reply: false when missing, {1, json} or {0}.
-- #include lib/common.lua
-- #include lib/hash_meta.lua

local r = redis.call('HMGET', KEYS[1], '', ARGV[3])
if not r[1] then return false end
local now = now_ms()
local _, create = parse_meta(r[1])
local e = slide(KEYS[1], now, create)
if not e then return false end
if r[2] then return {1, r[2]} end
return {0}
