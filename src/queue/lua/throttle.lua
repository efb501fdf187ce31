-- A "retry later" answer (429 or outage): the whole account cools down, a 429 lowers its
-- effective rate (AIMD, once per period), and the job is booked behind the account's line,
-- after the cooldown, if this consumer still owns the delivery (src/queue/admission.rs).
-- KEYS: 1 jobs stream, 2 delayed zset, 3 delayed payload hash, 4 history list, 5 idem key,
--       6 runs hash, 7 account hash, 8 booked hash
-- ARGV: 1 group, 2 entry id, 3 job id, 4 cooldown ms, 5 '1' when rate limited (a 429),
--       6 reason, 7 payload, 8 history entry JSON, 9 history length kept, 10 history TTL s,
--       11 consumer, 12 pending TTL s, 13 quota count, 14 period ms, 15 headroom,
--       16 cost, 17 AIMD decrease, 18 AIMD increase, 19 AIMD floor
-- Returns the instant (ms) the job runs again, or -1 when the delivery is another consumer's.
if not owns(KEYS[1], ARGV[1], ARGV[2], ARGV[11]) then
  return -1
end
local now = now_ms()
local job = ARGV[3]
local st = redis.call('HMGET', KEYS[7], 'cool', 'tat', 'factor', 'dec_at')
local cool = math.max(tonumber(st[1] or '0'), now + tonumber(ARGV[4]))
redis.call('HSET', KEYS[7], 'cool', cool, 'cool_reason', ARGV[6])
redis.call('HINCRBY', KEYS[7], 'throttled', 1)
local period = tonumber(ARGV[14])
local factor = factor_now(st[3], st[4], period, tonumber(ARGV[18]), now)
if ARGV[5] == '1' then
  redis.call('HINCRBY', KEYS[7], 'rate_limited', 1)
  if not st[4] or now - tonumber(st[4]) >= period then
    factor = math.max(tonumber(ARGV[19]), factor * tonumber(ARGV[17]))
    redis.call('HSET', KEYS[7], 'factor', factor, 'dec_at', now)
  end
end
local window = period * (1 + tonumber(ARGV[15]))
local step = window / per_window(tonumber(ARGV[13]), factor) * tonumber(ARGV[16])
local at = math.max(cool, tonumber(st[2] or '0'))
redis.call('HSET', KEYS[7], 'tat', at + step)
redis.call('HSET', KEYS[8], job, at)

settle(KEYS[1], ARGV[1], ARGV[2], KEYS[6], job)
delay(KEYS[2], KEYS[3], job, ARGV[7], at)
remember(KEYS[4], ARGV[8], ARGV[9], ARGV[10])
keep_key(KEYS[5], job, tonumber(ARGV[12]) + math.ceil((at - now) / 1000))
return math.ceil(at)
