-- agent_event.lua: apply one state-machine event to one agent (login, logout,
-- available, break from AgentService; any event in the machine table tests).
-- KEYS: the layout of _lib.lua (KEYS[1] agents, KEYS[3] idle, KEYS[4] t:agents,
--   KEYS[6+NQ+j] idle:<skill j>; the others are untouched).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) agent id,
--   arg(4) event JSON {ev, reason?, call?, res?, dl?, counted?}.
-- Returns JSON {err = conflict code | nil, missing = true | nil, agent = record,
--   changes = [[agent, previous, state, reason]], offers = [], now}.
local a = load_agent(arg(3))
if not a then return result({missing = true}) end
local err = agent_step(a, cjson.decode(arg(4)), S.mm)
return result({err = err, agent = a})
