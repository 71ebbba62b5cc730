-- renew.lua: the owner node is alive: push the on_call deadline of the agents
-- on its connected calls to now + on_call_ttl. A pair whose agent is no longer
-- on_call with that reservation is left alone and reported back as gone.
-- KEYS: the layout of _lib.lua (KEYS[1] agents, KEYS[4] t:agents are written).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) JSON list
--   of [call id, agent id, reservation id].
-- Returns JSON {renewed = n, gone = [call ids], changes = [], offers = [], now}.
local renewed, gone = 0, {}
for _, t in ipairs(cjson.decode(arg(3))) do
  local a = load_agent(t[2])
  if a and a.state == 'on_call' and a.res == t[3] then
    agent_step(a, {ev = 'renew', res = t[3], dl = NOW + S.oncall}, S.mm)
    renewed = renewed + 1
  else
    gone[#gone + 1] = t[1]
  end
end
return result({renewed = renewed, gone = gone})
