-- KEYS[1] session key. Reply: false when missing, else {document, expireTime}.
-- #include lib/common.lua
-- #include lib/kv_header.lua
-- #include lib/kv_slid.lua

local raw, e = kv_slid(KEYS[1])
if not raw then return false end
return {raw, fmt_int(e)}
