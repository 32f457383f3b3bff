-- Request records (see Idempotency in Storage.ts), for every write script. ARGV[3] the
-- record key ("" = none), [4] fingerprint, [5] window ms, [6] sealed id or "". The records
-- hash is the script's last key, in the session's slot.
--
-- The script's body runs as main() inside idem_run: a live record with the same
-- fingerprint answers {'replayed', sealed, <the recorded reply>...} without running it,
-- another fingerprint {'reused'}; otherwise main's reply is recorded in the same script,
-- unless it is one that changed nothing (skip, missing, taken, false). The plain storages'
-- scripts use it; the encrypted storages keep records of their own format (enc_commit.lua).
--
-- IDEM_CAP is MAX_REQUEST_RECORDS (src/core/storage/Storage.ts); test/redis/lua.test.ts
-- holds the two equal.

local IDEM_KEY = ARGV[3]
local IDEM_CAP = 64
local IDEM_UNRECORDED = {skip = true, missing = true, taken = true, badop = true}

-- #include lib/prune_records.lua

local function idem_run(main)
  if IDEM_KEY == '' then return main() end
  local rk = KEYS[#KEYS]
  local t = now_ms()
  local raw = redis.call('HGET', rk, IDEM_KEY)
  if raw then
    local rec = cjson.decode(raw)
    if tonumber(rec.e) > t then
      if rec.f ~= ARGV[4] then return {'reused'} end
      local out = {'replayed', rec.s}
      for _, v in ipairs(rec.r) do table.insert(out, v) end
      return out
    end
  end
  local reply = main()
  if type(reply) ~= 'table' or IDEM_UNRECORDED[reply[1]] then return reply end
  local window = tonumber(ARGV[5])
  local rec = cjson.encode({f = ARGV[4], e = fmt_int(t + window), s = ARGV[6], r = reply})
  redis.call('HSET', rk, IDEM_KEY, rec)
  if redis.call('PTTL', rk) < window then redis.call('PEXPIRE', rk, window) end
  if redis.call('HLEN', rk) > IDEM_CAP then prune_records(rk, t, IDEM_CAP) end
  return reply
end
