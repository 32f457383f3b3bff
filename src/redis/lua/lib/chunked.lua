-- Commands over long lists: unpack() is bounded by Lua's C stack, so they go out in chunks.
-- CHUNK is even, so an HSET list of field/value pairs is never split inside a pair.

local CHUNK = 500
local function chunked(cmd, key, list)
  for i = 1, #list, CHUNK do
    redis.call(cmd, key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
  end
end
