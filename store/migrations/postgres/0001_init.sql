-- +goose Up

-- One row per channel identity of a resident.
CREATE TABLE residents (
    id                   bigserial PRIMARY KEY,
    channel              text        NOT NULL,
    external_id          text        NOT NULL,
    name                 text        NOT NULL DEFAULT '',
    lang                 text        NOT NULL DEFAULT '',
    first_seen           timestamptz NOT NULL,
    last_seen            timestamptz NOT NULL,
    reachable            boolean     NOT NULL DEFAULT true,
    reachable_changed_at timestamptz,
    broadcast_opt_in     boolean     NOT NULL DEFAULT true,
    UNIQUE (channel, external_id)
);

-- Handoff tickets. source_update is the update that opened the ticket;
-- handoff_updates lists later updates that asked for a person while the
-- ticket was still waiting (so replaying them finds the same ticket).
CREATE TABLE tickets (
    id              bigserial PRIMARY KEY,
    resident_id     bigint      NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    channel         text        NOT NULL,
    external_id     text        NOT NULL,
    status          text        NOT NULL DEFAULT 'waiting'
                                CHECK (status IN ('waiting', 'open', 'closed', 'cancelled')),
    flow            text        NOT NULL DEFAULT '',
    step            text        NOT NULL DEFAULT '',
    reason          text        NOT NULL DEFAULT '',
    summary         text        NOT NULL DEFAULT '',
    vars            jsonb       NOT NULL DEFAULT '{}',
    source_update   text        NOT NULL,
    handoff_updates text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel, external_id, source_update)
);

-- At most one waiting ticket per resident.
CREATE UNIQUE INDEX tickets_one_waiting ON tickets (channel, external_id) WHERE status = 'waiting';
-- The volunteers' queue: oldest waiting/open first.
CREATE INDEX tickets_status_created ON tickets (status, created_at);

-- Ticket transcripts (texts are masked before they get here).
CREATE TABLE ticket_messages (
    id            bigserial PRIMARY KEY,
    ticket_id     bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    sender        text        NOT NULL CHECK (sender IN ('resident', 'bot', 'volunteer')),
    body          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    source_update text        NOT NULL,
    seq           integer     NOT NULL,
    UNIQUE (ticket_id, source_update, seq)
);
CREATE INDEX ticket_messages_created ON ticket_messages (created_at);

-- Flow analytics: where residents start, finish and get stuck.
CREATE TABLE flow_events (
    id          bigserial PRIMARY KEY,
    channel     text        NOT NULL,
    external_id text        NOT NULL,
    update_id   text        NOT NULL,
    seq         integer     NOT NULL,
    kind        text        NOT NULL,
    flow        text        NOT NULL DEFAULT '',
    step        text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    UNIQUE (channel, external_id, update_id, seq)
);
CREATE INDEX flow_events_flow_kind_at ON flow_events (flow, kind, at);

-- +goose Down
DROP TABLE flow_events;
DROP TABLE ticket_messages;
DROP TABLE tickets;
DROP TABLE residents;
