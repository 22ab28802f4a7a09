-- +goose Up

-- The SQLite twin of migrations/postgres/0011_dashboard.sql: times are
-- fixed-width UTC TEXT.
CREATE TABLE dashboard_logins (
    hash         TEXT    PRIMARY KEY CHECK (hash <> ''),
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    used_at      TEXT
) STRICT;

CREATE TABLE dashboard_sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hash         TEXT    NOT NULL UNIQUE CHECK (hash <> ''),
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    csrf         TEXT    NOT NULL,
    agent        TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,
    seen_at      TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    revoked_at   TEXT
) STRICT;
CREATE INDEX dashboard_sessions_volunteer ON dashboard_sessions (volunteer_id, created_at);

CREATE TABLE visits (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id),
    area         TEXT    NOT NULL DEFAULT '',
    actions      TEXT    NOT NULL CHECK (json_valid(actions)),
    people       INTEGER NOT NULL CHECK (people BETWEEN 1 AND 500),
    note         TEXT    NOT NULL DEFAULT '',
    at           TEXT    NOT NULL,
    source       TEXT    NOT NULL UNIQUE CHECK (source <> '')
) STRICT;
CREATE INDEX visits_at ON visits (at, area, people);
CREATE INDEX visits_volunteer_at ON visits (volunteer_id, at);

ALTER TABLE flow_events ADD COLUMN lang    TEXT NOT NULL DEFAULT '';
ALTER TABLE flow_events ADD COLUMN area    TEXT NOT NULL DEFAULT '';
ALTER TABLE flow_events ADD COLUMN version TEXT NOT NULL DEFAULT '';
-- SQLite has no INCLUDE: the columns an index covers are trailing keys.
DROP INDEX flow_events_flow_kind_at;
CREATE INDEX flow_events_flow_kind_at ON flow_events (flow, kind, at, channel, external_id, area, lang, version);
CREATE INDEX flow_events_timeline ON flow_events (channel, external_id, at, id, kind, flow, step, update_id, area, lang, version)
    WHERE kind IN ('step_entered', 'flow_completed', 'escalated');
DROP INDEX flow_events_resident_at;
CREATE INDEX flow_events_kind_at ON flow_events (kind, at, area, channel, lang);
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_updated ON tickets (updated_at);
CREATE INDEX broadcast_deliveries_delivered ON broadcast_deliveries (settled_at, resident_id, channel, lang)
    WHERE state = 'delivered';

-- +goose Down
DROP INDEX broadcast_deliveries_delivered;
DROP INDEX tickets_updated;
DROP INDEX tickets_created;
DROP INDEX flow_events_kind_at;
CREATE INDEX flow_events_resident_at ON flow_events (channel, external_id, at);
DROP INDEX flow_events_timeline;
DROP INDEX flow_events_flow_kind_at;
CREATE INDEX flow_events_flow_kind_at ON flow_events (flow, kind, at);
ALTER TABLE flow_events DROP COLUMN version;
ALTER TABLE flow_events DROP COLUMN area;
ALTER TABLE flow_events DROP COLUMN lang;
DROP TABLE visits;
DROP TABLE dashboard_sessions;
DROP TABLE dashboard_logins;
