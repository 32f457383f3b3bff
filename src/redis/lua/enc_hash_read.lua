-- KEYS[1]. Reply: false when missing, else {meta, expireTime, flat HGETALL}.
-- #include lib/common.lua
-- #include lib/enc_hash_meta.lua

local all = redis.call('HGETALL', KEYS[1])
local meta = nil
for i = 1, #all, 2 do
  if all[i] == '' then
    meta = all[i + 1]
    break
  end
end
if not meta then return false end
local e = slide(KEYS[1], now_ms(), hash_create(meta))
if not e then return false end
return {meta, fmt_int(e), all}
