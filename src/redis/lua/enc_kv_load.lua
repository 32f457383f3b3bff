-- The encrypted storages' scripts (EncryptedRedisStorage, EncryptedRedisHashStorage) are
-- described in encryptedScripts.ts.
--
-- KEYS[1] session, KEYS[2] the request records to look in (the session's, a create's, or
-- the session key again when none is asked for); ARGV[1] the record's key, "" for none
-- (common.lua's expiry arguments are unused here).
-- Reply, for a write: {stored text or false, its PTTL, Redis' clock in ms, the record or
-- false}. The clock is a new session's creation time, which its seal is bound to.
-- #include lib/common.lua
-- #include lib/enc_load.lua

return enc_load(redis.call('GET', KEYS[1]))
