package store

import (
	"context"
	"fmt"
	"time"

	"github.com/gocua/gocua/bot"
)

// A resident's commune/ward (residents.area, an area code of the areas
// file). Both dialects share the SQL; the newest choice wins, so a late
// re-delivery of an older choice changes nothing.

var (
	_ bot.Residents = (*Postgres)(nil)
	_ bot.Residents = (*SQLite)(nil)
)

// $1 channel, $2 external id, $3 area, $4 at.
const setAreaSQL = `
INSERT INTO residents (channel, external_id, first_seen, last_seen, area, area_changed_at)
VALUES ($1, $2, $4, $4, $3, $4)
ON CONFLICT (channel, external_id) DO UPDATE SET
    area = EXCLUDED.area, area_changed_at = EXCLUDED.area_changed_at
WHERE residents.area_changed_at IS NULL OR residents.area_changed_at <= EXCLUDED.area_changed_at`

// SetResidentArea records the resident's commune/ward ("" forgets it); an
// unknown resident is created.
func (p *Postgres) SetResidentArea(ctx context.Context, key bot.ConvKey, area string, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := p.pool.Exec(ctx, setAreaSQL, string(key.Channel), clean(key.ChatID), clean(area), at); err != nil {
		return fmt.Errorf("store: set area of %s: %w", key, err)
	}
	return nil
}

// SetResidentArea records the resident's commune/ward ("" forgets it); an
// unknown resident is created.
func (s *SQLite) SetResidentArea(ctx context.Context, key bot.ConvKey, area string, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := s.w.ExecContext(ctx, setAreaSQL, string(key.Channel), clean(key.ChatID), clean(area), sqliteTime(at)); err != nil {
		return fmt.Errorf("store: set area of %s: %w", key, err)
	}
	return nil
}
