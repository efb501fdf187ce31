-- Record a job's final outcome once and remove its delivery.
-- KEYS: 1 jobs stream, 2 idem key, 3 outcomes stream, 4 history list,
--       5 dead zset, 6 dead job hash, 7 dead info hash, 8 runs hash, 9 account hash
-- ARGV: 1 group, 2 entry id ('' for none), 3 job id, 4 done TTL seconds, 5 outcomes max len,
--       6 outcome JSON, 7 dead-letter info JSON ('' when not dead-lettered),
--       8 job payload for the dead-letter set, 9 now ms, 10 '1' to count the job off its
--       account's backlog
-- Returns 1 when recorded, 0 when this job's outcome was already recorded (a duplicate delivery).
-- A real result is recorded whichever consumer owns the delivery now: it is what the provider
-- said, and the first result wins.
if ARGV[2] ~= '' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
redis.call('HDEL', KEYS[8], ARGV[3])
local final = ARGV[3] .. '|final'
local holder = redis.call('GET', KEYS[2])
if holder == final then
  return 0
end
-- The key is this job's (or lapsed): mark it final. A newer job holding it keeps it.
if not holder or holder == ARGV[3] then
  redis.call('SET', KEYS[2], final, 'EX', ARGV[4])
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'job', ARGV[3], 'outcome', ARGV[6])
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[5], ARGV[9], ARGV[3])
  redis.call('HSET', KEYS[6], ARGV[3], ARGV[8])
  redis.call('HSET', KEYS[7], ARGV[3], ARGV[7])
end
redis.call('DEL', KEYS[4])
if ARGV[10] == '1' and redis.call('HINCRBY', KEYS[9], 'backlog', -1) < 0 then
  redis.call('HSET', KEYS[9], 'backlog', 0)
end
return 1
