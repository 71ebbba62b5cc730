-- Reports: interval summaries kept up to date by triggers as the writer inserts rows,
-- so a month of calls reports from a few thousand summary rows, not a million calls.
-- The definitions (offered, short abandon, service level...) are in docs/kpis.md and
-- acd/reports/kpi.py; the functions below must compute the same figures.
--
-- Buckets are 15 minutes in UTC. Every time zone's offset is a multiple of 15
-- minutes, so 15, 30 and 60-minute intervals and days in the contact center's own
-- time zone are unions of whole buckets.
--
-- A call's figures land in the bucket in which it entered the queue (even when it
-- is answered or ends in a later one). An agent's time in a state is split at bucket
-- edges: an agent logged in across midnight counts on both days.

-- Per-queue thresholds the triggers need ('*' = every queue without its own row).
-- acd writes them from its settings (reports.queues) and rebuilds the summaries
-- when they change.
CREATE TABLE report_queue_settings (
    queue            text PRIMARY KEY,
    short_abandon_ms integer NOT NULL CHECK (short_abandon_ms >= 0),
    sl_threshold_ms  integer NOT NULL CHECK (sl_threshold_ms >= 0)
);
INSERT INTO report_queue_settings VALUES ('*', 5000, 20000);

CREATE TABLE report_queue_intervals (
    queue              text NOT NULL,
    bucket             timestamptz NOT NULL,
    entered            integer NOT NULL DEFAULT 0,
    offered            integer NOT NULL DEFAULT 0,
    answered           integer NOT NULL DEFAULT 0,
    answered_within    integer NOT NULL DEFAULT 0,
    answer_wait_ms     bigint  NOT NULL DEFAULT 0,
    abandoned          integer NOT NULL DEFAULT 0,
    abandoned_within   integer NOT NULL DEFAULT 0,
    abandon_wait_ms    bigint  NOT NULL DEFAULT 0,
    short_abandons     integer NOT NULL DEFAULT 0,
    longest_wait_ms    integer NOT NULL DEFAULT 0,
    talk_ms            bigint  NOT NULL DEFAULT 0,
    wrap_ms            bigint  NOT NULL DEFAULT 0,
    transfers          integer NOT NULL DEFAULT 0,
    callbacks          integer NOT NULL DEFAULT 0,
    callbacks_answered integer NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, bucket)
);
CREATE INDEX report_queue_intervals_bucket_idx ON report_queue_intervals (bucket);

-- Answered calls by whole seconds of wait, for the 90th percentile of the ASA.
CREATE TABLE report_queue_waits (
    queue   text NOT NULL,
    bucket  timestamptz NOT NULL,
    wait_s  integer NOT NULL,
    n       integer NOT NULL,
    PRIMARY KEY (queue, bucket, wait_s)
);

CREATE TABLE report_agent_time (
    agent_id text NOT NULL,
    bucket   timestamptz NOT NULL,
    state    text NOT NULL,
    reason   text NOT NULL DEFAULT '',
    ms       integer NOT NULL,  -- at most 900,000 in a bucket; integer sums fast
    PRIMARY KEY (agent_id, bucket, state, reason)
);
CREATE INDEX report_agent_time_bucket_idx ON report_agent_time (bucket);

CREATE TABLE report_agent_calls (
    agent_id text NOT NULL,
    bucket   timestamptz NOT NULL,
    answered integer NOT NULL DEFAULT 0,
    talk_ms  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, bucket)
);
CREATE INDEX report_agent_calls_bucket_idx ON report_agent_calls (bucket);

-- Dispositions per queue and code, in the bucket the agent saved them.
CREATE TABLE report_dispositions (
    queue  text NOT NULL,
    bucket timestamptz NOT NULL,
    code   text NOT NULL,
    n      integer NOT NULL,
    PRIMARY KEY (queue, bucket, code)
);

