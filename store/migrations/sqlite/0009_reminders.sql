-- +goose Up

-- The SQLite twin of migrations/postgres/0009_reminders.sql: times are
-- fixed-width UTC TEXT. AUTOINCREMENT: a reminder id (carried by its cancel
-- button) is never reused, even after a delete.
CREATE TABLE reminders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    channel       TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    lang          TEXT    NOT NULL DEFAULT '',
    flow          TEXT    NOT NULL CHECK (flow <> ''),
    step          TEXT    NOT NULL DEFAULT '',
    due           TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'scheduled'
                          CHECK (state IN ('scheduled', 'sending', 'sent', 'cancelled')),
    source_update TEXT    NOT NULL CHECK (source_update <> ''),
    created_at    TEXT    NOT NULL,
    claimed_at    TEXT,
    claimed_by    TEXT    NOT NULL DEFAULT '',
    sent_at       TEXT,
    cancelled_at  TEXT,
    UNIQUE (channel, external_id, source_update)
) STRICT;
CREATE INDEX reminders_due ON reminders (due, id) WHERE state = 'scheduled';
CREATE INDEX reminders_sending ON reminders (claimed_at) WHERE state = 'sending';

-- +goose Down
DROP TABLE reminders;
