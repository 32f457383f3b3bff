-- The `redis` layout's read: the document, slid (its new expiry), or nil when missing.

local function kv_slid(key)
  local raw = redis.call('GET', key)
  if not raw then return nil end
  local _, create = parse_header(raw)
  local e = slide(key, now_ms(), create)
  if not e then return nil end
  return raw, e
end
