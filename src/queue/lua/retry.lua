-- Schedule another attempt of a delivered job, if this consumer still owns the delivery.
-- KEYS: 1 jobs stream, 2 delayed zset, 3 delayed payload hash, 4 history list, 5 idem key,
--       6 runs hash
-- ARGV: 1 group, 2 entry id, 3 job id, 4 run_at ms, 5 new payload, 6 history entry JSON,
--       7 history length kept, 8 history TTL seconds, 9 consumer, 10 pending TTL seconds
-- Returns 1 when scheduled, 0 when the delivery belongs to another consumer or was settled.
if not owns(KEYS[1], ARGV[1], ARGV[2], ARGV[9]) then
  return 0
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('RPUSH', KEYS[4], ARGV[6])
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[7]), -1)
redis.call('EXPIRE', KEYS[4], ARGV[8])
redis.call('HDEL', KEYS[6], ARGV[3])
-- The job lives on: keep its idempotency key for as long as it waits, and then some.
if redis.call('GET', KEYS[5]) == ARGV[3] then
  redis.call('EXPIRE', KEYS[5], ARGV[10])
end
return 1
