-- +goose Up

-- The SQLite twin of migrations/postgres/0006_ticket_callback.sql.
ALTER TABLE tickets ADD COLUMN callback_phone TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN callback_phone;
