-- A call segment's `complete` queue event is written once, whoever writes it: the call
-- machine when the call ends, or a restarted acd's recovery when the first acd died
-- before its re-adoption record said the call had ended (acd.calls.recovery). Both
-- give it the same `once_key` ("complete:<leg id>"); the row writer's
-- `ON CONFLICT DO NOTHING` keeps the first. NULL for every other event.
ALTER TABLE queue_events ADD COLUMN once_key text;
CREATE UNIQUE INDEX queue_events_once_key_idx ON queue_events (once_key)
    WHERE once_key IS NOT NULL;
