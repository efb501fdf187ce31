-- A further request of a running attempt (an adapter's follow-up or pre-check): granted when
-- the account's window has room now, else how long until it may (src/queue/admission.rs).
-- KEYS: 1 account hash, 2 account log
-- ARGV: 1 job id, 2 quota count, 3 period ms, 4 headroom, 5 AIMD increase
-- Returns 0 when granted, -1 when the account is paused, else the wait in ms.
local now = now_ms()
local st = redis.call('HMGET', KEYS[1], 'paused', 'cool', 'factor', 'dec_at')
if st[1] then
  return -1
end
local cool = tonumber(st[2] or '0')
if cool - now >= 1 then
  return math.ceil(cool - now)
end
local period = tonumber(ARGV[3])
local window = period * (1 + tonumber(ARGV[4]))
local n = per_window(tonumber(ARGV[2]), factor_now(st[3], st[4], period, tonumber(ARGV[5]), now))
local free = room_at(KEYS[2], n, window, now)
if free > now then
  return math.max(1, math.ceil(free - now))
end
grant(KEYS[2], ARGV[1], now)
return 0
