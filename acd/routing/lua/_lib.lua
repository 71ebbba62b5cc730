-- _lib.lua: helpers shared by every routing script. acd/routing/scripts.py
-- prepends this file to each operation file; it is not a script on its own.
--
-- KEYS (built by acd.routing.keys.Layout, never inside a script):
--   KEYS[1] {P}:agents    hash  agent id -> JSON agent record
--   KEYS[2] {P}:calls     hash  call id -> JSON call record
--   KEYS[3] {P}:idle      zset  available agents by available-since ms
--   KEYS[4] {P}:t:agents  zset  agent id -> deadline ms of reserved/ringing/on_call/wrap_up
--   KEYS[5] {P}:t:calls   zset  call id -> next wake-up ms (chain step, retry delays)
--   KEYS[6] {P}:stats     hash  "<queue>:aht" -> average handle ms, "<queue>:n"
--   KEYS[6+i]     {P}:q:<queue i>      zset waiting calls by rank score, i = 1..NQ
--   KEYS[6+NQ+j]  {P}:idle:<skill j>   zset available agents holding skill j, j = 1..NS
--   KEYS[7+NQ+NS] {P}:waitq  set  names of the queues that may hold waiting calls (every
--                 ZADD to a queue adds its name; a free agent's search drops the names
--                 of queues it finds empty; the sweep adds back any it finds not empty)
-- ARGV: ARGV[1] = JSON [[queue names], [skill names]] (one argument, not one per
--   name: fewer arguments to send on every call); each operation's own arguments
--   follow and are read with arg(1), arg(2), ... (arg(1) is always now_ms from the
--   Clock, arg(2) the settings JSON: ttl, mm (max missed), retry, scan, ringmax, oncall).
--
-- Agent record: id name endpoint order skills{} state reason since missed call
--   res dl calls talk lastoff ans queue (dl: deadline of a TIMED state) preg pdev
--   (the phone's registration and device state, acd/agents/phone.py; absent = unknown).
-- Call record: id q owner score enq prio caller strat ring wrap riu (ring in use)
--   steps[{u = until ms (0 = for good), alts[{s = {skill = level}, a = [ids]?}]}]
--   ex{agent = retry-not-before ms} st (waiting|offered|connected)
--   res{reservation = agent} att agent; a callback task also has cb (the number
--   to call back) and cba (failed callback attempts); nb = not offered to anyone
--   before this ms (a callback retry).

local K_AGENTS, K_CALLS, K_IDLE, K_TA, K_TC, K_STATS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local NAMES = cjson.decode(ARGV[1])
local QNAME = NAMES[1]  -- queue i's name
local NQ, NS = #NAMES[1], #NAMES[2]
local QKEY, SKEY = {}, {}
for i = 1, NQ do QKEY[QNAME[i]] = KEYS[6 + i] end
for j = 1, NS do SKEY[NAMES[2][j]] = KEYS[6 + NQ + j] end
local K_WAITQ = KEYS[7 + NQ + NS]
local BASE = 1
local function arg(i) return ARGV[BASE + i] end

local NOW = tonumber(arg(1))
local S = cjson.decode(arg(2))
local CHANGES, OFFERS = {}, {}
-- States with a deadline in t:agents: the transient ones, and on_call, whose
-- deadline the owner node pushes on every tick (renew.lua) so that a dead
-- owner cannot leave its agent on a call forever.
local TIMED = {reserved = true, ringing = true, on_call = true, wrap_up = true}
local BUSY = {reserved = true, ringing = true, on_call = true}

-- One table per agent and per call within a script run (identity maps): a
-- record changed through one path is seen changed by every other path.
local AGENT_MAP, CALL_MAP = {}, {}

local function load_agent(id)
  local a = AGENT_MAP[id]
  if a then return a end
  local raw = redis.call('HGET', K_AGENTS, id)
  if not raw then return nil end
  a = cjson.decode(raw)
  AGENT_MAP[id] = a
  return a
end

local function save_agent(a)
  AGENT_MAP[a.id] = a
  redis.call('HSET', K_AGENTS, a.id, cjson.encode(a))
end

local function load_call(id)
  local c = CALL_MAP[id]
  if c then return c end
  local raw = redis.call('HGET', K_CALLS, id)
  if not raw then return nil end
  c = cjson.decode(raw)
  CALL_MAP[id] = c
  return c
end

local function forget_call(c)
  redis.call('HDEL', K_CALLS, c.id)
  CALL_MAP[c.id] = nil
end

local function save_call(c)
  CALL_MAP[c.id] = c
  redis.call('HSET', K_CALLS, c.id, cjson.encode(c))
end

local function idle_index(a, on)
  if on then
    redis.call('ZADD', K_IDLE, a.since, a.id)
  else
    redis.call('ZREM', K_IDLE, a.id)
  end
  for s, _ in pairs(a.skills) do
    local k = SKEY[s]
    if k then
      if on then redis.call('ZADD', k, a.since, a.id) else redis.call('ZREM', k, a.id) end
    end
  end
end

-- Move agent `a` to `state`: record fields, indexes, deadline timer, change row.
local function move(a, state, fields)
  local prev = a.state
  a.state = state
  a.reason = ''
  a.since = NOW
  if not TIMED[state] then a.dl = 0 end
  if state == 'available' or state == 'break' or state == 'logged_out' then
    a.call = ''
    a.res = ''
  end
  if fields then for k, v in pairs(fields) do a[k] = v end end
  if prev == 'available' then idle_index(a, false) end
  if state == 'available' then idle_index(a, true) end
  if TIMED[state] then redis.call('ZADD', K_TA, a.dl, a.id) else redis.call('ZREM', K_TA, a.id) end
  save_agent(a)
  CHANGES[#CHANGES + 1] = {a.id, prev, state, a.reason}
end

-- The agent state machine; the same table as acd/agents/machine.py `step`.
-- e = {ev = name, reason?, call?, res?, dl?, counted?}; dl of `expire` is the
-- end of the wrap-up an orphaned on_call agent gets. Returns nil, or a
-- conflict code (busy | logged_out | no_reason | not_available).
local function agent_step(a, e, max_missed)
  local st, ev = a.state, e.ev
  if ev == 'login' then
    if st ~= 'logged_out' then return nil end
    if (e.reason or '') ~= '' then
      move(a, 'break', {reason = e.reason, missed = 0})
    else
      move(a, 'available', {missed = 0})
    end
    return nil
  end
  if ev == 'logout' or ev == 'available' or ev == 'break' then
    if BUSY[st] then return 'busy' end
    if ev == 'logout' then
      if st ~= 'logged_out' then move(a, 'logged_out', {missed = 0}) end
      return nil
    end
    if st == 'logged_out' then return 'logged_out' end
    if ev == 'available' then
      if st ~= 'available' then move(a, 'available', {missed = 0}) end
      return nil
    end
    if (e.reason or '') == '' then return 'no_reason' end
    if not (st == 'break' and a.reason == e.reason) then move(a, 'break', {reason = e.reason}) end
    return nil
  end
  if ev == 'phone_lost' then  -- acd/agents/machine.py PhoneLost
    if st == 'available' then move(a, 'break', {reason = 'phone_lost'}) end
    return nil
  end
  if ev == 'phone_back' then  -- PhoneBack(login)
    if (st == 'break' and (a.reason == 'missed_offers' or a.reason == 'phone_lost'))
        or (st == 'logged_out' and e.login) then
      move(a, 'available', {reason = 'phone_registered', missed = 0})
    end
    return nil
  end
  if ev == 'reserve' then
    if st ~= 'available' then return 'not_available' end
    move(a, 'reserved', {call = e.call, res = e.res, dl = e.dl})
    return nil
  end
  if ev == 'expire' then
    if not TIMED[st] or (a.dl or 0) > NOW then return nil end
    if st ~= 'on_call' then
      move(a, 'available', nil)
    elseif (e.dl or 0) > NOW then  -- orphaned: nobody renewed the call; wrap up first
      move(a, 'wrap_up', {reason = 'orphaned', dl = e.dl})
    else
      move(a, 'available', {reason = 'orphaned'})
    end
    return nil
  end
  if (e.res or '') == '' or e.res ~= a.res then return nil end
  if ev == 'ringing' then
    if st == 'reserved' then move(a, 'ringing', {dl = e.dl}) end
    return nil
  end
  if ev == 'answered' then
    if st == 'reserved' or st == 'ringing' then move(a, 'on_call', {missed = 0, dl = e.dl}) end
    return nil
  end
  if ev == 'renew' then  -- not a state change: no change row
    if st == 'on_call' then
      a.dl = e.dl
      redis.call('ZADD', K_TA, a.dl, a.id)
      save_agent(a)
    end
    return nil
  end
  if ev == 'ended' then
    if st ~= 'on_call' then return nil end
    if e.dl <= NOW then move(a, 'available', nil) else move(a, 'wrap_up', {dl = e.dl}) end
    return nil
  end
  if st ~= 'reserved' and st ~= 'ringing' then return nil end
  if ev == 'released' or not e.counted then
    move(a, 'available', nil)
    return nil
  end
  local missed = (a.missed or 0) + 1
  if max_missed > 0 and missed >= max_missed then
    move(a, 'break', {reason = 'missed_offers', missed = missed})
  else
    move(a, 'available', {missed = missed})
  end
  return nil
end

-- ------------------------------------------------------------------ calls

local function current_step(c)
  for _, s in ipairs(c.steps) do
    if s.u == 0 or s.u > NOW then return s end
  end
  return c.steps[#c.steps]
end

-- Next time something about a waiting call changes by itself: its step ends,
-- an agent's retry delay for it runs out, or its callback retry delay ends.
local function schedule(c)
  local wake = nil
  if c.st == 'waiting' or c.st == 'offered' then
    for _, s in ipairs(c.steps) do
      if s.u ~= 0 and s.u > NOW then wake = s.u; break end
    end
    for _, t in pairs(c.ex) do
      if t > NOW and (not wake or t < wake) then wake = t end
    end
    local nb = c.nb or 0
    if nb > NOW and (not wake or nb < wake) then wake = nb end
  end
  if wake then redis.call('ZADD', K_TC, wake, c.id) else redis.call('ZREM', K_TC, c.id) end
end

local function fits(a, alt)
  if alt.a then
    local named = false
    for _, id in ipairs(alt.a) do
      if id == a.id then named = true; break end
    end
    if not named then return false end
  end
  for s, lvl in pairs(alt.s) do
    local have = a.skills[s]
    if not have or have < lvl then return false end
  end
  return true
end

-- May the agent's phone be rung for a call of a queue with ring_in_use `riu`?
-- The same rule as acd/agents/phone.py `offerable`: preg / pdev are the phone's
-- registration and device state (absent: unknown, which counts as yes).
local function phone_ok(a, riu)
  local reg, dev = a.preg or 'unknown', a.pdev or 'unknown'
  if reg == 'unregistered' or reg == 'unreachable' or dev == 'unavailable' then return false end
  if (dev == 'in_use' or dev == 'ringing') and not riu then return false end
  return true
end

local function eligible(a, c, step)
  if not phone_ok(a, c.riu) then return false end
  local ex = c.ex[a.id]
  if ex and ex > NOW then return false end
  for _, alt in ipairs(step.alts) do
    if fits(a, alt) then return true end
  end
  return false
end

-- Ranking of a free agent for a strategy: lower first, then agent id.
-- The same keys as acd/routing/policy.py `rank_key`.
local function rank_key(strat, a, req)
  if strat == 'fewest_calls' then return (a.calls or 0), a.since end
  if strat == 'least_talk_time' then return (a.talk or 0), a.since end
  if strat == 'round_robin' then return (a.lastoff or 0), (a.order or 0) end
  if strat == 'top_down' then return (a.order or 0), a.since end
  if strat == 'best_skill' then
    local sum = 0
    for s, _ in pairs(req) do sum = sum + (a.skills[s] or 0) end
    return -sum, a.since
  end
  return a.since, 0
end

-- Calls fn(id, key) for the candidate agents of one alternative: its named
-- agents, or the idle index of its rarest skill in available-since order.
-- fn returns true to stop, 'stale' to drop the id from the index.
local function each_candidate(alt, fn)
  if alt.a then
    for _, id in ipairs(alt.a) do
      if fn(id, nil) == true then return end
    end
    return
  end
  local key, fewest = K_IDLE, nil
  for s, _ in pairs(alt.s) do
    local k = SKEY[s]
    if not k then return end  -- no configured agent holds this skill
    local n = redis.call('ZCARD', k)
    if not fewest or n < fewest then key, fewest = k, n end
  end
  local start = 0
  while true do
    local ids = redis.call('ZRANGE', key, start, start + 63)
    if #ids == 0 then return end
    local stale, stop = {}, false
    for _, id in ipairs(ids) do
      local r = fn(id, key)
      if r == 'stale' then
        stale[#stale + 1] = id
      elseif r == true then
        stop = true
        break
      end
    end
    if #stale > 0 then redis.call('ZREM', key, unpack(stale)) end
    if stop then return end
    start = start + #ids - #stale
  end
end

local function pick_agents(c, step)
  local strat = c.strat
  local req = {}
  for _, alt in ipairs(step.alts) do
    for s, _ in pairs(alt.s) do req[s] = true end
  end
  local seen, found = {}, {}
  local best, b1, b2 = nil, nil, nil
  for _, alt in ipairs(step.alts) do
    each_candidate(alt, function(id, key)
      if seen[id] then return false end
      seen[id] = true
      local a = load_agent(id)
      if not a or a.state ~= 'available' then
        if key then return 'stale' end
        return false
      end
      if not eligible(a, c, step) then return false end
      if strat == 'ring_all' then
        found[#found + 1] = a
        return #found >= S.ringmax
      end
      local k1, k2 = rank_key(strat, a, req)
      if not best or k1 < b1 or (k1 == b1 and (k2 < b2 or (k2 == b2 and a.id < best.id))) then
        best, b1, b2 = a, k1, k2
      end
      return strat == 'longest_idle' and key ~= nil
    end)
    if strat == 'ring_all' and #found >= S.ringmax then break end
  end
  if best then found[1] = best end
  return found
end

-- Reserve agent `a` for call `c` (the caller saves `c`) and queue the offer.
local function offer(c, a)
  c.att = (c.att or 0) + 1
  local res = c.id .. ':' .. c.att .. ':' .. a.id
  a.lastoff = NOW
  agent_step(a, {ev = 'reserve', call = c.id, res = res, dl = NOW + S.ttl}, 0)
  c.res[res] = a.id
  c.st = 'offered'
  OFFERS[#OFFERS + 1] = {call = c.id, agent = a.id, endpoint = a.endpoint, queue = c.q,
    res = res, enq = c.enq, ring = c.ring, att = c.att, owner = c.owner, cb = c.cb}
end

-- A waiting call that may be offered now (a callback retry may hold it back).
local function ready(c)
  return c.st == 'waiting' and (c.nb or 0) <= NOW
end

-- A waiting call looks for free agents now. Returns true when offered.
local function match_call(c)
  if not ready(c) then return false end
  local picked = pick_agents(c, current_step(c))
  if #picked == 0 then return false end
  redis.call('ZREM', QKEY[c.q], c.id)
  for _, a in ipairs(picked) do offer(c, a) end
  save_call(c)
  return true
end

-- Put waiting call `c` in its queue (and the queue in the set of queues to search).
local function queue_add(c)
  redis.call('ZADD', QKEY[c.q], c.score, c.id)
  redis.call('SADD', K_WAITQ, c.q)
end

-- A free agent looks for the best waiting call it may take. Returns true when offered.
-- Only the queues that hold waiting calls are searched, so the work does not grow
-- with the number of queues.
local function match_agent(a)
  if a.state ~= 'available' then return false end
  local best, best_score = nil, nil
  for _, name in ipairs(redis.call('SMEMBERS', K_WAITQ)) do
    local key = QKEY[name]  -- nil: a queue this node does not define (yet)
    local entries = key and redis.call('ZRANGE', key, 0, S.scan - 1, 'WITHSCORES') or {}
    if key and #entries == 0 then redis.call('SREM', K_WAITQ, name) end
    for j = 1, #entries, 2 do
      local score = tonumber(entries[j + 1])
      if best_score and score >= best_score then break end
      local c = load_call(entries[j])
      if not c then
        redis.call('ZREM', key, entries[j])
      elseif ready(c) and eligible(a, c, current_step(c)) then
        best, best_score = c, score
        break
      end
    end
  end
  if not best then return false end
  redis.call('ZREM', QKEY[best.q], best.id)
  offer(best, a)
  save_call(best)
  return true
end

-- The call's offer `res` is over without an answer: the call goes back to the
-- head of its queue (original rank) once no other offer for it is pending.
local function return_call(c, res)
  if not c or c.st ~= 'offered' or not c.res[res] then return false end
  c.res[res] = nil
  if c.xf then  -- a transfer's task (reserve_agent.lua) is never queued: it goes
    forget_call(c)
    redis.call('ZREM', K_TC, c.id)
    return false
  end
  if next(c.res) == nil and c.st == 'offered' then
    c.st = 'waiting'
    queue_add(c)
  end
  save_call(c)
  schedule(c)
  return true
end

local function result(extra)
  extra = extra or {}
  extra.changes = CHANGES
  extra.offers = OFFERS
  extra.now = NOW
  return cjson.encode(extra)
end
