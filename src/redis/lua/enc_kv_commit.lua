-- The kv layout's commit (see lib/enc_commit.lua): a put's one argument is the stored text,
-- "<version> <createTime> <base64 of the sealed document>"; the state is its head.
-- #include lib/common.lua
-- #include lib/prune_records.lua
-- #include lib/enc_kv_header.lua
-- #include lib/enc_commit.lua

local function put(key, first, _, at, now)
  if at == '' then
    redis.call('SET', key, ARGV[first], 'KEEPTTL')
  elseif tonumber(at) <= now then
    redis.call('DEL', key)
  else
    redis.call('SET', key, ARGV[first], 'PXAT', at)
  end
end

return enc_commit(kv_state, put)
