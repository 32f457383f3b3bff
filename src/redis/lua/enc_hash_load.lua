-- KEYS[1], for a write: {flat HGETALL, Redis' clock in ms} (the clock: a new session's
-- creation time, which its seals are bound to).
-- #include lib/common.lua

return {redis.call('HGETALL', KEYS[1]), fmt_int(now_ms())}
