-- The encrypted `redis-hash` layout: the metadata field "" = "<version> <createTime> <bytes>
-- <sealed manifest>" (no manifest in the format before it: still read for one release), and
-- one field per key holding the base64 of its sealed value. Only Node reads the manifest.

local function hash_create(meta)
  return tonumber(string.match(meta, '^%d+ (%d+)')) or 0
end
