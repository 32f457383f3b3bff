import { MAX_REQUEST_RECORDS } from "../core/storage/Storage.js";

/**
 * Lua shared by every sessiond script, prepended to each one (Redis scripts cannot import).
 *
 * Every script takes the session's expiry as ARGV[1] (idle TTL, ms) and ARGV[2] (absolute
 * lifetime from creation, ms, or "" for none), and computes "now" from Redis' own clock,
 * so that instances with skewed clocks still agree on when a session expires.
 *
 * It is kept to what reads need: a script defines its functions on every run, and the
 * read scripts are the hot path.
 */
export const LUA_COMMON = `
local TTL = tonumber(ARGV[1])
local MAXLIFE = nil
if ARGV[2] ~= '' then MAXLIFE = tonumber(ARGV[2]) end

local function fmt_int(n) return string.format('%.0f', n) end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function expire_at(now, create)
  local e = now + TTL
  if MAXLIFE and create + MAXLIFE < e then e = create + MAXLIFE end
  return e
end
-- A read's slide: the new expiry, or false (and the key gone) when it has already passed.
local function slide(key, now, create)
  local e = expire_at(now, create)
  if e <= now then
    redis.call('DEL', key)
    return false
  end
  redis.call('PEXPIREAT', key, fmt_int(e))
  return e
end
`;

/**
 * The delta part of an apply script.
 *
 * Numbers: Redis' Lua is 5.1, and `tostring` and cjson print doubles with 14 significant
 * digits, which would corrupt user values. User values therefore travel as the JSON text
 * Node produced and are never re-encoded; the only number Lua writes is the result of an
 * increment, printed by `jsnum` the way JavaScript's Number#toString prints it, so byte
 * counts match the other storages. It cannot move to Node: the script stores that text and
 * counts its bytes against maxSessionBytes in the same atomic step, before Node sees the
 * number, and a second round trip would cost every increment a compare-and-set.
 *
 * `apply_delta(exists, version)` checks the mode and the expected version, then runs the
 * ops from ARGV[11..] against an overlay, calling `lookup(field)` (JSON text or false) for
 * keys the delta has not touched yet. It leaves `changed` (field -> text, or false for
 * removed), `cleared`, `count`, `bytes` and `inc` (incremented keys and their final text,
 * in first-increment order), or returns the reply to give instead: {'skip'}, or a
 * refusal as a tag and its data, which applyReply.ts reads into a Refusal (the wording is
 * refusalError's alone): {'aborted', version}, {'notnumber', key, kind},
 * {'overflow', key}, {'keys', count}, {'bytes', bytes}. The caller sets `count`/`bytes`
 * for the stored session and defines `lookup` and `stored_len` first.
 *
 * ARGV: [3..6] request record (see LUA_IDEM), [7] mode, [8] expected version or "",
 * [9] maxKeys, [10] maxSessionBytes, [11..] ops: "s" key json | "r" key | "i" key delta | "c".
 */
export const LUA_APPLY_OPS = `
local function is_json_number(text)
  local c = string.sub(text, 1, 1)
  return c == '-' or (c >= '0' and c <= '9')
end

-- The kind a refused increment reports (see Refusal.ts): the JSON text's first character tells it.
local JSON_KINDS = {['"'] = 'string', t = 'boolean', f = 'boolean', n = 'null', ['['] = 'array'}
local function json_kind(text)
  return JSON_KINDS[string.sub(text, 1, 1)] or 'object'
end

local function finite(n)
  return n == n and n ~= math.huge and n ~= -math.huge
end

-- The shortest digits that read back as the same double, laid out like Number#toString.
local function jsnum(n)
  if n == 0 then return '0' end
  local sign = ''
  if n < 0 then sign = '-'; n = -n end
  local s
  for p = 1, 17 do
    s = string.format('%.' .. (p - 1) .. 'e', n)
    if tonumber(s) == n then break end
  end
  local mant, exp = string.match(s, '^([%d%.]+)e([-+]%d+)$')
  local digits = string.gsub(mant, '%.', '')
  digits = string.gsub(digits, '0+$', '')
  if digits == '' then digits = '0' end
  local k = #digits
  local e = tonumber(exp) + 1
  if k <= e and e <= 21 then
    return sign .. digits .. string.rep('0', e - k)
  elseif 0 < e and e <= 21 then
    return sign .. string.sub(digits, 1, e) .. '.' .. string.sub(digits, e + 1)
  elseif -6 < e and e <= 0 then
    return sign .. '0.' .. string.rep('0', -e) .. digits
  end
  local x = e - 1
  local xs = '+' .. x
  if x < 0 then xs = '-' .. (-x) end
  if k == 1 then return sign .. digits .. 'e' .. xs end
  return sign .. string.sub(digits, 1, 1) .. '.' .. string.sub(digits, 2) .. 'e' .. xs
end

local MODE = ARGV[7]
local EXPECTED = nil
if ARGV[8] ~= '' then EXPECTED = tonumber(ARGV[8]) end
local MAXKEYS = tonumber(ARGV[9])
local MAXBYTES = tonumber(ARGV[10])

local changed = {}
local cleared = false
local inc_order = {}
local inc = {}

local function current(field)
  local c = changed[field]
  if c ~= nil then return c end
  if cleared then return false end
  return lookup(field)
end

local function current_len(field)
  local c = changed[field]
  if c ~= nil then
    if c then return #c end
    return 0
  end
  if cleared then return 0 end
  return stored_len(field)
end

local function put(field, text)
  local old = current_len(field)
  if old > 0 then bytes = bytes - #field - old else count = count + 1 end
  bytes = bytes + #field + #text
  changed[field] = text
end

local function apply_ops()
  local i = 11
  local n = #ARGV
  while i <= n do
    local op = ARGV[i]
    if op == 's' then
      put(ARGV[i + 1], ARGV[i + 2])
      i = i + 3
    elseif op == 'r' then
      local field = ARGV[i + 1]
      local old = current_len(field)
      if old > 0 then
        bytes = bytes - #field - old
        count = count - 1
      end
      changed[field] = false
      i = i + 2
    elseif op == 'i' then
      local field = ARGV[i + 1]
      local cur = current(field)
      local base = 0
      if cur then
        if not is_json_number(cur) then return {'notnumber', field, json_kind(cur)} end
        base = tonumber(cur)
      end
      local nxt = base + tonumber(ARGV[i + 2])
      if not finite(nxt) then return {'overflow', field} end
      local text = jsnum(nxt)
      put(field, text)
      if inc[field] == nil then table.insert(inc_order, field) end
      inc[field] = text
      i = i + 3
    elseif op == 'c' then
      changed = {}
      cleared = true
      count = 0
      bytes = 0
      i = i + 1
    else
      return {'badop', op}
    end
  end
  if count > MAXKEYS then return {'keys', fmt_int(count)} end
  if bytes > MAXBYTES then return {'bytes', fmt_int(bytes)} end
  return nil
end

-- The whole decision on the session as found (exists, at version): nil when the delta
-- was applied to the overlay, else the reply: {'skip'} for the mode, or a refusal.
local function apply_delta(exists, version)
  if exists then
    if MODE == 'create' then return {'skip'} end
  elseif MODE == 'existing' then
    return {'skip'}
  end
  if EXPECTED and EXPECTED ~= version then return {'aborted', fmt_int(version)} end
  return apply_ops()
end

local function ok_reply(version, create, expire)
  local out = {'ok', fmt_int(version), fmt_int(create), fmt_int(expire)}
  for _, field in ipairs(inc_order) do
    table.insert(out, field)
    table.insert(out, inc[field])
  end
  return out
end
`;

