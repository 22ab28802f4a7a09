-- +goose Up

-- Personal reminders ("Nhắc tôi sau"): a resident asked a flow step to
-- remind them later. Scheduled until due, then claimed by one process
-- (sending, claimed_at/by) and sent, or cancelled before. A resident's
-- identity is copied (no foreign key), as in broadcast_deliveries.
-- UNIQUE (channel, external_id, source_update): a re-delivered update
-- schedules nothing twice.
CREATE TABLE reminders (
    id            bigserial   PRIMARY KEY,
    channel       text        NOT NULL,
    external_id   text        NOT NULL,
    lang          text        NOT NULL DEFAULT '',
    flow          text        NOT NULL CHECK (flow <> ''),
    step          text        NOT NULL DEFAULT '', -- '' = the flow's start
    due           timestamptz NOT NULL,
    state         text        NOT NULL DEFAULT 'scheduled'
                              CHECK (state IN ('scheduled', 'sending', 'sent', 'cancelled')),
    source_update text        NOT NULL CHECK (source_update <> ''),
    created_at    timestamptz NOT NULL,
    claimed_at    timestamptz,
    claimed_by    text        NOT NULL DEFAULT '',
    sent_at       timestamptz,
    cancelled_at  timestamptz,
    UNIQUE (channel, external_id, source_update)
);
-- Due reminders in claim order; settled rows (the bulk) leave the index.
CREATE INDEX reminders_due ON reminders (due, id) WHERE state = 'scheduled';
-- Claimed rows: rescuing those of a process that died.
CREATE INDEX reminders_sending ON reminders (claimed_at) WHERE state = 'sending';

-- +goose Down
DROP TABLE reminders;
