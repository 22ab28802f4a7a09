-- +goose Up

-- A broadcast delivery keeps the area its resident had when the run
-- started: the overview counts broadcasts sent per area from the
-- deliveries alone (an index-only scan), and a resident who moves later
-- does not move their past messages. Deliveries made before this migration
-- take their resident's area of now, the best there is.
ALTER TABLE broadcast_deliveries ADD COLUMN area text NOT NULL DEFAULT '';
UPDATE broadcast_deliveries bd SET area = r.area FROM residents r WHERE r.id = bd.resident_id AND r.area <> '';
DROP INDEX broadcast_deliveries_delivered;
CREATE INDEX broadcast_deliveries_delivered ON broadcast_deliveries (settled_at)
    INCLUDE (area, channel, lang) WHERE state = 'delivered';

-- +goose Down
DROP INDEX broadcast_deliveries_delivered;
CREATE INDEX broadcast_deliveries_delivered ON broadcast_deliveries (settled_at)
    INCLUDE (resident_id, channel, lang) WHERE state = 'delivered';
ALTER TABLE broadcast_deliveries DROP COLUMN area;
