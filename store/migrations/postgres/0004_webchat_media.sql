-- +goose Up

-- Photos of the web chat: uploaded by a resident, or sent to one by a
-- volunteer (fetched from Telegram). The bytes live here, at most 5 MiB
-- each; id is random and unguessable (it appears in URLs), and only the
-- visitor named may read the upload. (visitor_id, msg_id) makes a retried
-- upload or delivery keep the first copy. Uploads are removed with the
-- transcript (by age) or with the visitor.
CREATE TABLE web_uploads (
    id         text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    visitor_id text        NOT NULL,
    msg_id     text        NOT NULL,
    mime       text        NOT NULL CHECK (mime IN ('image/jpeg', 'image/png', 'image/webp')),
    size       bigint      NOT NULL CHECK (size > 0 AND size = octet_length(bytes)),
    bytes      bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (visitor_id, msg_id)
);
CREATE INDEX web_uploads_created ON web_uploads (created_at);

-- +goose Down
DROP TABLE web_uploads;
