-- reserve_agent.lua: a transfer asks for one named agent (issue 17). When that agent
-- is available (and their phone may be rung), they are reserved for a transfer task
-- `id` of queue `q`: a call record that is never queued (xf: a failed offer forgets
-- it instead of putting it back in a queue), whose offer is returned, not put on
-- the bus (the call that asked rings the agent itself).
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) transfer task id,
--   arg(4) agent id, arg(5) queue name, arg(6) owner node, arg(7) enqueued ms,
--   arg(8) ring timeout s, arg(9) wrap-up ms, arg(10) caller number.
-- Returns JSON {reserved = bool, reason? (no_agent | <the agent's state> | phone),
--   offer?, changes, offers = [], now}.
local id, a = arg(3), load_agent(arg(4))
if not a then return result({reserved = false, reason = 'no_agent'}) end
if a.state ~= 'available' then return result({reserved = false, reason = a.state}) end
if not phone_ok(a, false) then return result({reserved = false, reason = 'phone'}) end
local old = load_call(id)
if old then forget_call(old) end
local c = {id = id, q = arg(5), owner = arg(6), score = 0, enq = tonumber(arg(7)), prio = 0,
  caller = arg(10), strat = 'longest_idle', ring = tonumber(arg(8)), wrap = tonumber(arg(9)),
  riu = false, steps = {{u = 0, alts = {{s = {}, a = {a.id}}}}}, ex = {}, st = 'offered',
  res = {}, att = 1, xf = 1}
local res = id .. ':1:' .. a.id
a.lastoff = NOW
agent_step(a, {ev = 'reserve', call = id, res = res, dl = NOW + S.ttl}, 0)
c.res[res] = a.id
save_call(c)
return result({reserved = true, offer = {call = id, agent = a.id, endpoint = a.endpoint,
  queue = c.q, res = res, enq = c.enq, ring = c.ring, att = 1, owner = c.owner}})
