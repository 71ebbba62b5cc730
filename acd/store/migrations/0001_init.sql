-- acd call records: one row per call, per leg, per queue event, per agent state change.
-- No foreign keys on purpose: the writer commits each table on its own, so a leg may
-- land before its call; reports join on call_id.

CREATE TABLE calls (
    call_id       text PRIMARY KEY,
    channel_id    text NOT NULL,
    caller_number text NOT NULL,
    dialled       text NOT NULL,
    flow          text,
    flow_version  text,
    started_at    timestamptz NOT NULL,
    queue         text,
    enqueued_at   timestamptz,
    answered_at   timestamptz,
    ended_at      timestamptz,
    agent_id      text,
    outcome       text NOT NULL CHECK (outcome IN ('answered', 'abandoned', 'ivr_hangup',
                                                   'transferred', 'failed', 'callback',
                                                   'voicemail')),
    hangup_cause  integer CHECK (hangup_cause >= 0),
    wait_ms       integer CHECK (wait_ms >= 0),
    talk_ms       integer CHECK (talk_ms >= 0),
    variables     jsonb CHECK (variables IS NULL OR jsonb_typeof(variables) = 'object')
);
CREATE INDEX calls_started_at_idx ON calls (started_at);
CREATE INDEX calls_queue_started_at_idx ON calls (queue, started_at) WHERE queue IS NOT NULL;
CREATE INDEX calls_agent_started_at_idx ON calls (agent_id, started_at)
    WHERE agent_id IS NOT NULL;

CREATE TABLE legs (
    leg_id        text PRIMARY KEY,
    call_id       text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('caller', 'agent', 'transfer', 'snoop')),
    channel_id    text,
    endpoint      text,
    agent_id      text,
    queue         text,
    started_at    timestamptz,
    answered_at   timestamptz,
    ended_at      timestamptz,
    hangup_cause  integer CHECK (hangup_cause >= 0),
    wait_ms       integer CHECK (wait_ms >= 0),
    -- Free text on purpose: a leg ends for reasons a call does not have
    -- (answered_elsewhere, busy, no_answer, reaped, ...).
    outcome       text
);
CREATE INDEX legs_call_id_idx ON legs (call_id);
CREATE INDEX legs_started_at_idx ON legs (started_at);
CREATE INDEX legs_agent_started_at_idx ON legs (agent_id, started_at) WHERE agent_id IS NOT NULL;

CREATE TABLE queue_events (
    event_id      text PRIMARY KEY,
    call_id       text NOT NULL,
    queue         text NOT NULL,
    event         text NOT NULL CHECK (event IN ('enter', 'offer', 'no_answer', 'busy',
                                                 'unreachable', 'connect', 'complete',
                                                 'abandon', 'exit', 'callback', 'transfer')),
    agent_id      text,
    at            timestamptz NOT NULL,
    wait_ms       integer CHECK (wait_ms >= 0),
    detail        jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object')
);
CREATE INDEX queue_events_call_id_at_idx ON queue_events (call_id, at);
CREATE INDEX queue_events_at_idx ON queue_events (at);
CREATE INDEX queue_events_queue_at_idx ON queue_events (queue, at);
CREATE INDEX queue_events_agent_at_idx ON queue_events (agent_id, at) WHERE agent_id IS NOT NULL;

CREATE TABLE agent_states (
    event_id      text PRIMARY KEY,
    agent_id      text NOT NULL,
    state         text NOT NULL,
    reason        text,
    previous      text,
    at            timestamptz NOT NULL
);
CREATE INDEX agent_states_agent_at_idx ON agent_states (agent_id, at);
CREATE INDEX agent_states_at_idx ON agent_states (at);
