-- KEYS[1] the lock, ARGV[1] the token: frees the lock if this writer still holds it.

if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
