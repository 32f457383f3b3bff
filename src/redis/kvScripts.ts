import { LUA_APPLY_OPS, LUA_COMMON, LUA_IDEM, LUA_REGENERATE_CHECK } from "./luaCommon.js";

/**
 * Scripts for RedisStorage: one string key per session holding
 * `{"v":<version>,"c":<createTime>,"d":{<key>:<value as JSON text>,...}}`.
 * The header is written by hand (not by cjson) so that reads can find version and
 * creation time with a pattern match instead of decoding the whole document, and so
 * the two integers are never printed with cjson's 14 digits.
 */
const KV_HEADER = `
local function parse_header(text)
  local v, c = string.match(text, '^{"v":(%d+),"c":(%d+),')
  return tonumber(v), tonumber(c)
end
`;

/** KEYS[1] session key. Reply: false when missing, else {document, expireTime}. */
export const KV_READ = `${LUA_COMMON}${KV_HEADER}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local now = now_ms()
local _, create = parse_header(raw)
local e = slide(KEYS[1], now, create)
if not e then return false end
return {raw, fmt_int(e)}
`;

/** KEYS[1] session key, ARGV[3] user key. Reply: false when missing, {1, json} or {0}. */
export const KV_READ_KEY = `${LUA_COMMON}${KV_HEADER}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local now = now_ms()
local _, create = parse_header(raw)
local e = slide(KEYS[1], now, create)
if not e then return false end
local value = cjson.decode(raw).d[ARGV[3]]
if value then return {1, value} end
return {0}
`;

/**
 * KEYS[1] session key, KEYS[2] its request records (ARGV[3..6], see LUA_IDEM). Reply:
 * false when missing, else {version, createTime, expireTime}.
 */
export const KV_TOUCH = `${LUA_COMMON}${LUA_IDEM}${KV_HEADER}
local function main()
  local head = redis.call('GETRANGE', KEYS[1], 0, 63)
  if head == '' then return false end
  local now = now_ms()
  local version, create = parse_header(head)
  local e = slide(KEYS[1], now, create)
  if not e then return false end
  return {fmt_int(version), fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;

/** KEYS[1] session key, KEYS[2] its request records; ARGV as in LUA_APPLY_OPS. Reply: see applyReply.ts. */
export const KV_APPLY = `${LUA_COMMON}${LUA_IDEM}
local function main()
  local key = KEYS[1]
  local now = now_ms()
  local raw = redis.call('GET', key)
  local exists = false
  local version, create, d = 0, now, {}
  local count, bytes = 0, 0
  if raw then
    local doc = cjson.decode(raw)
    if expire_at(now, doc.c) <= now then
      redis.call('DEL', key)
    else
      exists = true
      version, create, d = doc.v, doc.c, doc.d
      for k, v in pairs(d) do
        count = count + 1
        bytes = bytes + #k + #v
      end
    end
  end
  local function lookup(field) return d[field] or false end
  local function stored_len(field)
    local v = d[field]
    if v then return #v end
    return 0
  end
  ${LUA_APPLY_OPS}
  local refused = apply_delta(exists, version)
  if refused then return refused end
  if cleared then d = {} end
  for field, text in pairs(changed) do
    if text then d[field] = text else d[field] = nil end
  end
  version = version + 1
  local e = expire_at(now, create)
  local doc = '{"v":' .. fmt_int(version) .. ',"c":' .. fmt_int(create) .. ',"d":' .. cjson.encode(d) .. '}'
  redis.call('SET', key, doc, 'PXAT', fmt_int(e))
  return ok_reply(version, create, e)
end
return idem_run(main)
`;

/**
 * KEYS[1] old session key, KEYS[2] new one (same slot: see idFamily.ts), KEYS[3] the old
 * one's request records; ARGV[7] "1" to keep the old one. Reply: {'missing'}, {'taken'} or {'ok', version, createTime, expireTime}.
 */
export const KV_REGENERATE = `${LUA_COMMON}${LUA_IDEM}${LUA_REGENERATE_CHECK}${KV_HEADER}
local function main()
  local raw = redis.call('GET', KEYS[1])
  if not raw then return {'missing'} end
  local _, create = parse_header(raw)
  local e, refusal = regenerate_check(create)
  if not e then return refusal end
  local body = string.gsub(raw, '^{"v":%d+,', '{"v":1,', 1)
  redis.call('SET', KEYS[2], body, 'PXAT', fmt_int(e))
  if ARGV[7] ~= '1' then redis.call('DEL', KEYS[1]) end
  return {'ok', '1', fmt_int(create), fmt_int(e)}
end
return idem_run(main)
`;
