package store

import (
	"context"
	"database/sql"
	"errors"
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

const selectAreaSQL = `SELECT area FROM residents WHERE channel = $1 AND external_id = $2`

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

// ResidentArea returns the resident's commune/ward, "" when not known (or
// the resident is not).
func (p *Postgres) ResidentArea(ctx context.Context, key bot.ConvKey) (string, error) {
	var area string
	err := p.pool.QueryRow(ctx, selectAreaSQL, string(key.Channel), clean(key.ChatID)).Scan(&area)
	if err != nil && !errors.Is(notFound(err), ErrNotFound) {
		return "", fmt.Errorf("store: area of %s: %w", key, err)
	}
	return area, nil
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

// ResidentArea returns the resident's commune/ward, "" when not known.
func (s *SQLite) ResidentArea(ctx context.Context, key bot.ConvKey) (string, error) {
	var area string
	err := s.r.QueryRowContext(ctx, selectAreaSQL, string(key.Channel), clean(key.ChatID)).Scan(&area)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: area of %s: %w", key, err)
	}
	return area, nil
}
