-- Hand a delivery back to the queue (shutdown): a fresh entry at the tail, the old one gone.
-- KEYS: 1 jobs stream
-- ARGV: 1 group, 2 entry id, 3 job id, 4 payload
-- Returns 1 when handed back, 0 when the delivery was already settled.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'id', ARGV[3], 'job', ARGV[4])
return 1
