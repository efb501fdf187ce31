-- Move one dead letter back to the jobs stream with a fresh payload, unless a newer job has
-- taken its idempotency key meanwhile.
-- KEYS: 1 dead zset, 2 dead job hash, 3 dead info hash, 4 jobs stream, 5 idem key,
--       6 account hash
-- ARGV: 1 job id, 2 payload, 3 pending TTL seconds
-- Returns 1 when requeued, 0 when it was not (or no longer) a dead letter, 2 when superseded.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local holder = redis.call('GET', KEYS[5])
if holder and holder ~= ARGV[1] and holder ~= ARGV[1] .. '|final' then
  return 2
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[3])
redis.call('XADD', KEYS[4], '*', 'id', ARGV[1], 'job', ARGV[2])
redis.call('HINCRBY', KEYS[6], 'backlog', 1)
return 1
