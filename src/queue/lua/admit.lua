-- Admission: may this delivery's job send its request now, within its account's quota as the
-- whole fleet spends it? Decides and settles the delivery in one step (src/queue/admission.rs).
-- KEYS: 1 jobs stream, 2 delayed zset, 3 delayed payload hash, 4 account hash, 5 account log,
--       6 account parked list, 7 booked hash, 8 runs hash, 9 idem key, 10 campaign hash,
--       11 campaign parked list
-- ARGV: 1 group, 2 entry id, 3 job id, 4 consumer, 5 quota count, 6 period ms, 7 headroom,
--       8 cost (requests the job needs), 9 inline wait ms, 10 AIMD increase,
--       11 pending TTL seconds, 12 the most starts allowed (queue.max_runs), or '' when this
--       call asks again after an inline wait (the start was counted already)
-- Returns {code, n}: {0, 0} go (a request is granted); {1, at} a slot is booked and the job
-- waits in the delayed set until `at` (ms); {2, 0} parked (the account is paused); {3, ms} its
-- slot comes within the inline wait: sleep `ms`, then ask again; {-1, 0} the delivery is
-- another consumer's now; {4, runs} the job has started more than queue.max_runs times
-- without its attempt being settled (a crash loop): nothing granted, the caller dead-letters it;
-- {5, 0} held (its campaign is paused: the job waits in the campaign's parked list);
-- {6, 0} its campaign is cancelled: nothing granted, the caller records it as cancelled.
-- A start is counted here (in the runs hash, cleared whenever the delivery is settled), so the
-- crash-loop guard costs no round trip of its own.
-- The job's payload is read from its stream entry only when the job leaves the stream
-- (booked or parked): the common case, a grant, moves no payload.
local now = now_ms()
local job = ARGV[3]
if ARGV[12] ~= '' then
  local runs = redis.call('HINCRBY', KEYS[8], job, 1)
  if runs > tonumber(ARGV[12]) then
    return {4, runs}
  end
end
local st = redis.call('HMGET', KEYS[4], 'paused', 'cool', 'tat', 'factor', 'dec_at')

-- Takes the delivery off the stream if this consumer still owns it; returns its payload.
local function take_delivery()
  if not owns(KEYS[1], ARGV[1], ARGV[2], ARGV[4]) then
    return nil
  end
  local payload = payload_of(KEYS[1], ARGV[2])
  if payload then
    settle(KEYS[1], ARGV[1], ARGV[2], KEYS[8], job)
  end
  return payload
end

-- Parks the delivery's job in `list` (a paused account or campaign).
local function park(list, code)
  local payload = take_delivery()
  if not payload then
    return {-1, 0}
  end
  redis.call('HDEL', KEYS[7], job)
  redis.call('RPUSH', list, payload)
  return {code, 0}
end

local camp = redis.call('HMGET', KEYS[10], 'cancelled', 'paused')
if camp[1] then
  redis.call('HDEL', KEYS[7], job)
  return {6, 0}
end
if camp[2] then
  return park(KEYS[11], 5)
end
if st[1] then
  return park(KEYS[6], 2)
end

local period = tonumber(ARGV[6])
local window = period * (1 + tonumber(ARGV[7]))
local n = per_window(tonumber(ARGV[5]), factor_now(st[4], st[5], period, tonumber(ARGV[10]), now))
local step = window / n * tonumber(ARGV[8])
local inline = tonumber(ARGV[9])
local cool = tonumber(st[2] or '0')
local tat = tonumber(st[3] or '0')

-- Wait in the delayed set until `at`; the job keeps its booking.
local function defer(at)
  local payload = take_delivery()
  if not payload then
    return {-1, 0}
  end
  delay(KEYS[2], KEYS[3], job, payload, at)
  keep_key(KEYS[9], job, tonumber(ARGV[11]) + math.ceil((at - now) / 1000))
  return {1, math.ceil(at)}
end

-- Book `at` for the job (the line moves on by its cost) and wait for it.
local function book(at)
  redis.call('HSET', KEYS[7], job, at)
  redis.call('HSET', KEYS[4], 'tat', math.max(tat, at) + step)
  if at - now <= inline then
    return {3, math.max(1, math.ceil(at - now))}
  end
  return defer(at)
end

local booked = redis.call('HGET', KEYS[7], job)
local slot = booked and tonumber(booked)
if slot then
  if cool > math.max(slot, now) then
    -- The account cools down past the booked slot: to the back of the line, after it.
    return book(math.max(tat, cool))
  end
  if slot - now > inline then
    return defer(slot)
  end
  if slot - now >= 1 then
    return {3, math.ceil(slot - now)}
  end
else
  -- Less than a millisecond ahead counts as now (no one sleeps for less).
  local start = math.max(now, tat, cool)
  if start - now >= 1 then
    return book(start)
  end
  redis.call('HSET', KEYS[4], 'tat', start + step)
end

-- Its turn has come: the window decides (it holds however late or early requests really went).
local free = room_at(KEYS[5], n, window, now)
if free > now then
  if free - now <= inline then
    redis.call('HSET', KEYS[7], job, free)
    return {3, math.max(1, math.ceil(free - now))}
  end
  return book(math.max(free, tat, cool))
end
if slot then
  redis.call('HDEL', KEYS[7], job)
end
grant(KEYS[5], job, now)
return {0, 0}
