-- +goose Up

-- The SQLite twin of migrations/postgres/0002_signing_keys.sql.
CREATE TABLE signing_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose    TEXT    NOT NULL,
    secret     BLOB    NOT NULL,
    created_at TEXT    NOT NULL
) STRICT;
CREATE INDEX signing_keys_purpose_created ON signing_keys (purpose, created_at);

-- +goose Down
DROP TABLE signing_keys;
