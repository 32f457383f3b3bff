-- KEYS[1] a request records hash, ARGV[3..6] the record, ARGV[7..] a reply decided in Node
-- without a write ('skip', 'missing', or {'refused', code, message}). Replies the live
-- record's outcome if there is one, else that reply, recorded when it is a refusal: so an
-- outcome decided on a read is checked against the records as atomically as a commit.
-- #include lib/common.lua
-- #include lib/idempotency.lua

local function main()
  local out = {}
  for i = 7, #ARGV do table.insert(out, ARGV[i]) end
  return out
end
return idem_run(main)
