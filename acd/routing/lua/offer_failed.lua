-- offer_failed.lua: the agent did not take the call. The agent is freed (missed
-- count +1 when counted, paused after max missed); the call goes back to the head
-- of its queue with its original rank, not offered to this agent again before the
-- retry delay; then both look for another match.
-- A failure of acd's own (ARI unreachable, a request that failed) keeps no agent
-- from the call: the call alone waits a moment, doubling with each such failure
-- (0.5 s, 1 s, 2 s, ...) up to the retry delay, so an Asterisk that is away is not
-- hammered with offers and one back after a short outage is used at once.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call id,
--   arg(4) reservation id, arg(5) agent id, arg(6) '1' = counted against the agent,
--   '0' = not counted, 'acd' = acd's own failure (not counted, no retry delay).
-- Returns JSON {requeued = bool, agent = record | nil, changes, offers, now}.
local c, res, agent_id, how = load_call(arg(3)), arg(4), arg(5), arg(6)
local a = load_agent(agent_id)
if a then agent_step(a, {ev = 'failed', res = res, counted = how == '1'}, S.mm) end
local requeued = false
if c and c.st == 'offered' and c.res[res] == agent_id then
  if how == 'acd' then
    c.ae = math.min((c.ae or 0) + 1, 30)
    c.nb = NOW + math.min(math.max(S.retry, 1000), 250 * 2 ^ c.ae)
  elseif S.retry > 0 then
    c.ex[agent_id] = NOW + S.retry
  end
  requeued = return_call(c, res)
  match_call(c)
end
if a then match_agent(a) end
return result({requeued = requeued, agent = a})
