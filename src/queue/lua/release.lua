-- Hand a delivery back to the queue (shutdown): a fresh entry at the tail, the old one gone,
-- if this consumer still owns it.
-- KEYS: 1 jobs stream, 2 runs hash
-- ARGV: 1 group, 2 entry id, 3 job id, 4 payload, 5 consumer, 6 started ('1' if the job ran)
-- Returns 1 when handed back, 0 when the delivery belongs to another consumer or was settled.
if not owns(KEYS[1], ARGV[1], ARGV[2], ARGV[5]) then
  return 0
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'id', ARGV[3], 'job', ARGV[4])
-- A job interrupted by the drain timeout was cut off by us, not by its own crash.
if ARGV[6] == '1' then
  redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
end
return 1
