-- The encrypted storages' commit (enc_kv_commit.lua, enc_hash_commit.lua): every write of
-- one engine round (two for a regenerate, whose ids share a slot), all or none.
--
-- KEYS[3i-2] the session of write i, KEYS[3i-1] its lock, KEYS[3i] the request records its
-- record goes to (the session key again when none); a single write repeats its keys to
-- fill the six. ARGV[1] the number of writes, ARGV[2] how many records a hash keeps
-- (MAX_REQUEST_RECORDS), then for each write its length and: the state its load saw ("" for
-- none), its lock token ("" for none), its change (put, slide, remove, keep), the expiry
-- in ms ("" to keep the TTL), the record's key ("" for none), the record's expiry, the
-- record as stored, then what the layout's put() reads.
--
-- Reply 'conflict' (nothing written) when, for any write, the session is no longer at the
-- state read, another writer holds its lock, or a live record now holds the record's key;
-- else 'ok'. A commit that goes through frees a lock it held.

local function record_live(raw, now)
  local ok, rec = pcall(cjson.decode, raw)
  local e = ok and type(rec) == 'table' and tonumber(rec.e)
  return e and e > now
end

-- PEXPIREAT, or DEL when the time has passed ("" leaves the expiry as it is).
local function expire(key, at, now)
  if at == '' then return end
  local e = tonumber(at)
  if e <= now then
    redis.call('DEL', key)
  else
    redis.call('PEXPIREAT', key, at)
  end
end

local function keep_record(w, now, cap)
  local rk = w.records
  redis.call('HSET', rk, ARGV[w.at + 5], ARGV[w.at + 7])
  local e = tonumber(ARGV[w.at + 6])
  if redis.call('PTTL', rk) < e - now then redis.call('PEXPIREAT', rk, ARGV[w.at + 6]) end
  if redis.call('HLEN', rk) > cap then prune_records(rk, now, cap) end
end

-- state(key): the stored state, or nil; put(key, first, last, at, now): writes ARGV[first..last].
local function enc_commit(state, put)
  local n = tonumber(ARGV[1])
  local cap = tonumber(ARGV[2])
  local now = now_ms()
  local writes = {}
  local at = 3
  for i = 1, n do
    local w = {key = KEYS[3 * i - 2], lock = KEYS[3 * i - 1], records = KEYS[3 * i], at = at}
    local token = ARGV[at + 2]
    local holder = redis.call('GET', w.lock)
    if holder and holder ~= token then return 'conflict' end
    w.held = holder ~= false
    if (state(w.key) or '') ~= ARGV[at + 1] then return 'conflict' end
    local rkey = ARGV[at + 5]
    if rkey ~= '' then
      local raw = redis.call('HGET', w.records, rkey)
      if raw and record_live(raw, now) then return 'conflict' end
    end
    at = at + 1 + tonumber(ARGV[at])
    w.last = at - 1
    table.insert(writes, w)
  end
  for _, w in ipairs(writes) do
    if w.held then redis.call('DEL', w.lock) end
    local change = ARGV[w.at + 3]
    local e = ARGV[w.at + 4]
    if change == 'put' then
      put(w.key, w.at + 8, w.last, e, now)
    elseif change == 'slide' then
      expire(w.key, e, now)
    elseif change == 'remove' then
      redis.call('DEL', w.key)
    end
    if ARGV[w.at + 5] ~= '' then keep_record(w, now, cap) end
  end
  return 'ok'
end
