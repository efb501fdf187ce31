-- Queue depth for metrics, read atomically on Redis's clock (src/queue/depth.rs). Constant
-- cost: counts only, no list is scanned.
-- KEYS: 1 jobs stream, 2 delayed zset, 3 booked hash, 4 dead zset
-- ARGV: 1 the workers' consumer group
-- Returns {undelivered, in flight, due, not yet due, booked, dead}.
local now = now_ms()
local len = redis.call('XLEN', KEYS[1])
local pending = 0
local ok, summary = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if ok and type(summary) == 'table' then
  pending = tonumber(summary[1]) or 0
end
local delayed = redis.call('ZCARD', KEYS[2])
local due = redis.call('ZCOUNT', KEYS[2], '-inf', now)
return {
  math.max(0, len - pending),
  pending,
  due,
  delayed - due,
  redis.call('HLEN', KEYS[3]),
  redis.call('ZCARD', KEYS[4]),
}
