-- Helpers prepended to the scripts that need them (see src/queue/scripts.rs): Redis scripts
-- cannot call each other, so the shared parts live here once.

-- Redis's clock in ms (with a fraction: slots of fast quotas are less than a ms apart): one
-- clock for the whole fleet, whatever the workers' clocks say.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- Is delivery `entry` of `stream` still pending for `consumer`?
local function owns(stream, group, entry, consumer)
  local owner = redis.call('XPENDING', stream, group, entry, entry, 1)
  return #owner == 1 and owner[1][2] == consumer
end

-- The AIMD factor in force at `now` (src/quota/policy.rs: Aimd::current).
local function factor_now(stored, decreased_at, period, increase, now)
  if not decreased_at then
    return 1
  end
  local calm = math.floor((now - tonumber(decreased_at)) / period)
  return math.min(1, (tonumber(stored) or 1) + increase * calm)
end

-- Requests per window at `factor`, never below one (src/quota/policy.rs: Pace::new).
local function per_window(count, factor)
  return math.max(1, math.floor(count * factor + 1e-9))
end

-- When the window `log` (scores: grant times) has room for one more of `n` per `window`.
local function room_at(log, n, window, now)
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
  local used = redis.call('ZCARD', log)
  if used < n then
    return now
  end
  local blocker = redis.call('ZRANGE', log, used - n, used - n, 'WITHSCORES')
  return tonumber(blocker[2]) + window
end

-- Records a grant at `now` (ms, with microseconds) in `log`. The log needs no expiry: every
-- admission prunes it, and it never holds more than one window's grants.
local function grant(log, job, now)
  redis.call('ZADD', log, now, job .. '@' .. now)
end

-- The `job` field (payload) of stream entry `entry`, or nil if the entry is gone.
local function payload_of(stream, entry)
  local found = redis.call('XRANGE', stream, entry, entry)
  if #found == 0 then
    return nil
  end
  local fields = found[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'job' then
      return fields[i + 1]
    end
  end
  return nil
end

-- Takes the settled delivery `entry` of job `job` off the stream and clears its crash count.
local function settle(stream, group, entry, runs, job)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
  redis.call('HDEL', runs, job)
end

-- Puts `job` (its `payload`) in the delayed set until `at` (ms).
local function delay(delayed, payloads, job, payload, at)
  redis.call('HSET', payloads, job, payload)
  redis.call('ZADD', delayed, at, job)
end

-- Appends a failed attempt to a job's `history`, keeping the last `len`, for `ttl` seconds.
local function remember(history, entry, len, ttl)
  redis.call('RPUSH', history, entry)
  redis.call('LTRIM', history, -tonumber(len), -1)
  redis.call('EXPIRE', history, ttl)
end

-- The job lives on: keeps its idempotency key (if still its own) for `ttl` more seconds.
local function keep_key(idem, job, ttl)
  if redis.call('GET', idem) == job then
    redis.call('EXPIRE', idem, ttl)
  end
end

