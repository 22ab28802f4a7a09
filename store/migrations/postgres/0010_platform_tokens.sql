-- +goose Up

-- OAuth token pairs a platform issued (Zalo OA), by name
-- ("zalo-oa:<app id>"), shared by every replica. The refresh token is
-- single-use: a refresh replaces the pair as a whole while holding the row
-- lock (SELECT … FOR UPDATE), so two replicas never spend the same one.
-- seed is a hash of the configured refresh token the pair descends from: a
-- new one configured by the operator replaces the pair. broken says why
-- refreshing failed for good ('' when it did not).
CREATE TABLE platform_tokens (
    name       text        PRIMARY KEY CHECK (name <> ''),
    access     text        NOT NULL DEFAULT '',
    refresh    text        NOT NULL DEFAULT '',
    expires_at timestamptz,                     -- NULL: unknown, refresh first
    seed       text        NOT NULL DEFAULT '',
    broken     text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE platform_tokens;
