-- +goose NO TRANSACTION
-- +goose Up

-- The SQLite twin of migrations/postgres/0003_handoff.sql. SQLite cannot
-- change a CHECK constraint, so tickets is rebuilt (the documented
-- procedure: foreign keys off, copy, drop, rename, check) — outside a
-- transaction, because foreign_keys cannot change inside one.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE volunteers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    chat_id     TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    role        TEXT    NOT NULL DEFAULT 'volunteer' CHECK (role IN ('volunteer', 'organizer')),
    status      TEXT    NOT NULL DEFAULT 'applied'
                        CHECK (status IN ('applied', 'approved', 'suspended', 'rejected')),
    areas       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(areas)),
    skills      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(skills)),
    capacity    INTEGER NOT NULL DEFAULT 3 CHECK (capacity BETWEEN 1 AND 50),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    UNIQUE (channel, external_id)
) STRICT;

CREATE TABLE tickets_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    resident_id       INTEGER NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    channel           TEXT    NOT NULL,
    external_id       TEXT    NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'waiting'
                              CHECK (status IN ('waiting', 'assigned', 'resolved', 'cancelled', 'abandoned')),
    flow              TEXT    NOT NULL DEFAULT '',
    step              TEXT    NOT NULL DEFAULT '',
    reason            TEXT    NOT NULL DEFAULT '',
    summary           TEXT    NOT NULL DEFAULT '',
    vars              TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(vars)),
    source_update     TEXT    NOT NULL,
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    volunteer_id      INTEGER REFERENCES volunteers (id),
    area              TEXT    NOT NULL DEFAULT '',
    topic             TEXT    NOT NULL DEFAULT '',
    lang              TEXT    NOT NULL DEFAULT '',
    assigned_at       TEXT,
    closed_at         TEXT,
    volunteer_said_at TEXT,
    resident_said_at  TEXT,
    reminded_at       TEXT,
    card_id           TEXT    NOT NULL DEFAULT '',
    card_text         TEXT    NOT NULL DEFAULT '',
    category          TEXT    NOT NULL DEFAULT '',
    rating            INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment    TEXT    NOT NULL DEFAULT '',
    rated_at          TEXT,
    UNIQUE (channel, external_id, source_update)
) STRICT;
INSERT INTO tickets_new (id, resident_id, channel, external_id, status, flow, step, reason,
                         summary, vars, source_update, created_at, updated_at)
SELECT id, resident_id, channel, external_id,
       CASE status WHEN 'open' THEN 'assigned' WHEN 'closed' THEN 'resolved' ELSE status END,
       flow, step, reason, summary, vars, source_update, created_at, updated_at
FROM tickets;
DROP TABLE tickets;
ALTER TABLE tickets_new RENAME TO tickets;
CREATE UNIQUE INDEX tickets_one_waiting ON tickets (channel, external_id) WHERE status = 'waiting';
CREATE INDEX tickets_status_created ON tickets (status, created_at);
CREATE INDEX tickets_volunteer_status ON tickets (volunteer_id, status);

CREATE TABLE ticket_audit (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    at          TEXT    NOT NULL
) STRICT;
CREATE INDEX ticket_audit_ticket ON ticket_audit (ticket_id, id);

COMMIT;
PRAGMA foreign_key_check;
PRAGMA foreign_keys = ON;

-- +goose Down
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DROP TABLE ticket_audit;
CREATE TABLE tickets_old (
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
INSERT INTO tickets_old (id, resident_id, channel, external_id, status, flow, step, reason,
                         summary, vars, source_update, created_at, updated_at)
SELECT id, resident_id, channel, external_id,
       CASE status WHEN 'assigned' THEN 'open' WHEN 'resolved' THEN 'closed' WHEN 'abandoned' THEN 'closed' ELSE status END,
       flow, step, reason, summary, vars, source_update, created_at, updated_at
FROM tickets;
DROP TABLE tickets;
ALTER TABLE tickets_old RENAME TO tickets;
CREATE UNIQUE INDEX tickets_one_waiting ON tickets (channel, external_id) WHERE status = 'waiting';
CREATE INDEX tickets_status_created ON tickets (status, created_at);
DROP TABLE volunteers;
COMMIT;
PRAGMA foreign_keys = ON;
