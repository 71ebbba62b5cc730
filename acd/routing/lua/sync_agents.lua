-- sync_agents.lua: write agent definitions, keeping each agent's live state (an
-- on_call agent without a deadline, from an older acd, gets one).
-- KEYS: the layout of _lib.lua (agents, idle, t:agents, idle:<skill> are written).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON,
--   arg(3) JSON list of {id, name, endpoint, skills, order}.
-- Returns JSON {created = n, updated = n, new = [ids created], changes = [], offers = [],
--   now}.
local created, updated, new = 0, 0, {}
for _, d in ipairs(cjson.decode(arg(3))) do
  local a = load_agent(d.id)
  if not a then
    a = {id = d.id, state = 'logged_out', reason = '', since = NOW, missed = 0, call = '',
      res = '', dl = 0, calls = 0, talk = 0, lastoff = 0, ans = 0, queue = ''}
    created = created + 1
    new[#new + 1] = d.id
  else
    if a.state == 'available' then idle_index(a, false) end
    updated = updated + 1
  end
  a.name, a.endpoint, a.skills, a.order = d.name, d.endpoint, d.skills, d.order
  if a.state == 'available' then idle_index(a, true) end
  if a.state == 'on_call' and (a.dl or 0) == 0 then
    -- on_call from before on_call deadlines existed: give it one, so it cannot stick
    a.dl = NOW + S.oncall
    redis.call('ZADD', K_TA, a.dl, a.id)
  end
  save_agent(a)
end
return result({created = created, updated = updated, new = new})
