-- enqueue.lua: a call joins its queue (or is adopted by a new owner node) and is
-- matched at once to the best free agent if there is one.
-- KEYS: the layout of _lib.lua (all of it).
-- ARGV (after the layout): arg(1) now ms, arg(2) settings JSON, arg(3) call record
--   JSON (st/res/ex/att are set here), arg(4) max waiting ('' = no limit),
--   arg(5) '1' = adopt: an existing record changes owner to the record's owner.
-- Returns JSON {accepted, reason?, position? (1-based while waiting, 0 when
--   offered), state, changes, offers, now}.
local c = cjson.decode(arg(3))
local qkey = QKEY[c.q]
local old = load_call(c.id)
if old then
  if arg(5) == '1' and old.owner ~= c.owner then
    old.owner = c.owner
    save_call(old)
  end
  c = old
else
  if arg(4) ~= '' and redis.call('ZCARD', qkey) >= tonumber(arg(4)) then
    return result({accepted = false, reason = 'full'})
  end
  c.st, c.res, c.ex, c.att = 'waiting', {}, {}, 0
  save_call(c)
  queue_add(c)
  schedule(c)
  match_call(c)
end
local position = 0
if c.st == 'waiting' then
  local rank = redis.call('ZRANK', qkey, c.id)
  if rank then position = rank + 1 end
end
return result({accepted = true, position = position, state = c.st})
