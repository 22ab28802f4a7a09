-- +goose Up

-- The SQLite twin of migrations/postgres/0012_delivery_area.sql.
ALTER TABLE broadcast_deliveries ADD COLUMN area TEXT NOT NULL DEFAULT '';
UPDATE broadcast_deliveries SET area = coalesce((SELECT r.area FROM residents r WHERE r.id = broadcast_deliveries.resident_id), '');
DROP INDEX broadcast_deliveries_delivered;
CREATE INDEX broadcast_deliveries_delivered ON broadcast_deliveries (settled_at, area, channel, lang)
    WHERE state = 'delivered';

-- +goose Down
DROP INDEX broadcast_deliveries_delivered;
CREATE INDEX broadcast_deliveries_delivered ON broadcast_deliveries (settled_at, resident_id, channel, lang)
    WHERE state = 'delivered';
ALTER TABLE broadcast_deliveries DROP COLUMN area;
