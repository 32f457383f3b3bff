-- The delta part of an apply script, included inside its main() after it has set `count`
-- and `bytes` for the stored session and defined `lookup(field)` (JSON text or false) and
-- `stored_len(field)`.
--
-- Numbers: Redis' Lua is 5.1, and `tostring` and cjson print doubles with 14 significant
-- digits, which would corrupt user values. User values therefore travel as the JSON text
-- Node produced and are never re-encoded; the only number Lua writes is the result of an
-- increment, printed by `jsnum` the way JavaScript's Number#toString prints it, so byte
-- counts match the other storages. It cannot move to Node: the script stores that text and
-- counts its bytes against maxSessionBytes in the same atomic step, before Node sees the
-- number, and a second round trip would cost every increment a compare-and-set.
--
-- `apply_delta(exists, version)` checks the mode and the expected version, then runs the
-- ops from ARGV[11..] against an overlay, calling `lookup(field)` for keys the delta has
-- not touched yet. It leaves `changed` (field -> text, or false for removed), `cleared`,
-- `count`, `bytes` and `inc` (incremented keys and their final text, in
-- first-increment order), or returns the reply to give instead: {'skip'}, or a refusal as a
-- tag and its data, which applyReply.ts reads into a Refusal (the wording is refusalError's
-- alone): {'aborted', version}, {'notnumber', key, kind}, {'overflow', key},
-- {'keys', count}, {'bytes', bytes}.
--
-- ARGV: [3..6] request record (see idempotency.lua), [7] mode, [8] expected version or "",
-- [9] maxKeys, [10] maxSessionBytes, [11..] ops: "s" key json | "r" key | "i" key delta | "c".

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
