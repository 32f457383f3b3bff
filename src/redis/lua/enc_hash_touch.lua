-- KEYS[1]: slides a live session's expiry (as enc_kv_touch.lua). Reply: false when
-- missing, else {version, createTime, expireTime}.
-- #include lib/common.lua
-- #include lib/enc_hash_meta.lua

local meta = redis.call('HGET', KEYS[1], '')
if not meta then return false end
return touched(KEYS[1], string.match(meta, '^(%d+)'), hash_create(meta))
