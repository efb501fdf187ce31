-- Schedule another attempt of a delivered job, if this consumer still owns the delivery.
-- KEYS: 1 jobs stream, 2 delayed zset, 3 delayed payload hash, 4 history list, 5 idem key,
--       6 runs hash
-- ARGV: 1 group, 2 entry id, 3 job id, 4 run_at ms, 5 new payload, 6 history entry JSON,
--       7 history length kept, 8 history TTL seconds, 9 consumer, 10 pending TTL seconds
-- Returns 1 when scheduled, 0 when the delivery belongs to another consumer or was settled.
if not owns(KEYS[1], ARGV[1], ARGV[2], ARGV[9]) then
  return 0
end
settle(KEYS[1], ARGV[1], ARGV[2], KEYS[6], ARGV[3])
delay(KEYS[2], KEYS[3], ARGV[3], ARGV[5], ARGV[4])
remember(KEYS[4], ARGV[6], ARGV[7], ARGV[8])
keep_key(KEYS[5], ARGV[3], ARGV[10])
return 1
