-- +goose Up

-- Volunteers and organizers: one row per platform identity. chat_id is the
-- private chat the bot talks to them in (on Telegram, their user id).
CREATE TABLE volunteers (
    id          bigserial   PRIMARY KEY,
    channel     text        NOT NULL,
    external_id text        NOT NULL,
    chat_id     text        NOT NULL,
    name        text        NOT NULL DEFAULT '',
    role        text        NOT NULL DEFAULT 'volunteer' CHECK (role IN ('volunteer', 'organizer')),
    status      text        NOT NULL DEFAULT 'applied'
                            CHECK (status IN ('applied', 'approved', 'suspended', 'rejected')),
    areas       text        NOT NULL DEFAULT '[]', -- JSON array of area codes; [] = any
    skills      text        NOT NULL DEFAULT '[]', -- JSON array of skills
    capacity    integer     NOT NULL DEFAULT 3 CHECK (capacity BETWEEN 1 AND 50),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (channel, external_id)
);

-- Ticket states: waiting → assigned → resolved | cancelled | abandoned
-- (assigned → waiting again on a release). The first two states were
-- called open and closed before.
ALTER TABLE tickets DROP CONSTRAINT tickets_status_check;
UPDATE tickets SET status = 'assigned' WHERE status = 'open';
UPDATE tickets SET status = 'resolved' WHERE status = 'closed';
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check
    CHECK (status IN ('waiting', 'assigned', 'resolved', 'cancelled', 'abandoned'));
ALTER TABLE tickets
    ADD COLUMN volunteer_id      bigint REFERENCES volunteers (id),
    ADD COLUMN area              text        NOT NULL DEFAULT '',
    ADD COLUMN topic             text        NOT NULL DEFAULT '',
    ADD COLUMN lang              text        NOT NULL DEFAULT '',
    ADD COLUMN assigned_at       timestamptz,
    ADD COLUMN closed_at         timestamptz,
    ADD COLUMN volunteer_said_at timestamptz, -- the assigned volunteer's last message
    ADD COLUMN resident_said_at  timestamptz, -- the resident's last message
    ADD COLUMN reminded_at       timestamptz, -- the unclaimed reminder went out
    ADD COLUMN card_id           text        NOT NULL DEFAULT '', -- the group card's message id
    ADD COLUMN card_text         text        NOT NULL DEFAULT '', -- what the card shows
    ADD COLUMN category          text        NOT NULL DEFAULT '', -- how it was resolved
    ADD COLUMN rating            integer CHECK (rating BETWEEN 1 AND 5),
    ADD COLUMN rating_comment    text        NOT NULL DEFAULT '',
    ADD COLUMN rated_at          timestamptz;
CREATE INDEX tickets_volunteer_status ON tickets (volunteer_id, status);

-- Every state change of a ticket: who, when, from what to what.
CREATE TABLE ticket_audit (
    id          bigserial   PRIMARY KEY,
    ticket_id   bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    from_status text        NOT NULL,
    to_status   text        NOT NULL,
    actor       text        NOT NULL, -- "resident", "volunteer:<id>", "system"
    note        text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX ticket_audit_ticket ON ticket_audit (ticket_id, id);

-- +goose Down
DROP TABLE ticket_audit;
DROP INDEX tickets_volunteer_status;
ALTER TABLE tickets
    DROP COLUMN volunteer_id, DROP COLUMN area, DROP COLUMN topic, DROP COLUMN lang,
    DROP COLUMN assigned_at, DROP COLUMN closed_at, DROP COLUMN volunteer_said_at,
    DROP COLUMN resident_said_at, DROP COLUMN reminded_at, DROP COLUMN card_id,
    DROP COLUMN card_text, DROP COLUMN category, DROP COLUMN rating,
    DROP COLUMN rating_comment, DROP COLUMN rated_at;
ALTER TABLE tickets DROP CONSTRAINT tickets_status_check;
UPDATE tickets SET status = 'open' WHERE status = 'assigned';
UPDATE tickets SET status = 'closed' WHERE status IN ('resolved', 'abandoned');
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check
    CHECK (status IN ('waiting', 'open', 'closed', 'cancelled'));
DROP TABLE volunteers;
