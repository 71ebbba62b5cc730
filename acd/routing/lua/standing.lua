-- standing.lua: where every waiting call stands, for the announcements of one
-- tick: the waiting calls of each queue in order, and its average handle time.
-- One call a tick, whatever the number of callers (acd/routing/standing.py).
-- Read only.
-- KEYS: the layout of _lib.lua (KEYS[6] stats, KEYS[6+i] the queues).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON.
-- Returns JSON {queues = {name = {ids = [call ids, first first], aht = ms | false}},
--   changes = [], offers = [], now}.
local out = {}
for i = 1, NQ do
  local name = QNAME[i]
  local ids = redis.call('ZRANGE', KEYS[6 + i], 0, -1)
  local aht = redis.call('HGET', K_STATS, name .. ':aht')
  out[name] = {ids = ids, aht = aht and tonumber(aht) or false}
end
return result({queues = out})
