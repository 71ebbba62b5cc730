-- What the agent said the call was about: one disposition code and free notes per
-- call and agent (a transferred call can carry one from each agent who handled it).
-- Written by the agent desktop at wrap-up; read by the desktop's caller history and
-- by the dispositions report.

CREATE TABLE dispositions (
    call_id       text NOT NULL,
    agent_id      text NOT NULL,
    queue         text,
    code          text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    notes         text NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
    at            timestamptz NOT NULL,
    PRIMARY KEY (call_id, agent_id)
);
CREATE INDEX dispositions_at_idx ON dispositions (at);
CREATE INDEX dispositions_queue_at_idx ON dispositions (queue, at) WHERE queue IS NOT NULL;
