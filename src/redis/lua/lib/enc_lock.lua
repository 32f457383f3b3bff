-- The encrypted storages' write lock (see enc_kv_write.lua): whether the session's lock
-- (KEYS[lock]) lets this commit through (ARGV[7] the commit's token), and whether it was held.

local function lock_lets(lock)
  local holder = redis.call('GET', lock)
  if not holder then return true, false end
  return holder == ARGV[7], true
end

-- A commit's reply: the plain apply script's (applyReply.ts), with the increments Node
-- computed (ARGV[first..last], key and value pairs), so that its request record replays
-- exactly like a plain one.
local function committed(version, create, e, first, last)
  local out = {'ok', version, fmt_int(create), fmt_int(e)}
  for i = first, last do table.insert(out, ARGV[i]) end
  return out
end
