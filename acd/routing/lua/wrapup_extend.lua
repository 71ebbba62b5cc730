-- wrapup_extend.lua: an agent in wrap-up asks for more time: the wrap-up deadline
-- moves `add` ms later, never past `cap` (an absolute time in ms). An agent no
-- longer in wrap-up with that call is left alone.
-- KEYS: the layout of _lib.lua (KEYS[1] agents, KEYS[4] t:agents are written).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) agent id,
--   arg(4) call id, arg(5) add ms, arg(6) cap ms.
-- Returns JSON {extended = bool, dl = deadline ms or 0, changes = [], offers = [], now}.
local a = load_agent(arg(3))
if not a or a.state ~= 'wrap_up' or a.call ~= arg(4) then
  return result({extended = false, dl = 0})
end
local dl = math.min((a.dl or NOW) + tonumber(arg(5)), tonumber(arg(6)))
if dl <= (a.dl or 0) then
  return result({extended = false, dl = a.dl or 0})
end
a.dl = dl
redis.call('ZADD', K_TA, dl, a.id)
save_agent(a)
return result({extended = true, dl = dl})
