-- callback_failed.lua: the customer did not answer a callback (or it could not be
-- placed). Every agent holding the task is freed as by an uncounted offer failure
-- (no missed count, no retry delay for that agent); one already on_call for it
-- goes straight back to available (nobody talked). With a retry delay the task
-- goes back to its original place, not offered to anyone before now + delay,
-- and its callback attempt count grows; without one it leaves routing for good.
-- A stale report (the offer is no longer the task's) only frees the agent if it
-- still holds that reservation.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call id,
--   arg(4) reservation id, arg(5) agent id, arg(6) retry delay ms ('' = give up).
-- Returns JSON {queued = bool (the task is still in routing), removed = bool,
--   changes, offers, now}.
local c, res, agent_id = load_call(arg(3)), arg(4), arg(5)
local freed = {}
local function free(a, r)
  if a.state == 'on_call' then
    agent_step(a, {ev = 'ended', res = r, dl = NOW}, S.mm)
  else
    agent_step(a, {ev = 'failed', res = r, counted = false}, S.mm)
  end
  freed[#freed + 1] = a
end
local removed = false
if c and (c.st == 'offered' or c.st == 'connected') and c.res[res] == agent_id then
  for r, id in pairs(c.res) do
    local a = load_agent(id)
    if a then free(a, r) end
  end
  c.res, c.agent = {}, nil
  if arg(6) == '' then
    redis.call('ZREM', QKEY[c.q], c.id)
    redis.call('ZREM', K_TC, c.id)
    forget_call(c)
    removed = true
  else
    c.st = 'waiting'
    c.nb = NOW + tonumber(arg(6))
    c.cba = (c.cba or 0) + 1
    save_call(c)
    queue_add(c)
    schedule(c)
    match_call(c)
  end
else
  local a = load_agent(agent_id)
  if a and a.res == res then free(a, res) end
end
for _, a in ipairs(freed) do match_agent(a) end
return result({queued = c ~= nil and not removed, removed = removed})
