-- Callbacks: a call acd places to call a waiting caller back. Its row says which
-- call asked for it (callback_of) and how that attempt ended: 'answered' like any
-- call, or 'no_answer' when the caller did not pick up.
ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check
    CHECK (outcome IN ('answered', 'abandoned', 'ivr_hangup', 'transferred', 'failed',
                       'callback', 'voicemail', 'no_answer'));
ALTER TABLE calls ADD COLUMN callback_of text;
CREATE INDEX calls_callback_of_idx ON calls (callback_of) WHERE callback_of IS NOT NULL;
