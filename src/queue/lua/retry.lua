-- Schedule another attempt of a delivered job, if this consumer still holds the delivery.
-- KEYS: 1 jobs stream, 2 delayed zset, 3 delayed payload hash, 4 history list
-- ARGV: 1 group, 2 entry id, 3 job id, 4 run_at ms, 5 new payload, 6 history entry JSON,
--       7 history length kept, 8 history TTL seconds
-- Returns 1 when scheduled, 0 when the delivery was already settled elsewhere.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('RPUSH', KEYS[4], ARGV[6])
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[7]), -1)
redis.call('EXPIRE', KEYS[4], ARGV[8])
return 1
