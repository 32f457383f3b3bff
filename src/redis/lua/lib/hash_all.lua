-- A hash layout's session whole (plain or encrypted): its flat HGETALL and its metadata
-- field "" (nil when there is no session).

local function hash_all(key)
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if all[i] == '' then return all, all[i + 1] end
  end
  return all, nil
end
