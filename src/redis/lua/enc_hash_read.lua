-- KEYS[1]. Reply: false when missing, else {meta, expireTime, flat HGETALL}.
-- #include lib/common.lua
-- #include lib/enc_hash_meta.lua
-- #include lib/hash_all.lua

local all, meta = hash_all(KEYS[1])
if not meta then return false end
local e = slide(KEYS[1], now_ms(), hash_create(meta))
if not e then return false end
return {meta, fmt_int(e), all}
