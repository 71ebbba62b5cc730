-- sweep.lua: a safety net run on each tick: waiting calls look for free agents,
-- while any agent is free. Bounded whatever the number of queues and callers:
-- it examines at most `scan` waiting calls in all (the first of each queue),
-- starting at queue `cursor` and going round; the caller passes the returned
-- cursor to the next sweep, so every queue has its turn.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) cursor
--   (1-based queue index to start at; '' = 1).
-- Returns JSON {matched = n, cursor = next start, changes, offers, now}.
local matched = 0
local cursor = tonumber(arg(3) ~= nil and arg(3) ~= '' and arg(3) or 1) or 1
if cursor < 1 or cursor > NQ then cursor = 1 end
local budget = S.scan
local i = cursor
if NQ > 0 and redis.call('ZCARD', K_IDLE) > 0 then
  for _ = 1, NQ do
    if budget <= 0 or redis.call('ZCARD', K_IDLE) == 0 then break end
    local ids = redis.call('ZRANGE', KEYS[6 + i], 0, budget - 1)
    budget = budget - #ids
    if #ids > 0 then redis.call('SADD', K_WAITQ, QNAME[i]) end  -- repairs the set
    for _, id in ipairs(ids) do
      local c = load_call(id)
      if not c then
        redis.call('ZREM', KEYS[6 + i], id)
      elseif match_call(c) then
        matched = matched + 1
      end
    end
    i = i % NQ + 1
  end
end
return result({matched = matched, cursor = i})
