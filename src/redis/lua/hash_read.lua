-- The `redis-hash` layout: one hash per session, one field per user key holding the
-- value's JSON text, plus the metadata field "" (hash_meta.lua).
--
-- KEYS[1] hash. Reply: false when missing, else {version, createTime, expireTime, flat HGETALL}.
-- #include lib/common.lua
-- #include lib/hash_meta.lua
-- #include lib/hash_all.lua

local all, meta = hash_all(KEYS[1])
if not meta then return false end
local now = now_ms()
local version, create = parse_meta(meta)
local e = slide(KEYS[1], now, create)
if not e then return false end
return {fmt_int(version), fmt_int(create), fmt_int(e), all}
