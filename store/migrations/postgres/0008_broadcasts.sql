-- +goose Up

-- Broadcasts: an organizer's announcement (text, optional image and flow
-- buttons), its audience (the canonical expression, recompiled at each run)
-- and when it goes out: once at `at`, or on the `cron` schedule. Exactly one
-- of the two is set.
CREATE TABLE broadcasts (
    id               bigserial   PRIMARY KEY,
    text             text        NOT NULL CHECK (text <> ''),
    image            text        NOT NULL DEFAULT '', -- '' for none
    buttons          text        NOT NULL DEFAULT '[]', -- JSON: [{"label","flow","step"}]
    audience         text        NOT NULL,
    at               timestamptz, -- a one-off broadcast's time
    cron             text        NOT NULL DEFAULT '', -- a recurring one's schedule
    state            text        NOT NULL DEFAULT 'active'
                                 CHECK (state IN ('active', 'paused', 'done', 'cancelled')),
    missed           boolean     NOT NULL DEFAULT false,
    paid             boolean     NOT NULL DEFAULT false,
    expires_seconds  integer     NOT NULL DEFAULT 0 CHECK (expires_seconds >= 0), -- 0: never
    created_by       text        NOT NULL DEFAULT '',
    source           text        NOT NULL DEFAULT '', -- what made it, once: a chat's confirming update
    progress_channel text        NOT NULL DEFAULT '',
    progress_chat    text        NOT NULL DEFAULT '',
    progress_msg     text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((at IS NULL) = (cron <> ''))
);
CREATE INDEX broadcasts_active ON broadcasts (id) WHERE state = 'active';
CREATE UNIQUE INDEX broadcasts_source ON broadcasts (source) WHERE source <> '';

-- One sending of a broadcast: the one of a one-off broadcast, or one cron
-- tick of a recurring one. UNIQUE (broadcast_id, tick) makes a tick fire
-- once across replicas.
CREATE TABLE broadcast_runs (
    id           bigserial   PRIMARY KEY,
    broadcast_id bigint      NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    tick         timestamptz NOT NULL,
    state        text        NOT NULL DEFAULT 'sending'
                             CHECK (state IN ('sending', 'finished', 'cancelled')),
    total        integer     NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    UNIQUE (broadcast_id, tick)
);
CREATE INDEX broadcast_runs_sending ON broadcast_runs (id) WHERE state = 'sending';

-- The per-recipient ledger of a run, fixed when the run starts: every
-- resident the audience matched, pending or skipped with a reason. A
-- resident's identity is copied (no foreign key): a run's report keeps
-- adding up whatever happens to the resident later.
CREATE TABLE broadcast_deliveries (
    run_id      bigint      NOT NULL REFERENCES broadcast_runs (id) ON DELETE CASCADE,
    resident_id bigint      NOT NULL,
    channel     text        NOT NULL,
    external_id text        NOT NULL,
    lang        text        NOT NULL DEFAULT '',
    state       text        NOT NULL
                            CHECK (state IN ('pending', 'sending', 'delivered', 'blocked', 'failed', 'skipped')),
    reason      text        NOT NULL DEFAULT '',
    attempts    integer     NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL, -- pending: not before
    claimed_at  timestamptz,
    claimed_by  text        NOT NULL DEFAULT '',
    settled_at  timestamptz, -- when it left pending/sending
    tapped_at   timestamptz, -- the first tap on one of its buttons
    PRIMARY KEY (run_id, resident_id)
);
-- A run's pending rows of a channel in claim order (resident): a claim reads
-- n index entries instead of sorting every due row; expiring and cancelling
-- a run find its pending rows here too.
CREATE INDEX broadcast_deliveries_claim ON broadcast_deliveries (run_id, channel, resident_id)
    WHERE state = 'pending';
-- Claimed rows: rescuing those of a worker that died. A run is finished
-- when neither partial index has a row of it; both stay small, as settled
-- rows (the bulk of the table) leave them.
CREATE INDEX broadcast_deliveries_sending ON broadcast_deliveries (run_id, claimed_at) WHERE state = 'sending';

-- A resident's events in order, for the audience's stuck: term.
CREATE INDEX flow_events_resident_at ON flow_events (channel, external_id, at);

-- +goose Down
DROP INDEX flow_events_resident_at;
DROP TABLE broadcast_deliveries;
DROP TABLE broadcast_runs;
DROP TABLE broadcasts;
