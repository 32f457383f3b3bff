-- KEYS[1] session key, KEYS[2] its request records; ARGV as in apply_ops.lua.
-- Reply: see applyReply.ts.
-- #include lib/common.lua
-- #include lib/idempotency.lua

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
  -- #include lib/apply_ops.lua

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
