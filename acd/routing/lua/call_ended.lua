-- call_ended.lua: a connected call is over; the agent wraps up for `wrapup` ms
-- (then the reaper makes them available) and the call leaves routing.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call id,
--   arg(4) reservation id, arg(5) agent id, arg(6) wrap-up ms.
-- Returns JSON {ended = bool, changes, offers, now}.
local c, res, a = load_call(arg(3)), arg(4), load_agent(arg(5))
local wrap = tonumber(arg(6))
local ended = false
if a and a.state == 'on_call' and a.res == res then
  local talk = NOW - (a.ans or NOW)
  a.talk = (a.talk or 0) + talk
  local q = a.queue or ''
  if q ~= '' then
    local handle = talk + wrap
    local n = tonumber(redis.call('HINCRBY', K_STATS, q .. ':n', 1))
    local aht = tonumber(redis.call('HGET', K_STATS, q .. ':aht') or handle)
    local w = math.max(0.1, 1 / n)
    redis.call('HSET', K_STATS, q .. ':aht', math.floor(aht + w * (handle - aht)))
  end
  agent_step(a, {ev = 'ended', res = res, dl = NOW + wrap}, S.mm)
  ended = true
  match_agent(a)
end
if c and c.st == 'connected' and c.res[res] then
  forget_call(c)
  redis.call('ZREM', K_TC, c.id)
end
return result({ended = ended})
