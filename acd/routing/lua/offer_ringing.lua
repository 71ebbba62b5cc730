-- offer_ringing.lua: the reserved agent's phone rings; the reservation now lasts
-- until the ring timeout plus the reservation TTL.
-- KEYS: the layout of _lib.lua (agents, idle, t:agents are written).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) agent id,
--   arg(4) reservation id, arg(5) deadline ms.
-- Returns JSON {changes, offers = [], now}.
local a = load_agent(arg(3))
if a then agent_step(a, {ev = 'ringing', res = arg(4), dl = tonumber(arg(5))}, S.mm) end
return result()
