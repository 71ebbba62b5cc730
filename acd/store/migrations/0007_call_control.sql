-- Call control (issue 17, docs/call-control.md): hold time, recordings, and the legs
-- and queue events of holds, transfers, consultations, monitoring and recording.

-- Hold time of the call (ms, every hold of the caller by the agent or the agent's
-- phone added up). talk_ms no longer counts it: handle time = talk + hold + wrap-up.
ALTER TABLE calls ADD COLUMN hold_ms integer CHECK (hold_ms >= 0);

-- Legs: the supervisor's own phone leg (kind supervisor) besides the snoop (kind
-- snoop) and the consult / transfer-target legs (kind transfer); `detail` says what
-- the leg was for (e.g. {"mode": "whisper"}, {"target": "queue:sales"}).
ALTER TABLE legs DROP CONSTRAINT legs_kind_check;
ALTER TABLE legs ADD CONSTRAINT legs_kind_check
    CHECK (kind IN ('caller', 'agent', 'transfer', 'snoop', 'supervisor'));
ALTER TABLE legs ADD COLUMN detail jsonb
    CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object');

-- The moves in the middle of a call, in the call's queue events.
ALTER TABLE queue_events DROP CONSTRAINT queue_events_event_check;
ALTER TABLE queue_events ADD CONSTRAINT queue_events_event_check
    CHECK (event IN ('enter', 'offer', 'no_answer', 'busy', 'unreachable', 'connect',
                     'complete', 'abandon', 'exit', 'callback', 'transfer',
                     'hold', 'unhold', 'consult', 'consult_end', 'conference', 'escalate',
                     'monitor', 'monitor_end', 'record_pause', 'record_resume', 'payment'));

-- One recording of a call's bridge. `file` is the name Asterisk wrote (in its
-- recording folder), from the call id; `duration_ms` the file's length, which is the
-- recorded time minus the paused intervals (`paused`: [{"from", "to", "reason"}],
-- reason "agent", "supervisor" or "collect": a masked collect, card digits).
CREATE TABLE recordings (
    recording_id  text PRIMARY KEY,
    call_id       text NOT NULL,
    file          text NOT NULL,
    format        text NOT NULL,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    duration_ms   integer CHECK (duration_ms >= 0),
    paused        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(paused) = 'array'),
    outcome       text CHECK (outcome IN ('done', 'failed', 'discarded'))
);
CREATE INDEX recordings_call_id_idx ON recordings (call_id);
CREATE INDEX recordings_started_at_idx ON recordings (started_at);

-- Hold time in the summaries: the queue's handle time and the agents'.
ALTER TABLE report_queue_intervals ADD COLUMN hold_ms bigint NOT NULL DEFAULT 0;
ALTER TABLE report_agent_calls ADD COLUMN hold_ms bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION report_add_call(c calls, sign integer) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    s        report_queue_settings;
    b        timestamptz;
    wait     integer := coalesce(c.wait_ms, 0);
    is_short boolean;
    is_aband boolean;
    is_ans   boolean;