CREATE FUNCTION report_bucket(t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS
$$ SELECT date_bin('15 minutes', t, TIMESTAMPTZ '2000-01-01 00:00:00+00') $$;

-- One call's figures into its queue's bucket (sign -1 takes them out again).
CREATE FUNCTION report_add_call(c calls, sign integer) RETURNS void
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
        transfers = transfers + CASE WHEN c.outcome = 'transferred' THEN sign ELSE 0 END,
        callbacks = callbacks + CASE WHEN c.outcome = 'callback' THEN sign ELSE 0 END
    WHERE queue = c.queue AND bucket = b;
    IF is_ans THEN
        INSERT INTO report_queue_waits AS w (queue, bucket, wait_s, n)
        VALUES (c.queue, b, wait / 1000, sign)
        ON CONFLICT (queue, bucket, wait_s) DO UPDATE SET n = w.n + sign;
        IF c.agent_id IS NOT NULL THEN
            INSERT INTO report_agent_calls AS a (agent_id, bucket, answered, talk_ms)
            VALUES (c.agent_id, b, sign, sign * coalesce(c.talk_ms, 0))
            ON CONFLICT (agent_id, bucket) DO UPDATE
                SET answered = a.answered + sign, talk_ms = a.talk_ms + excluded.talk_ms;
        END IF;
    END IF;
END
$$;

CREATE FUNCTION report_calls_trigger() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM report_add_call(NEW, 1);
    RETURN NULL;
END
$$;
CREATE TRIGGER calls_report AFTER INSERT ON calls
    FOR EACH ROW EXECUTE FUNCTION report_calls_trigger();

-- A disposition counts where it was saved; the desktop may change it (update) or
-- take it back (delete).
CREATE FUNCTION report_dispositions_trigger() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE report_dispositions SET n = n - 1
        WHERE queue = coalesce(OLD.queue, '') AND bucket = report_bucket(OLD.at)
          AND code = OLD.code;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO report_dispositions AS d (queue, bucket, code, n)
        VALUES (coalesce(NEW.queue, ''), report_bucket(NEW.at), NEW.code, 1)
        ON CONFLICT (queue, bucket, code) DO UPDATE SET n = d.n + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER dispositions_report AFTER INSERT OR UPDATE OR DELETE ON dispositions
    FOR EACH ROW EXECUTE FUNCTION report_dispositions_trigger();

-- The call a wrap-up belongs to: the one the agent started last before the wrap-up
-- began (ties by call id). Two steps so that both use calls_agent_started_at_idx.
CREATE FUNCTION report_wrap_call(agent text, t0 timestamptz) RETURNS SETOF calls
    LANGUAGE sql STABLE AS
$$
    SELECT * FROM calls c
    WHERE c.agent_id = agent AND c.answered_at IS NOT NULL AND c.queue IS NOT NULL
      AND c.enqueued_at IS NOT NULL AND c.callback_of IS NULL
      AND c.started_at = (
          SELECT c2.started_at FROM calls c2
          WHERE c2.agent_id = agent AND c2.started_at <= t0
            AND c2.answered_at IS NOT NULL AND c2.queue IS NOT NULL
            AND c2.enqueued_at IS NOT NULL AND c2.callback_of IS NULL
          ORDER BY c2.started_at DESC LIMIT 1)
    ORDER BY c.call_id COLLATE "C" DESC LIMIT 1
$$;

-- A state row opens a span that the agent's next row closes. Rows may arrive out of
-- order and many at once (COPY, INSERT ... SELECT): for each agent in the statement,
-- the spans between the known rows around the new ones are taken out and the spans
-- of the rows as they now stand are put in.
-- jit off: the planner overestimates generate_series and would spend seconds
-- compiling a statement that runs in milliseconds.
CREATE FUNCTION report_states_trigger() RETURNS trigger LANGUAGE plpgsql
    SET jit = off AS
$$
BEGIN
    WITH lim AS (
        SELECT agent_id, min(at) AS lo, max(at) AS hi FROM new_rows GROUP BY agent_id
    ), win AS MATERIALIZED (  -- a few rows: look each agent's rows up by index
        SELECT l.agent_id,
               coalesce((SELECT s.at FROM agent_states s
                         WHERE s.agent_id = l.agent_id AND s.at < l.lo
                         ORDER BY s.agent_id DESC, s.at DESC LIMIT 1),
                        '-infinity') AS p_at,
               coalesce((SELECT s.at FROM agent_states s
                         WHERE s.agent_id = l.agent_id AND s.at > l.hi
                         ORDER BY s.agent_id, s.at LIMIT 1),
                        'infinity') AS n_at
        FROM lim l
    ), r AS (
        SELECT s.agent_id, s.state, s.reason, s.at, s.event_id,
               EXISTS (SELECT 1 FROM new_rows n WHERE n.event_id = s.event_id) AS is_new
        FROM win w CROSS JOIN LATERAL (
            SELECT * FROM agent_states s
            WHERE s.agent_id = w.agent_id AND s.at BETWEEN w.p_at AND w.n_at
            ORDER BY s.agent_id, s.at) s
    ), sp AS MATERIALIZED (
        -- The spans as they now stand (+1) and as they stood before (-1).
        SELECT * FROM (
            SELECT agent_id, state, coalesce(reason, '') AS reason, at AS t0, 1 AS sign,
                   lead(at) OVER (PARTITION BY agent_id ORDER BY at, event_id COLLATE "C")
                       AS t1
            FROM r
            UNION ALL
            SELECT agent_id, state, coalesce(reason, ''), at, -1,
                   lead(at) OVER (PARTITION BY agent_id ORDER BY at, event_id COLLATE "C")
            FROM r WHERE NOT is_new) x
        WHERE t1 > t0 AND state <> 'logged_out'
    ), times AS (
        INSERT INTO report_agent_time AS t (agent_id, bucket, state, reason, ms)
        SELECT agent_id, b, state, reason,
               sum(sign * round(extract(epoch FROM (least(t1, b + interval '15 minutes')
                                                    - greatest(t0, b))) * 1000)::bigint)
        FROM sp, generate_series(report_bucket(t0), t1 - interval '1 microsecond',
                                 interval '15 minutes') AS b
        GROUP BY 1, 2, 3, 4
        ON CONFLICT (agent_id, bucket, state, reason) DO UPDATE SET ms = t.ms + excluded.ms
    )
    -- Wrap-up time also goes to the queue of the call the agent started last before
    -- the wrap-up began (in that call's bucket), for the queue's handle time.
    UPDATE report_queue_intervals q SET wrap_ms = q.wrap_ms + x.ms
    FROM (SELECT c.queue, report_bucket(c.enqueued_at) AS b,
                 sum(sp.sign * round(extract(epoch FROM (sp.t1 - sp.t0)) * 1000)::bigint)
                     AS ms
          FROM sp CROSS JOIN LATERAL report_wrap_call(sp.agent_id, sp.t0) c
          WHERE sp.state = 'wrap_up'
          GROUP BY 1, 2) x
    WHERE q.queue = x.queue AND q.bucket = x.b;
    RETURN NULL;
END
$$;
CREATE TRIGGER agent_states_report AFTER INSERT ON agent_states
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_states_trigger();

-- Recompute every summary from the raw rows (after the thresholds changed, or after
-- a bulk load with the triggers off). Set-based: the same figures as the triggers.
CREATE FUNCTION report_rebuild() RETURNS void LANGUAGE plpgsql AS
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
           count(*) FILTER (WHERE NOT own AND ans)
    FROM report_rebuild_calls GROUP BY queue, b;
    INSERT INTO report_queue_waits
    SELECT queue, b, w / 1000, count(*) FROM report_rebuild_calls
    WHERE own AND ans GROUP BY 1, 2, 3;
    INSERT INTO report_agent_calls
    SELECT agent_id, b, count(*), sum(talk) FROM report_rebuild_calls
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
