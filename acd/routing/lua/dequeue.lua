-- dequeue.lua: the caller is gone (or leaves the queue): remove a waiting call,
-- or cancel its offers and free the agents. A connected call is left alone
-- (call_ended finishes it).
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call id,
--   arg(4) '1' = max wait: only a waiting call leaves (an offered one is left
--   ringing, a callback task is kept).
-- Returns JSON {was = waiting | offered | connected | callback (max wait only) |
--   none, released = [agent ids],
--   changes, offers, now}.
local c = load_call(arg(3))
if not c then return result({was = 'none', released = {}}) end
if c.st == 'connected' or (arg(4) == '1' and c.st ~= 'waiting') then
  return result({was = c.st, released = {}})
end
if arg(4) == '1' and c.cb then  -- a callback task has no caller waiting to time out
  return result({was = 'callback', released = {}})
end
redis.call('ZREM', QKEY[c.q], c.id)
forget_call(c)
redis.call('ZREM', K_TC, c.id)
local freed, released = {}, {}
for r, agent_id in pairs(c.res) do
  local a = load_agent(agent_id)
  if a then
    agent_step(a, {ev = 'released', res = r}, S.mm)
    freed[#freed + 1] = a
    released[#released + 1] = agent_id
  end
end
for _, a in ipairs(freed) do match_agent(a) end
return result({was = c.st, released = released})
