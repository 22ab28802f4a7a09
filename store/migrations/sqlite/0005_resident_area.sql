-- +goose Up

-- The SQLite twin of migrations/postgres/0005_resident_area.sql.
ALTER TABLE residents ADD COLUMN area TEXT NOT NULL DEFAULT '';
ALTER TABLE residents ADD COLUMN area_changed_at TEXT;
CREATE INDEX residents_area ON residents (area) WHERE area <> '';

-- +goose Down
DROP INDEX residents_area;
ALTER TABLE residents DROP COLUMN area_changed_at;
ALTER TABLE residents DROP COLUMN area;
