-- +goose Up

-- The SQLite twin of migrations/postgres/0001_init.sql: same tables, columns
-- and constraints. Differences: times are TEXT in UTC with six fraction
-- digits ('2026-03-07T07:30:00.000000Z'), a fixed width so that text order
-- is time order; booleans are 0/1; vars is JSON text; the updates that
-- joined a waiting ticket are rows of ticket_handoffs instead of an array.

-- One row per channel identity of a resident.
CREATE TABLE residents (
    id                   INTEGER PRIMARY KEY,
    channel              TEXT    NOT NULL,
    external_id          TEXT    NOT NULL,
    name                 TEXT    NOT NULL DEFAULT '',
    lang                 TEXT    NOT NULL DEFAULT '',
    first_seen           TEXT    NOT NULL,
    last_seen            TEXT    NOT NULL,
    reachable            INTEGER NOT NULL DEFAULT 1 CHECK (reachable IN (0, 1)),
    reachable_changed_at TEXT,
    broadcast_opt_in     INTEGER NOT NULL DEFAULT 1 CHECK (broadcast_opt_in IN (0, 1)),
    UNIQUE (channel, external_id)
) STRICT;

-- Handoff tickets. source_update is the update that opened the ticket.
-- AUTOINCREMENT: a ticket id is never reused, even after a delete.
CREATE TABLE tickets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id   INTEGER NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    channel       TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'waiting'
                          CHECK (status IN ('waiting', 'open', 'closed', 'cancelled')),
    flow          TEXT    NOT NULL DEFAULT '',
    step          TEXT    NOT NULL DEFAULT '',
    reason        TEXT    NOT NULL DEFAULT '',
    summary       TEXT    NOT NULL DEFAULT '',
    vars          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(vars)),
    source_update TEXT    NOT NULL,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    UNIQUE (channel, external_id, source_update)
) STRICT;

-- At most one waiting ticket per resident.
CREATE UNIQUE INDEX tickets_one_waiting ON tickets (channel, external_id) WHERE status = 'waiting';
-- The volunteers' queue: oldest waiting/open first.
CREATE INDEX tickets_status_created ON tickets (status, created_at);

-- Later updates that asked for a person while the ticket was still waiting
-- (so replaying them finds the same ticket).
CREATE TABLE ticket_handoffs (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    update_id TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, update_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX ticket_handoffs_update ON ticket_handoffs (update_id);

-- Ticket transcripts (texts are masked before they get here).
CREATE TABLE ticket_messages (
    id            INTEGER PRIMARY KEY,
    ticket_id     INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    sender        TEXT    NOT NULL CHECK (sender IN ('resident', 'bot', 'volunteer')),
    body          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    source_update TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    UNIQUE (ticket_id, source_update, seq)
) STRICT;
CREATE INDEX ticket_messages_created ON ticket_messages (created_at);

-- Flow analytics: where residents start, finish and get stuck.
CREATE TABLE flow_events (
    id          INTEGER PRIMARY KEY,
    channel     TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    update_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    flow        TEXT    NOT NULL DEFAULT '',
    step        TEXT    NOT NULL DEFAULT '',
    at          TEXT    NOT NULL,
    UNIQUE (channel, external_id, update_id, seq)
) STRICT;
CREATE INDEX flow_events_flow_kind_at ON flow_events (flow, kind, at);

-- +goose Down
DROP TABLE flow_events;
DROP TABLE ticket_messages;
DROP TABLE ticket_handoffs;
DROP TABLE tickets;
DROP TABLE residents;
