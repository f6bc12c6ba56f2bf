-- KEYS: counters of one ticket. ARGV: ticket id, its second, then 2 per key:
-- kind (w | c | b) and the delta. A counter that has since expired is left
-- alone (recreating it would make a key without a TTL), and so is a bucket
-- that has left its window (its total no longer counts it). A window without
-- its running total only gets the bucket: the next admission recomputes it.
for i, key in ipairs(KEYS) do
  local kind = ARGV[1 + i * 2]
  local delta = ARGV[2 + i * 2]
  if kind == 'w' then
    local m = redis.call('HMGET', key, ARGV[2], '-1')
    if m[1] and m[2] then
      local d = tonumber(delta)
      redis.call('HSET', key, ARGV[2], int(tonumber(m[1]) + d), '-1', int(tonumber(m[2]) + d))
    elseif m[1] then
      redis.call('HINCRBY', key, ARGV[2], delta)
    end
  elseif kind == 'c' then
    redis.call('ZREM', key, ARGV[1])
  elseif redis.call('EXISTS', key) == 1 then
    redis.call('INCRBY', key, delta)
  end
end
return 1
