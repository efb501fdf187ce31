-- Enqueue one job unless its campaign takes no more items or its idempotency key is taken.
-- KEYS: 1 idem key, 2 jobs stream, 3 delayed zset, 4 delayed payload hash, 5 account hash,
--       6 (optional) the job's campaign hash: when given, a campaign marked `closed` (closed
--       or cancelled) refuses the job; left out for items their campaign accepted before
-- ARGV: 1 job id, 2 payload (job JSON), 3 run_at ms (0: now), 4 pending TTL seconds
-- Returns nil when enqueued, 0 when its campaign refused it, else the value held by the
-- idempotency key (the other job).
if KEYS[6] and redis.call('HEXISTS', KEYS[6], 'closed') == 1 then
  return 0
end
local taken = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4])
if not taken then
  return redis.call('GET', KEYS[1]) or ''
end
if ARGV[3] ~= '0' then
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
else
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'job', ARGV[2])
end
redis.call('HINCRBY', KEYS[5], 'backlog', 1)
return false
