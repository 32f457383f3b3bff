-- The encrypted `redis` layout: one string "<version> <createTime> <base64 of the sealed
-- document>". kv_state(key) reads the state ("<version> <createTime>") from its head.

local function kv_state(key)
  local head = redis.call('GETRANGE', key, 0, 63)
  if head == '' then return nil end
  local state, c = string.match(head, '^(%d+ (%d+)) ')
  if not state then return '?', 0 end
  return state, tonumber(c)
end
