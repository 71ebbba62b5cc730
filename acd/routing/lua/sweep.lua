-- sweep.lua: a safety net run on each tick: the first `scan` waiting calls of
-- every queue look for free agents, while any agent is free.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON.
-- Returns JSON {matched = n, changes, offers, now}.
local matched = 0
for i = 1, NQ do
  if redis.call('ZCARD', K_IDLE) == 0 then break end
  local ids = redis.call('ZRANGE', KEYS[6 + i], 0, S.scan - 1)
  for _, id in ipairs(ids) do
    local c = load_call(id)
    if not c then
      redis.call('ZREM', KEYS[6 + i], id)
    elseif match_call(c) then
      matched = matched + 1
    end
  end
end
return result({matched = matched})
