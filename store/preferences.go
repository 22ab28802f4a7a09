package store

import (
	"context"
	"fmt"
	"time"

	"github.com/gocua/gocua/bot"
)

var _ bot.Preferences = (*Postgres)(nil)

const setOptInSQL = `
INSERT INTO residents (channel, external_id, first_seen, last_seen, broadcast_opt_in)
VALUES ($1, $2, $4, $4, $3)
ON CONFLICT (channel, external_id) DO UPDATE SET broadcast_opt_in = EXCLUDED.broadcast_opt_in`

// SetBroadcastOptIn records whether the resident wants reminders and broadcasts.
func (p *Postgres) SetBroadcastOptIn(ctx context.Context, key bot.ConvKey, optIn bool, at time.Time) error {
	if _, err := p.pool.Exec(ctx, setOptInSQL, string(key.Channel), clean(key.ChatID), optIn, at); err != nil {
		return fmt.Errorf("store: set broadcast opt-in: %w", err)
	}
	return nil
}
