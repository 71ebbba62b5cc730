-- offer_answered.lua: the agent answered; the call is connected to them. Other
-- agents still reserved for the same call (ring-all) are released and matched.
-- The agent is on_call until now + on_call_ttl; the owner node renews that
-- deadline on every tick (renew.lua), the reaper frees the agent past it.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call id,
--   arg(4) reservation id, arg(5) agent id.
-- Returns JSON {connected = bool, changes, offers, now}.
local c, res, a = load_call(arg(3)), arg(4), load_agent(arg(5))
if not c or not a or c.res[res] ~= a.id then return result({connected = false}) end
agent_step(a, {ev = 'answered', res = res, dl = NOW + S.oncall}, S.mm)
if a.state ~= 'on_call' or a.res ~= res then return result({connected = false}) end
a.calls = (a.calls or 0) + 1
a.ans = NOW
a.queue = c.q
save_agent(a)
local freed = {}
for r, other in pairs(c.res) do
  if r ~= res then
    local o = load_agent(other)
    if o then
      agent_step(o, {ev = 'released', res = r}, S.mm)
      freed[#freed + 1] = o
    end
  end
end
c.res = {[res] = a.id}
c.st = 'connected'
c.agent = a.id
save_call(c)
schedule(c)
for _, o in ipairs(freed) do match_agent(o) end
return result({connected = true})
