-- Move up to ARGV[2] due jobs from the delayed set to the jobs stream (bounded: no unpack of
-- an unbounded list, cost per job constant).
-- KEYS: 1 delayed zset, 2 delayed payload hash, 3 jobs stream
-- ARGV: 1 now ms, 2 limit
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('XADD', KEYS[3], '*', 'id', id, 'job', payload)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
return #ids
