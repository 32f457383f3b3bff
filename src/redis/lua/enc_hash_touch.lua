-- KEYS[1]: slides a live session's expiry (as enc_kv_touch.lua). Reply: false when
-- missing, else {version, createTime, expireTime}.
-- #include lib/common.lua
-- #include lib/enc_hash_meta.lua

local meta = redis.call('HGET', KEYS[1], '')
if not meta then return false end
local create = hash_create(meta)
local e = slide(KEYS[1], now_ms(), create)
if not e then return false end
return {string.match(meta, '^(%d+)'), fmt_int(create), fmt_int(e)}
