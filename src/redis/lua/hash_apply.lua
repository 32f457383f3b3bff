-- KEYS[1] hash, KEYS[2] its request records; ARGV as in apply_ops.lua.
-- Reply: see applyReply.ts.
-- #include lib/common.lua
-- #include lib/idempotency.lua
-- #include lib/hash_meta.lua
-- #include lib/chunked.lua

local function main()
  local key = KEYS[1]
  local now = now_ms()
  local meta = redis.call('HGET', key, '')
  local exists = false
  local version, create, count, bytes = 0, now, 0, 0
  if meta then
    local v, c, b = parse_meta(meta)
    if expire_at(now, c) <= now then
      redis.call('DEL', key)
    else
      exists = true
      version, create, bytes = v, c, b
      count = redis.call('HLEN', key) - 1
    end
  end
  local function lookup(field)
    if not exists then return false end
    return redis.call('HGET', key, field)
  end
  local function stored_len(field)
    if not exists then return 0 end
    return redis.call('HSTRLEN', key, field)
  end
  -- #include lib/apply_ops.lua

  local refused = apply_delta(exists, version)
  if refused then return refused end
  version = version + 1
  local e = expire_at(now, create)
  if cleared then redis.call('DEL', key) end
  local gone = {}
  local args = {'', fmt_int(version) .. ' ' .. fmt_int(create) .. ' ' .. fmt_int(bytes)}
  for field, text in pairs(changed) do
    if text then
      table.insert(args, field)
      table.insert(args, text)
    elseif not cleared then
      table.insert(gone, field)
    end
  end
  chunked('HDEL', key, gone)
  chunked('HSET', key, args)
  redis.call('PEXPIREAT', key, fmt_int(e))
  return ok_reply(version, create, e)
end
return idem_run(main)
