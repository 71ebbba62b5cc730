-- reap.lua: what time alone changes. Agents past their reserved/ringing deadline
-- are freed and their call returned to its queue; agents past wrap-up become
-- available; an on_call agent past its deadline (its owner node stopped renewing
-- it: it died) is orphaned: it wraps up for its queue's wrap-up (straight to
-- available when that is 0 or the call is unknown), with reason "orphaned", and
-- the call record is forgotten; waiting calls whose step or retry delay ended
-- look for agents again.
-- Idempotent: running it twice, or on two nodes, changes nothing more.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) limit per kind.
-- Returns JSON {agents = n, calls = n, orphaned = [call ids], more = bool, changes,
--   offers, now}.
local limit = tonumber(arg(3))
local orphaned = {}
local ids = redis.call('ZRANGEBYSCORE', K_TA, '-inf', NOW, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local a = load_agent(id)
  if not a or not TIMED[a.state] then
    redis.call('ZREM', K_TA, id)
  else
    local st, res, call = a.state, a.res, a.call
    local c = load_call(call)
    local wrap = 0
    if c and c.wrap then wrap = math.floor(tonumber(c.wrap) * 1000) end
    agent_step(a, {ev = 'expire', dl = NOW + wrap}, S.mm)
    if TIMED[a.state] and (a.dl or 0) <= NOW then
      redis.call('ZREM', K_TA, id)  -- never loop on a broken record
    end
    if st == 'on_call' then
      if a.state ~= 'on_call' and c and c.st == 'connected' and c.res[res] then
        orphaned[#orphaned + 1] = c.id
        redis.call('ZREM', QKEY[c.q], c.id)
        redis.call('ZREM', K_TC, c.id)
        forget_call(c)
      end
    elseif st ~= 'wrap_up' and a.state == 'available' then
      if return_call(c, res) then match_call(c) end
    end
    match_agent(a)
  end
end
local cids = redis.call('ZRANGEBYSCORE', K_TC, '-inf', NOW, 'LIMIT', 0, limit)
for _, id in ipairs(cids) do
  local c = load_call(id)
  if not c then
    redis.call('ZREM', K_TC, id)
  else
    schedule(c)
    match_call(c)
  end
end
return result({agents = #ids, calls = #cids, orphaned = orphaned,
  more = #ids >= limit or #cids >= limit})
