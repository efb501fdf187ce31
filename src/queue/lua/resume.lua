-- Resume a paused account: lift the pause and its cooldown (first call), then move up to
-- ARGV[1] parked jobs back to the jobs stream. Called again until nothing is left, so no call
-- does unbounded work.
-- KEYS: 1 account hash, 2 parked list, 3 jobs stream
-- ARGV: 1 batch size, 2 '1' to lift the pause
-- Returns {was paused (1/0), moved, left}.
local was = 0
if ARGV[2] == '1' then
  was = redis.call('HDEL', KEYS[1], 'paused', 'paused_at')
  redis.call('HDEL', KEYS[1], 'cool', 'cool_reason')
end
local moved = 0
for _ = 1, tonumber(ARGV[1]) do
  local payload = redis.call('LPOP', KEYS[2])
  if not payload then
    break
  end
  local ok, job = pcall(cjson.decode, payload)
  local id = (ok and type(job) == 'table' and job.id) or ''
  redis.call('XADD', KEYS[3], '*', 'id', id, 'job', payload)
  moved = moved + 1
end
return {math.min(was, 1), moved, redis.call('LLEN', KEYS[2])}
