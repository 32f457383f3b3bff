-- The hash layouts' metadata field "" = "<version> <createTime> <bytes>" (the encrypted one
-- appends its sealed manifest, and reads it with a pattern of its own: enc_hash_meta.lua).
-- User keys are never empty (validated above the storage, and refused again by applyArgs),
-- so it cannot collide with them; it is one field so a single-key read is one HMGET, and
-- `bytes` lets a write check maxSessionBytes without reading every field.

local function parse_meta(meta)
  local v, c, b = string.match(meta, '^(%d+) (%d+) (%d+)$')
  return tonumber(v), tonumber(c), tonumber(b)
end
