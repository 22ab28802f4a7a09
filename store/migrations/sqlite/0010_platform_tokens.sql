-- +goose Up

-- The SQLite twin of migrations/postgres/0010_platform_tokens.sql: times are
-- fixed-width UTC TEXT. A refresh holds the database's write lock (BEGIN
-- IMMEDIATE) instead of a row lock.
CREATE TABLE platform_tokens (
    name       TEXT PRIMARY KEY CHECK (name <> ''),
    access     TEXT NOT NULL DEFAULT '',
    refresh    TEXT NOT NULL DEFAULT '',
    expires_at TEXT,
    seed       TEXT NOT NULL DEFAULT '',
    broken     TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE platform_tokens;
