-- KEYS[1] the session (either layout: one key each), KEYS[2] its request records;
-- ARGV[1..2] unused expiry, [3..6] the record. Only destroys with a request id come here.
-- #include lib/common.lua
-- #include lib/idempotency.lua

local function main()
  redis.call('DEL', KEYS[1])
  return {'ok'}
end
return idem_run(main)
