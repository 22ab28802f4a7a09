-- +goose Up

-- The organizer dashboard (bot/dashboard).

-- One-time login links the bot's /dashboard mints: only the SHA-256 of the
-- token (hex). A link is spent by setting used_at, once, before expires_at.
CREATE TABLE dashboard_logins (
    hash         text        PRIMARY KEY CHECK (hash <> ''),
    volunteer_id bigint      NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

-- Signed-in browsers: only the SHA-256 of the cookie (hex). seen_at is the
-- last request (kept to the minute); revoked_at is set by signing out.
CREATE TABLE dashboard_sessions (
    id           bigserial   PRIMARY KEY,
    hash         text        NOT NULL UNIQUE CHECK (hash <> ''),
    volunteer_id bigint      NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    csrf         text        NOT NULL,
    agent        text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    seen_at      timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX dashboard_sessions_volunteer ON dashboard_sessions (volunteer_id, created_at);

-- Field visits (handoff.Visit): in-person help a volunteer logged. source
-- makes logging idempotent ("<chat>:<update id>" or "web:<nonce>").
CREATE TABLE visits (
    id           bigserial   PRIMARY KEY,
    volunteer_id bigint      NOT NULL REFERENCES volunteers (id),
    area         text        NOT NULL DEFAULT '',
    actions      text        NOT NULL, -- JSON array of handoff.VisitActions
    people       integer     NOT NULL CHECK (people BETWEEN 1 AND 500),
    note         text        NOT NULL DEFAULT '',
    at           timestamptz NOT NULL,
    source       text        NOT NULL UNIQUE CHECK (source <> '')
);
CREATE INDEX visits_at ON visits (at) INCLUDE (area, people);
CREATE INDEX visits_volunteer_at ON visits (volunteer_id, at);

-- What an event was recorded under: the resident's language and area and
-- the flow's version, so the funnel filters on them as they were then.
ALTER TABLE flow_events
    ADD COLUMN lang    text NOT NULL DEFAULT '',
    ADD COLUMN area    text NOT NULL DEFAULT '',
    ADD COLUMN version text NOT NULL DEFAULT '';
-- The funnel (store.Dashboard.Funnel) reads, index-only: a flow's visits
-- in a range with their residents and filters (flow_events_flow_kind_at,
-- rebuilt to cover them), then each visitor's timeline in order, id
-- breaking ties of at: moves (steps entered, flows completed) and
-- escalations (flow_events_timeline; it replaces flow_events_resident_at,
-- as the audience's stuck: term reads the same events).
DROP INDEX flow_events_flow_kind_at;
CREATE INDEX flow_events_flow_kind_at ON flow_events (flow, kind, at)
    INCLUDE (channel, external_id, area, lang, version);
CREATE INDEX flow_events_timeline ON flow_events (channel, external_id, at, id)
    INCLUDE (kind, flow, step, update_id, area, lang, version)
    WHERE kind IN ('step_entered', 'flow_completed', 'escalated');
DROP INDEX flow_events_resident_at;
-- The overview's completed flows in a range, by area, channel and language.
CREATE INDEX flow_events_kind_at ON flow_events (kind, at) INCLUDE (area, channel, lang);
-- Tickets in a range (the overview and the exports); the latest change
-- (the live queue's stamp).
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_updated ON tickets (updated_at);
-- Deliveries in a range (the overview's broadcasts sent).
CREATE INDEX broadcast_deliveries_delivered ON broadcast_deliveries (settled_at)
    INCLUDE (resident_id, channel, lang) WHERE state = 'delivered';

-- +goose Down
DROP INDEX broadcast_deliveries_delivered;
DROP INDEX tickets_updated;
DROP INDEX tickets_created;
DROP INDEX flow_events_kind_at;
CREATE INDEX flow_events_resident_at ON flow_events (channel, external_id, at);
DROP INDEX flow_events_timeline;
DROP INDEX flow_events_flow_kind_at;
CREATE INDEX flow_events_flow_kind_at ON flow_events (flow, kind, at);
ALTER TABLE flow_events DROP COLUMN lang, DROP COLUMN area, DROP COLUMN version;
DROP TABLE visits;
DROP TABLE dashboard_sessions;
DROP TABLE dashboard_logins;
