-- +goose Up

-- Secrets that sign tokens handed to browsers (web chat visitor ids, later
-- dashboard login links). One purpose has several keys: the newest signs,
-- the older ones still verify until they are retired, so a rotation logs
-- nobody out.
CREATE TABLE signing_keys (
    id         bigserial   PRIMARY KEY,
    purpose    text        NOT NULL,
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX signing_keys_purpose_created ON signing_keys (purpose, created_at);

-- +goose Down
DROP TABLE signing_keys;
