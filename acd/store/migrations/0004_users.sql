-- People: users with a role, their API tokens (only a hash is kept), the audit
-- trail of every state-changing request, and the agents and queues changed at run
-- time (the YAML configuration seeds them on a fresh installation).

CREATE TABLE users (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    role          text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    agent_id      text,
    password_hash text NOT NULL,   -- argon2id, never the password
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'agent') = (agent_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_agent_id_idx ON users (agent_id) WHERE agent_id IS NOT NULL;

CREATE TABLE api_tokens (
    token_id      text PRIMARY KEY,          -- public part, to list and revoke
    token_hash    text NOT NULL UNIQUE,      -- sha256 of the whole token
    user_name     text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    label         text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

CREATE TABLE audit (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    who           text NOT NULL,
    role          text,
    what          text NOT NULL,
    source        text,                      -- the client's address
    status        integer,
    details       jsonb CHECK (details IS NULL OR jsonb_typeof(details) = 'object')
);
CREATE INDEX audit_at_idx ON audit (at);

-- Definitions belong to one installation: the Redis prefix its nodes share.
CREATE TABLE agent_defs (
    installation  text NOT NULL,
    id            text NOT NULL,
    seq           bigserial,                 -- the order they were defined in (logins)
    definition    jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation, id)
);

CREATE TABLE queue_defs (
    installation  text NOT NULL,
    name          text NOT NULL,
    seq           bigserial,
    definition    jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation, name)
);

-- The YAML seed was copied for this installation; later starts read the tables.
CREATE TABLE definitions_seeded (
    installation  text PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now()
);
