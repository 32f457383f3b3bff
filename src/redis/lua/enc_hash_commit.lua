-- The hash layout's commit (see lib/enc_commit.lua): a put's arguments are the metadata
-- field, the number n of fields to delete, those n fields, then field, sealed pairs (only
-- the values that changed); the state is the metadata field as read.
-- #include lib/common.lua
-- #include lib/prune_records.lua
-- #include lib/chunked.lua
-- #include lib/enc_commit.lua

local function state(key)
  return redis.call('HGET', key, '')
end

local function put(key, first, last, at, now)
  -- A new session: nothing left under this key without metadata stays beside it.
  if not redis.call('HGET', key, '') then redis.call('DEL', key) end
  local n = tonumber(ARGV[first + 1])
  local gone = {}
  for i = first + 2, first + 1 + n do table.insert(gone, ARGV[i]) end
  chunked('HDEL', key, gone)
  local args = {'', ARGV[first]}
  for i = first + 2 + n, last do table.insert(args, ARGV[i]) end
  chunked('HSET', key, args)
  expire(key, at, now)
end

return enc_commit(state, put)
