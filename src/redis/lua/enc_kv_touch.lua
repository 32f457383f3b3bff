-- KEYS[1]: slides a live session's expiry (a touch without a request id: the engine
-- commits one with a request id). Reply: false when missing, else {version, createTime,
-- expireTime}.
-- #include lib/common.lua
-- #include lib/enc_kv_header.lua

local state, create = kv_state(KEYS[1])
if not state then return false end
return touched(KEYS[1], string.match(state, '^(%d+)'), create)
