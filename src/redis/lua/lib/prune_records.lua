-- Request records (a hash, record key -> JSON with its expiry `e` in ms, in every format
-- sessiond writes): drops the expired ones, then the oldest beyond `cap`.

local function prune_records(rk, t, cap)
  local all = redis.call('HGETALL', rk)
  local live = {}
  for i = 1, #all, 2 do
    local ok, rec = pcall(cjson.decode, all[i + 1])
    local e = ok and type(rec) == 'table' and tonumber(rec.e)
    if not e or e <= t then
      redis.call('HDEL', rk, all[i])
    else
      table.insert(live, {e, all[i]})
    end
  end
  if #live > cap then
    table.sort(live, function(a, b) return a[1] < b[1] end)
    for i = 1, #live - cap do redis.call('HDEL', rk, live[i][2]) end
  end
end
