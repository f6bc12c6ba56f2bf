-- KEYS: the warm marker, then budget counters. ARGV: per counter, micro-dollars
-- and TTL (0: none). Seeds only when this call is the one that sets the marker.
if not redis.call('SET', KEYS[1], '1', 'NX') then return 0 end
for i = 2, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[i * 2 - 3])
  local ttl = tonumber(ARGV[i * 2 - 2])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
