package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gocua/gocua/bot"
)

// A resident's consent to broadcasts and reminders (residents.consent) and
// the profile a new conversation starts from. Both dialects share the SQL;
// the newest answer wins, so a late re-delivery of an older one changes
// nothing.

var (
	_ bot.Preferences = (*Postgres)(nil)
	_ bot.Preferences = (*SQLite)(nil)
)

// $1 channel, $2 external id, $3 consent, $4 at.
const setConsentSQL = `
INSERT INTO residents (channel, external_id, first_seen, last_seen, consent, consent_at)
VALUES ($1, $2, $4, $4, $3, $4)
ON CONFLICT (channel, external_id) DO UPDATE SET
    consent = EXCLUDED.consent, consent_at = EXCLUDED.consent_at
WHERE residents.consent_at IS NULL OR residents.consent_at <= EXCLUDED.consent_at`

const selectProfileSQL = `SELECT area, consent FROM residents WHERE channel = $1 AND external_id = $2`

func checkConsent(c bot.Consent) error {
	if !c.Known() {
		return fmt.Errorf("store: consent %q is not unasked, yes or no", c)
	}
	return nil
}

// SetConsent records whether the resident wants broadcasts and reminders;
// an unknown resident is created.
func (p *Postgres) SetConsent(ctx context.Context, key bot.ConvKey, c bot.Consent, at time.Time) error {
	if err := checkConsent(c); err != nil {
		return err
	}
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := p.pool.Exec(ctx, setConsentSQL, string(key.Channel), clean(key.ChatID), string(c), at); err != nil {
		return fmt.Errorf("store: set consent of %s: %w", key, err)
	}
	return nil
}

// ResidentProfile returns the resident's area and consent (the zero
// profile, consent unasked, for an unknown resident).
func (p *Postgres) ResidentProfile(ctx context.Context, key bot.ConvKey) (bot.Profile, error) {
	pr := bot.Profile{Consent: bot.ConsentUnasked}
	err := p.pool.QueryRow(ctx, selectProfileSQL, string(key.Channel), clean(key.ChatID)).Scan(&pr.Area, &pr.Consent)
	if err != nil && !errors.Is(notFound(err), ErrNotFound) {
		return bot.Profile{}, fmt.Errorf("store: profile of %s: %w", key, err)
	}
	return pr, nil
}

// SetConsent records whether the resident wants broadcasts and reminders;
// an unknown resident is created.
func (s *SQLite) SetConsent(ctx context.Context, key bot.ConvKey, c bot.Consent, at time.Time) error {
	if err := checkConsent(c); err != nil {
		return err
	}
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := s.w.ExecContext(ctx, setConsentSQL, string(key.Channel), clean(key.ChatID), string(c), sqliteTime(at)); err != nil {
		return fmt.Errorf("store: set consent of %s: %w", key, err)
	}
	return nil
}

// ResidentProfile returns the resident's area and consent (the zero
// profile, consent unasked, for an unknown resident).
func (s *SQLite) ResidentProfile(ctx context.Context, key bot.ConvKey) (bot.Profile, error) {
	pr := bot.Profile{Consent: bot.ConsentUnasked}
	err := s.r.QueryRowContext(ctx, selectProfileSQL, string(key.Channel), clean(key.ChatID)).Scan(&pr.Area, &pr.Consent)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return bot.Profile{}, fmt.Errorf("store: profile of %s: %w", key, err)
	}
	return pr, nil
}
