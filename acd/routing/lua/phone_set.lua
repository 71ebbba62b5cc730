-- phone_set.lua: what Asterisk says of an agent's phone (acd/agents/phones.py).
-- Stores the phone's registration and device state on the agent record, applies
-- the agent event the phone policy asked for (phone_back, phone_lost; nothing
-- when it no longer applies). acd.agents.service then matches an agent who is
-- free with a phone that can ring now (through the router, which delivers offers).
-- KEYS: the layout of _lib.lua (KEYS[1] agents, KEYS[3] idle, KEYS[4] t:agents,
--   KEYS[6+NQ+j] idle:<skill j>).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) agent id,
--   arg(4) registration, arg(5) device state, arg(6) event ('' | phone_back |
--   phone_back_login | phone_lost).
-- Returns JSON {missing = true | nil, agent = record, was = {preg, pdev} before,
--   changes, offers, now}.
local a = load_agent(arg(3))
if not a then return result({missing = true}) end
local was = {a.preg or 'unknown', a.pdev or 'unknown'}
a.preg, a.pdev = arg(4), arg(5)
save_agent(a)
local action = arg(6)
if action == 'phone_back' or action == 'phone_back_login' then
  agent_step(a, {ev = 'phone_back', login = action == 'phone_back_login'}, S.mm)
elseif action == 'phone_lost' then
  agent_step(a, {ev = 'phone_lost'}, S.mm)
end
return result({agent = a, was = was})
