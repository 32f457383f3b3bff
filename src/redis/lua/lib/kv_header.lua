-- The `redis` layout: one string key per session holding
-- {"v":<version>,"c":<createTime>,"d":{<key>:<value as JSON text>,...}}.
-- The header is written by hand (not by cjson) so that reads can find version and
-- creation time with a pattern match instead of decoding the whole document, and so
-- the two integers are never printed with cjson's 14 digits.

local function parse_header(text)
  local v, c = string.match(text, '^{"v":(%d+),"c":(%d+),')
  return tonumber(v), tonumber(c)
end
