-- +goose Up

-- A resident outside volunteer hours may leave their phone number (shared
-- with Telegram's contact button, with consent) to be called back.
ALTER TABLE tickets ADD COLUMN callback_phone text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN callback_phone;