/**
 * The hash layouts' metadata field "" = "<version> <createTime> <bytes>" (the encrypted one
 * appends its sealed manifest, and reads it with a pattern of its own: encryptedScripts.ts). User keys are never empty (validated above the storage, and refused
 * again by applyArgs), so it cannot collide with them; it is one field so a single-key read
 * is one HMGET, and `bytes` lets a write check maxSessionBytes without reading every field.
 */
export const LUA_HASH_META = `
local function parse_meta(meta)
  local v, c, b = string.match(meta, '^(%d+) (%d+) (%d+)$')
  return tonumber(v), tonumber(c), tonumber(b)
end
`;

/**
 * Commands over long lists: unpack() is bounded by Lua's C stack, so they go out in chunks.
 * CHUNK is even, so an HSET list of field/value pairs is never split inside a pair.
 */
export const LUA_CHUNKED = `
local CHUNK = 500
local function chunked(cmd, key, list)
  for i = 1, #list, CHUNK do
    redis.call(cmd, key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
  end
end
`;

/**
 * Regenerate's checks, shared by both layouts: KEYS[1] is the old session (whose creation
 * time `create` the caller read), KEYS[2] the new one. Returns the new expiry, or nil and
 * the reply to give when the move cannot happen (the old one expired, the new id taken).
 */
export const LUA_REGENERATE_CHECK = `
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
`;

/**
 * Request records (see Idempotency in Storage.ts), for every write script. ARGV[3] the
 * record key ("" = none), [4] fingerprint, [5] window ms, [6] sealed id or "". The records
 * hash is the script's last key, in the session's slot.
 *
 * The script's body runs as main() inside idem_run: a live record with the same
 * fingerprint answers {'replayed', sealed, <the recorded reply>...} without running it,
 * another fingerprint {'reused'}; otherwise main's reply is recorded in the same script,
 * unless it is one that changed nothing (skip, missing, taken, false; conflict and expired,
 * which only the encrypted storages' scripts give).
 */
function luaIdempotency(maxRecords: number): string {
  return `
local IDEM_KEY = ARGV[3]
local IDEM_CAP = ${maxRecords}
-- conflict, expired: the encrypted storages' compare-and-set lost, Node starts over.
local IDEM_UNRECORDED = {
  skip = true, missing = true, taken = true, badop = true, conflict = true, expired = true,
}

-- Drops expired records, then the oldest beyond the cap.
local function idem_prune(rk, t)
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
  if #live > IDEM_CAP then
    table.sort(live, function(a, b) return a[1] < b[1] end)
    for i = 1, #live - IDEM_CAP do redis.call('HDEL', rk, live[i][2]) end
  end
end

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
  if redis.call('HLEN', rk) > IDEM_CAP then idem_prune(rk, t) end
  return reply
end
`;
}

/** The request-record wrapper every write script starts with, for MAX_REQUEST_RECORDS. */
export const LUA_IDEM = luaIdempotency(MAX_REQUEST_RECORDS);
