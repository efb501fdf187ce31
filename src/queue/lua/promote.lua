-- Move up to ARGV[2] due jobs from the delayed set to the jobs stream (bounded: no unpack of
-- an unbounded list, cost per job constant).
-- KEYS: 1 delayed zset, 2 delayed payload hash, 3 jobs stream
-- ARGV: 1 now ms ('' for Redis's clock, which booked slots are measured on), 2 limit
-- Returns {moved, the next job's run-at in ms (-1 when none waits), now ms}.
local now = now_ms()
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('XADD', KEYS[3], '*', 'id', id, 'job', payload)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#ids, next[2] and math.ceil(tonumber(next[2])) or -1, math.floor(now)}
