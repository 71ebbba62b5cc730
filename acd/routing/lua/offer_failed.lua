-- offer_failed.lua: the agent did not take the call. The agent is freed (missed
-- count +1 when counted, paused after max missed); the call goes back to the head
-- of its queue with its original rank, not offered to this agent again before the
-- retry delay; then both look for another match.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call id,
--   arg(4) reservation id, arg(5) agent id, arg(6) '1' = counted against the agent.
-- Returns JSON {requeued = bool, agent = record | nil, changes, offers, now}.
local c, res, agent_id = load_call(arg(3)), arg(4), arg(5)
local a = load_agent(agent_id)
if a then agent_step(a, {ev = 'failed', res = res, counted = arg(6) == '1'}, S.mm) end
local requeued = false
if c and c.st == 'offered' and c.res[res] == agent_id then
  if S.retry > 0 then c.ex[agent_id] = NOW + S.retry end
  requeued = return_call(c, res)
  match_call(c)
end
if a then match_agent(a) end
return result({requeued = requeued, agent = a})
