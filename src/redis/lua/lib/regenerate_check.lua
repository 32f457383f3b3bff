-- Regenerate's checks, shared by every layout: KEYS[1] is the old session (whose creation
-- time `create` the caller read), KEYS[2] the new one. Returns the new expiry, or nil and
-- the reply to give when the move cannot happen (the old one expired, the new id taken).

local function regenerate_check(create)
  local now = now_ms()
  local e = expire_at(now, create)
  if e <= now then
    redis.call('DEL', KEYS[1])
    return nil, {'missing'}
  end
  if redis.call('EXISTS', KEYS[2]) == 1 then return nil, {'taken'} end
  return e
end
