-- match_agent.lua: an agent who just became available takes the best waiting
-- call they may take (priority, then oldest, across all queues).
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) agent id.
-- Returns JSON {matched = bool, changes, offers, now}.
local a = load_agent(arg(3))
local matched = false
if a then matched = match_agent(a) end
return result({matched = matched})
