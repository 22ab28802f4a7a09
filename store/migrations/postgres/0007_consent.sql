-- +goose Up

-- Broadcast consent is asked, not assumed: 'unasked' until the resident
-- answers the question the bot asks at their first (or next) contact,
-- 'yes' or 'no' after; /stop sets 'no'. Residents who had said /stop keep
-- 'no'; everyone else is asked again. consent_at orders the changes, so a
-- late re-delivery of an older answer changes nothing.
ALTER TABLE residents
    ADD COLUMN consent    text NOT NULL DEFAULT 'unasked' CHECK (consent IN ('unasked', 'yes', 'no')),
    ADD COLUMN consent_at timestamptz;
UPDATE residents SET consent = 'no' WHERE NOT broadcast_opt_in;
ALTER TABLE residents DROP COLUMN broadcast_opt_in;

-- +goose Down
ALTER TABLE residents ADD COLUMN broadcast_opt_in boolean NOT NULL DEFAULT true;
UPDATE residents SET broadcast_opt_in = false WHERE consent = 'no';
ALTER TABLE residents DROP COLUMN consent, DROP COLUMN consent_at;