BEGIN
    IF c.queue IS NULL OR c.enqueued_at IS NULL THEN
        RETURN;
    END IF;
    b := report_bucket(c.enqueued_at);
    IF c.callback_of IS NOT NULL THEN
        -- A call acd placed to call a caller back: counted once, as a callback.
        IF c.answered_at IS NOT NULL THEN
            INSERT INTO report_queue_intervals AS r (queue, bucket, callbacks_answered)
            VALUES (c.queue, b, sign)
            ON CONFLICT (queue, bucket) DO UPDATE
                SET callbacks_answered = r.callbacks_answered + sign;
        END IF;
        RETURN;
    END IF;
    SELECT * INTO s FROM report_queue_settings WHERE queue IN (c.queue, '*')
        ORDER BY queue = '*' LIMIT 1;
    is_ans := c.answered_at IS NOT NULL;
    is_aband := NOT is_ans AND c.outcome = 'abandoned';
    is_short := is_aband AND wait <= s.short_abandon_ms;
    INSERT INTO report_queue_intervals AS r (queue, bucket) VALUES (c.queue, b)
        ON CONFLICT (queue, bucket) DO NOTHING;
    UPDATE report_queue_intervals SET
        entered = entered + sign,
        offered = offered + CASE WHEN is_short THEN 0 ELSE sign END,
        answered = answered + CASE WHEN is_ans THEN sign ELSE 0 END,
        answered_within = answered_within
            + CASE WHEN is_ans AND wait <= s.sl_threshold_ms THEN sign ELSE 0 END,
        answer_wait_ms = answer_wait_ms + CASE WHEN is_ans THEN sign * wait ELSE 0 END,
        abandoned = abandoned + CASE WHEN is_aband AND NOT is_short THEN sign ELSE 0 END,
        abandoned_within = abandoned_within
            + CASE WHEN is_aband AND NOT is_short AND wait <= s.sl_threshold_ms
                   THEN sign ELSE 0 END,
        abandon_wait_ms = abandon_wait_ms
            + CASE WHEN is_aband AND NOT is_short THEN sign * wait ELSE 0 END,
        short_abandons = short_abandons + CASE WHEN is_short THEN sign ELSE 0 END,
        longest_wait_ms = CASE WHEN is_short THEN longest_wait_ms
                               ELSE greatest(longest_wait_ms, wait) END,
        talk_ms = talk_ms + CASE WHEN is_ans THEN sign * coalesce(c.talk_ms, 0) ELSE 0 END,
        hold_ms = hold_ms + CASE WHEN is_ans THEN sign * coalesce(c.hold_ms, 0) ELSE 0 END,
        transfers = transfers + CASE WHEN c.outcome = 'transferred' THEN sign ELSE 0 END,
        callbacks = callbacks + CASE WHEN c.outcome = 'callback' THEN sign ELSE 0 END
    WHERE queue = c.queue AND bucket = b;
    IF is_ans THEN
        INSERT INTO report_queue_waits AS w (queue, bucket, wait_s, n)
        VALUES (c.queue, b, wait / 1000, sign)
        ON CONFLICT (queue, bucket, wait_s) DO UPDATE SET n = w.n + sign;
        IF c.agent_id IS NOT NULL THEN
            INSERT INTO report_agent_calls AS a (agent_id, bucket, answered, talk_ms, hold_ms)
            VALUES (c.agent_id, b, sign, sign * coalesce(c.talk_ms, 0),
                    sign * coalesce(c.hold_ms, 0))
            ON CONFLICT (agent_id, bucket) DO UPDATE
                SET answered = a.answered + sign, talk_ms = a.talk_ms + excluded.talk_ms,
                    hold_ms = a.hold_ms + excluded.hold_ms;
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION report_rebuild() RETURNS void LANGUAGE plpgsql AS
$$
BEGIN
    -- Fresh statistics: after a bulk load the planner would otherwise scan, not seek.
    ANALYZE calls;
    ANALYZE agent_states;
    DELETE FROM report_queue_intervals;
    DELETE FROM report_queue_waits;
    DELETE FROM report_agent_calls;
    DELETE FROM report_agent_time;
    DELETE FROM report_dispositions;
    INSERT INTO report_dispositions
    SELECT coalesce(queue, ''), report_bucket(at), code, count(*) FROM dispositions
    GROUP BY 1, 2, 3;
    CREATE TEMP TABLE report_rebuild_calls ON COMMIT DROP AS
    SELECT c.queue, c.agent_id, report_bucket(c.enqueued_at) AS b,
           coalesce(c.wait_ms, 0) AS w, coalesce(c.talk_ms, 0) AS talk,
           coalesce(c.hold_ms, 0) AS hold,
           c.callback_of IS NULL AS own, c.answered_at IS NOT NULL AS ans,
           c.answered_at IS NULL AND c.outcome = 'abandoned' AS ab,
           c.answered_at IS NULL AND c.outcome = 'abandoned'
               AND coalesce(c.wait_ms, 0) <= coalesce(s.short_abandon_ms, d.short_abandon_ms)
               AS short,
           coalesce(s.sl_threshold_ms, d.sl_threshold_ms) AS sl, c.outcome
    FROM calls c
    LEFT JOIN report_queue_settings s ON s.queue = c.queue
    CROSS JOIN (SELECT * FROM report_queue_settings WHERE queue = '*') d
    WHERE c.queue IS NOT NULL AND c.enqueued_at IS NOT NULL;
    INSERT INTO report_queue_intervals
    SELECT queue, b,
           count(*) FILTER (WHERE own),
           count(*) FILTER (WHERE own AND NOT short),
           count(*) FILTER (WHERE own AND ans),
           count(*) FILTER (WHERE own AND ans AND w <= sl),
           coalesce(sum(w) FILTER (WHERE own AND ans), 0),
           count(*) FILTER (WHERE own AND ab AND NOT short),
           count(*) FILTER (WHERE own AND ab AND NOT short AND w <= sl),
           coalesce(sum(w) FILTER (WHERE own AND ab AND NOT short), 0),
           count(*) FILTER (WHERE own AND short),
           coalesce(max(w) FILTER (WHERE own AND NOT short), 0),
           coalesce(sum(talk) FILTER (WHERE own AND ans), 0),
           0,
           count(*) FILTER (WHERE own AND outcome = 'transferred'),
           count(*) FILTER (WHERE own AND outcome = 'callback'),
           count(*) FILTER (WHERE NOT own AND ans),
           coalesce(sum(hold) FILTER (WHERE own AND ans), 0)
    FROM report_rebuild_calls GROUP BY queue, b;
    INSERT INTO report_queue_waits
    SELECT queue, b, w / 1000, count(*) FROM report_rebuild_calls
    WHERE own AND ans GROUP BY 1, 2, 3;
    INSERT INTO report_agent_calls
    SELECT agent_id, b, count(*), sum(talk), sum(hold) FROM report_rebuild_calls
    WHERE own AND ans AND agent_id IS NOT NULL GROUP BY 1, 2;
    CREATE TEMP TABLE report_rebuild_spans ON COMMIT DROP AS
    SELECT * FROM (
        SELECT agent_id, state, coalesce(reason, '') AS reason, at AS t0,
               lead(at) OVER (PARTITION BY agent_id ORDER BY at, event_id COLLATE "C") AS t1
        FROM agent_states) x
    WHERE t1 > t0 AND state <> 'logged_out';
    INSERT INTO report_agent_time
    SELECT agent_id, b, state, reason,
           sum(round(extract(epoch FROM (least(t1, b + interval '15 minutes')
                                         - greatest(t0, b))) * 1000)::bigint)
    FROM report_rebuild_spans,
         generate_series(report_bucket(t0), t1 - interval '1 microsecond',
                         interval '15 minutes') AS b
    GROUP BY 1, 2, 3, 4;
    UPDATE report_queue_intervals r SET wrap_ms = x.ms
    FROM (SELECT c.queue, report_bucket(c.enqueued_at) AS b,
                 sum(round(extract(epoch FROM (sp.t1 - sp.t0)) * 1000)::bigint) AS ms
          FROM report_rebuild_spans sp
          CROSS JOIN LATERAL report_wrap_call(sp.agent_id, sp.t0) c
          WHERE sp.state = 'wrap_up'
          GROUP BY 1, 2) x
    WHERE r.queue = x.queue AND r.bucket = x.b;
    ANALYZE report_queue_intervals;
    ANALYZE report_queue_waits;
    ANALYZE report_agent_time;
    ANALYZE report_agent_calls;
    ANALYZE report_dispositions;
END
$$;
