-- +goose Up

-- The SQLite twin of migrations/postgres/0004_webchat_media.sql.
CREATE TABLE web_uploads (
    id         TEXT    PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
    visitor_id TEXT    NOT NULL,
    msg_id     TEXT    NOT NULL,
    mime       TEXT    NOT NULL CHECK (mime IN ('image/jpeg', 'image/png', 'image/webp')),
    size       INTEGER NOT NULL CHECK (size > 0 AND size = length(bytes)),
    bytes      BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (visitor_id, msg_id)
) STRICT;
CREATE INDEX web_uploads_created ON web_uploads (created_at);

-- +goose Down
DROP TABLE web_uploads;
