-- Rows say what happened: who ended each call, and a word when what is known is
-- partial (the call ended while acd was down, its events were lost in a gap).
--   ended_by: caller (the caller hung up), agent (the agent hung up first), acd
--   (acd ended it: an IVR hang-up, a transfer or the dialplan, a safety net),
--   unknown (both sides were gone before acd could see who left first).
--   end_detail: free text, e.g. 'acd_down' or 'events_lost'.
ALTER TABLE calls ADD COLUMN ended_by text
    CHECK (ended_by IN ('caller', 'agent', 'acd', 'unknown'));
ALTER TABLE calls ADD COLUMN end_detail text;
