-- The encrypted storages' scripts (EncryptedRedisStorage, EncryptedRedisHashStorage) are
-- described in EncryptedRedisStorageBase.ts.
--
-- KEYS[1], for a write: {stored text or nil, Redis' clock in ms}. The clock is a new
-- session's creation time, which its seal is bound to (Node seals before the commit).
-- #include lib/common.lua

return {redis.call('GET', KEYS[1]), fmt_int(now_ms())}
