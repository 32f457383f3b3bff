-- Shared by every sessiond script (Redis scripts cannot import; the generator pastes it in).
--
-- Every script takes the session's expiry as ARGV[1] (idle TTL, ms) and ARGV[2] (absolute
-- lifetime from creation, ms, or "" for none), and computes "now" from Redis' own clock,
-- so that instances with skewed clocks still agree on when a session expires.
--
-- It is kept to what reads need: a script defines its functions on every run, and the
-- read scripts are the hot path.

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

-- A touch's reply: the session slid, {version, createTime, expireTime}, or false when its
-- lifetime has run out (slide deleted it). `version` as the layout stores it (text).
local function touched(key, version, create)
  local e = slide(key, now_ms(), create)
  if not e then return false end
  return {version, fmt_int(create), fmt_int(e)}
end
