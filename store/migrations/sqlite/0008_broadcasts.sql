-- +goose Up

-- The SQLite twin of migrations/postgres/0008_broadcasts.sql: times are
-- fixed-width UTC TEXT, booleans 0/1. AUTOINCREMENT: a broadcast or run id
-- is never reused, even after a delete.
CREATE TABLE broadcasts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    text             TEXT    NOT NULL CHECK (text <> ''),
    image            TEXT    NOT NULL DEFAULT '',
    buttons          TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(buttons)),
    audience         TEXT    NOT NULL,
    at               TEXT,
    cron             TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL DEFAULT 'active'
                             CHECK (state IN ('active', 'paused', 'done', 'cancelled')),
    missed           INTEGER NOT NULL DEFAULT 0 CHECK (missed IN (0, 1)),
    paid             INTEGER NOT NULL DEFAULT 0 CHECK (paid IN (0, 1)),
    expires_seconds  INTEGER NOT NULL DEFAULT 0 CHECK (expires_seconds >= 0),
    created_by       TEXT    NOT NULL DEFAULT '',
    source           TEXT    NOT NULL DEFAULT '',
    progress_channel TEXT    NOT NULL DEFAULT '',
    progress_chat    TEXT    NOT NULL DEFAULT '',
    progress_msg     TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    CHECK ((at IS NULL) = (cron <> ''))
) STRICT;
CREATE INDEX broadcasts_active ON broadcasts (id) WHERE state = 'active';
CREATE UNIQUE INDEX broadcasts_source ON broadcasts (source) WHERE source <> '';

CREATE TABLE broadcast_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    tick         TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'sending'
                         CHECK (state IN ('sending', 'finished', 'cancelled')),
    total        INTEGER NOT NULL DEFAULT 0,
    started_at   TEXT    NOT NULL,
    finished_at  TEXT,
    UNIQUE (broadcast_id, tick)
) STRICT;
CREATE INDEX broadcast_runs_sending ON broadcast_runs (id) WHERE state = 'sending';

CREATE TABLE broadcast_deliveries (
    run_id      INTEGER NOT NULL REFERENCES broadcast_runs (id) ON DELETE CASCADE,
    resident_id INTEGER NOT NULL,
    channel     TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    lang        TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL
                        CHECK (state IN ('pending', 'sending', 'delivered', 'blocked', 'failed', 'skipped')),
    reason      TEXT    NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT    NOT NULL,
    claimed_at  TEXT,
    claimed_by  TEXT    NOT NULL DEFAULT '',
    settled_at  TEXT,
    tapped_at   TEXT,
    PRIMARY KEY (run_id, resident_id)
) STRICT;
CREATE INDEX broadcast_deliveries_claim ON broadcast_deliveries (run_id, channel, resident_id)
    WHERE state = 'pending';
CREATE INDEX broadcast_deliveries_sending ON broadcast_deliveries (run_id, claimed_at) WHERE state = 'sending';

CREATE INDEX flow_events_resident_at ON flow_events (channel, external_id, at);

-- +goose Down
DROP INDEX flow_events_resident_at;
DROP TABLE broadcast_deliveries;
DROP TABLE broadcast_runs;
DROP TABLE broadcasts;
