-- An account error: pause the account (with the reason) and park the job with it, if this
-- consumer still owns the delivery. Parked jobs wait, without cycling, until `resume.lua`.
-- KEYS: 1 jobs stream, 2 account hash, 3 parked list, 4 runs hash, 5 history list, 6 booked hash
-- ARGV: 1 group, 2 entry id, 3 job id, 4 payload, 5 consumer, 6 reason, 7 history entry JSON,
--       8 history length kept, 9 history TTL s
-- Returns 1 when parked, 0 when the delivery is another consumer's.
if not owns(KEYS[1], ARGV[1], ARGV[2], ARGV[5]) then
  return 0
end
redis.call('HSET', KEYS[2], 'paused', ARGV[6])
redis.call('HSETNX', KEYS[2], 'paused_at', math.floor(now_ms()))
settle(KEYS[1], ARGV[1], ARGV[2], KEYS[4], ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('HDEL', KEYS[6], ARGV[3])
remember(KEYS[5], ARGV[7], ARGV[8], ARGV[9])
return 1
