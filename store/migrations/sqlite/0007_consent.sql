-- +goose Up

-- The SQLite twin of migrations/postgres/0007_consent.sql.
ALTER TABLE residents ADD COLUMN consent TEXT NOT NULL DEFAULT 'unasked' CHECK (consent IN ('unasked', 'yes', 'no'));
ALTER TABLE residents ADD COLUMN consent_at TEXT;
UPDATE residents SET consent = 'no' WHERE broadcast_opt_in = 0;
ALTER TABLE residents DROP COLUMN broadcast_opt_in;

-- +goose Down
ALTER TABLE residents ADD COLUMN broadcast_opt_in INTEGER NOT NULL DEFAULT 1 CHECK (broadcast_opt_in IN (0, 1));
UPDATE residents SET broadcast_opt_in = 0 WHERE consent = 'no';
ALTER TABLE residents DROP COLUMN consent_at;
ALTER TABLE residents DROP COLUMN consent;
