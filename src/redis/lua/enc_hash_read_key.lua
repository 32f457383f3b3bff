-- KEYS[1], ARGV[3] field. Reply: false when missing, else {meta, field count (HLEN, the
-- metadata included), sealed value} or {meta, field count} when the field is absent: Node
-- checks both against the sealed manifest, so a deleted field is seen by any one-key read.
-- #include lib/common.lua
-- #include lib/enc_hash_meta.lua

local r = redis.call('HMGET', KEYS[1], '', ARGV[3])
if not r[1] then return false end
local e = slide(KEYS[1], now_ms(), hash_create(r[1]))
if not e then return false end
local n = redis.call('HLEN', KEYS[1])
if r[2] then return {r[1], n, r[2]} end
return {r[1], n}
