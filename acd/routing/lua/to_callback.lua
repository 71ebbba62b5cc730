-- to_callback.lua: a waiting caller asked to be called back. The call becomes a
-- callback task: it keeps its queue place (score), enqueue time, priority and
-- owner; when an agent is matched to it the offer carries the number to call.
-- Idempotent (a second call only updates the number).
-- KEYS: the layout of _lib.lua (KEYS[2] calls is written).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call id,
--   arg(4) the number to call back.
-- Returns JSON {callback = bool (true: waiting, now a callback task), changes = [],
--   offers = [], now}.
local c = load_call(arg(3))
if not c or c.st ~= 'waiting' then return result({callback = false}) end
c.cb = arg(4)
c.cba = c.cba or 0
save_call(c)
return result({callback = true})
