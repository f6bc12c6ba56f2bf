-- KEYS: one per counter. ARGV: now, now's second, ticket id, lease end,
-- slot key TTL, then 4 per counter: kind (w window | c slots | b budget),
-- limit, need, TTL (budget only). Returns {admitted, then per counter:
-- used, wait in ms (-1 fits, -2 no wait helps), ms until the window is empty}.
--
-- A window is read from its running total (HMGET of 4 fields) and written with
-- one HSET; the whole hash is read only to prune it (when its oldest bucket has
-- left the window, or its totals are missing: a new key, or one an older
-- version of this script pruned, which deletes them as stale seconds) and to
-- work out a refusal's wait. A slot set is pruned of expired leases only when
-- its count would refuse, which is the only time they matter.
local now = tonumber(ARGV[1])
local sec = tonumber(ARGV[2])
local oldest = sec - ${WINDOW_S_MINUS_1}
local function scan(key)
  local flat = redis.call('HGETALL', key)
  local total, secs, vals, stale = 0, {}, {}, {}
  local newest, floor = nil, nil
  for j = 1, #flat, 2 do
    local s = tonumber(flat[j])
    if s == nil or s < 0 then
      -- a running total's own field
    elseif s < oldest then
      stale[#stale + 1] = flat[j]
    else
      local v = tonumber(flat[j + 1])
      total = total + v
      secs[#secs + 1] = s
      vals[s] = v
      if newest == nil or s > newest then newest = s end
      if floor == nil or s < floor then floor = s end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return {total = total, newest = newest, floor = floor, secs = secs, vals = vals,
          scanned = true}
end
local out = {1}
local wins = {}
for i, key in ipairs(KEYS) do
  local a = 5 + (i - 1) * 4
  local kind = ARGV[a + 1]
  local limit = tonumber(ARGV[a + 2])
  local need = tonumber(ARGV[a + 3])
  local used, wait, reset = 0, -1, 0
  if kind == 'w' then
    local m = redis.call('HMGET', key, '-1', '-2', '-3', ARGV[2])
    local w = {total = tonumber(m[1]), newest = tonumber(m[2]), floor = tonumber(m[3])}
    if w.total == nil or w.newest == nil or w.floor == nil or w.floor < oldest then
      w = scan(key)
    end
    w.bucket = tonumber(m[4]) or 0
    wins[i] = w
    used = w.total
    if w.newest ~= nil then reset = math.ceil((w.newest + ${WINDOW_S} - now) * 1000) end
    if used + need > limit then
      if need > limit then
        wait = -2
      else
        if w.secs == nil then w = scan(key); w.bucket = tonumber(m[4]) or 0; wins[i] = w end
        table.sort(w.secs)
        local left = used
        wait = ${WINDOW_MS}
        for _, s in ipairs(w.secs) do
          left = left - w.vals[s]
          if left + need <= limit then
            wait = math.max(0, math.ceil((s + ${WINDOW_S} - now) * 1000))
            break
          end
        end
      end
    end
  elseif kind == 'c' then
    used = redis.call('ZCARD', key)
    if used + 1 > limit then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
      used = redis.call('ZCARD', key)
      if used + 1 > limit then
        if limit < 1 then wait = -2 else wait = ${CONCURRENCY_RETRY_MS} end
      end
    end
  else
    used = tonumber(redis.call('GET', key) or '0')
    if used + need > limit then wait = -2 end
  end
  if wait ~= -1 then out[1] = 0 end
  out[#out + 1] = used
  out[#out + 1] = wait
  out[#out + 1] = reset
end
if out[1] == 1 then
  for i, key in ipairs(KEYS) do
    local a = 5 + (i - 1) * 4
    local kind = ARGV[a + 1]
    local need = tonumber(ARGV[a + 3])
    if kind == 'w' then
      local w = wins[i]
      local newest, floor = w.newest, w.floor
      if newest == nil or sec > newest then newest = sec end
      if floor == nil or sec < floor then floor = sec end
      redis.call('HSET', key, ARGV[2], int(w.bucket + need), '-1', int(w.total + need),
                 '-2', int(newest), '-3', int(floor))
      -- The TTL runs from the newest bucket, which changes at most once a second.
      if w.scanned or newest ~= w.newest then
        redis.call('EXPIRE', key, ${WINDOW_KEY_TTL_S})
      end
    elseif kind == 'c' then
      redis.call('ZADD', key, ARGV[4], ARGV[3])
      redis.call('EXPIRE', key, ARGV[5])
    else
      -- The TTL ends at a fixed date (the period's end plus retention), so it
      -- is set when the counter is made (or found at zero), not every time.
      local ttl = tonumber(ARGV[a + 4])
      if redis.call('INCRBY', key, ARGV[a + 3]) == need and ttl > 0 then
        redis.call('EXPIRE', key, ttl)
      end
    end
  end
else
  -- Refused: keep what pruning worked out, so the next call need not redo it.
  for i, w in pairs(wins) do
    if w.scanned then
      if w.newest == nil then
        redis.call('DEL', KEYS[i])
      else
        redis.call('HSET', KEYS[i], '-1', int(w.total), '-2', int(w.newest),
                   '-3', int(w.floor))
      end
    end
  end
end
return out
