-- Renew the lease of deliveries this consumer still owns (resets their idle time); entries
-- another consumer claimed meanwhile are left alone, and settled ones are skipped.
-- KEYS: 1 jobs stream
-- ARGV: 1 group, 2 consumer, 3.. entry ids
-- Returns the ids another consumer owns now.
local lost = {}
for i = 3, #ARGV do
  local owner = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #owner == 1 then
    if owner[1][2] == ARGV[2] then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    else
      lost[#lost + 1] = ARGV[i]
    end
  end
end
return lost
