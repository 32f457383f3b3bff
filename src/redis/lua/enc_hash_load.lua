-- KEYS[1] session, KEYS[2] the request records to look in (as enc_kv_load.lua); ARGV[1]
-- the record's key, "" for none.
-- Reply, for a write: {flat HGETALL, its PTTL, Redis' clock in ms, the record or false}.
-- #include lib/common.lua
-- #include lib/enc_load.lua

return enc_load(redis.call('HGETALL', KEYS[1]))
