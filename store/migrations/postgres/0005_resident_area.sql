-- +goose Up

-- The commune/ward a resident lives in (an area code of GOCUA_AREAS_FILE):
-- chosen when asking for a volunteer or by a QR poster's /start link. Tickets
-- take it for the desk's ward routing; broadcasts may select by it.
ALTER TABLE residents
    ADD COLUMN area            text NOT NULL DEFAULT '',
    ADD COLUMN area_changed_at timestamptz;
CREATE INDEX residents_area ON residents (area) WHERE area <> '';

-- +goose Down
DROP INDEX residents_area;
ALTER TABLE residents DROP COLUMN area, DROP COLUMN area_changed_at;
