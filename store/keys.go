package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gocua/gocua/bot"
)

// signingSecretBytes is the size of a new signing key.
const signingSecretBytes = 32

// The SQL of SigningKeys, for both dialects: $1 purpose.
const (
	// retireKeysSQL deletes keys created before $2.
	retireKeysSQL = `DELETE FROM signing_keys WHERE purpose = $1 AND created_at < $2`
	// newKeySQL adds key $2 created at $3 unless one created after $4 exists.
	newKeySQL = `
INSERT INTO signing_keys (purpose, secret, created_at)
SELECT $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE purpose = $1 AND created_at > $4)`
	selectKeysSQL = `
SELECT id, secret, created_at FROM signing_keys WHERE purpose = $1 ORDER BY created_at DESC, id DESC`
)

// KeyPolicy says when signing keys of one purpose are rotated and retired.
type KeyPolicy struct {
	Purpose string        // e.g. "webchat-visitor"
	Rotate  time.Duration // a new key is made when the newest is older than this
	Keep    time.Duration // keys older than this are deleted (longer than any token they signed lives)
}

func newSecret() ([]byte, error) {
	b := make([]byte, signingSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("store: signing key: %w", err)
	}
	return b, nil
}

// SigningKeys returns the keys of p.Purpose, newest first, after retiring
// the old ones and making a new one when the newest is older than p.Rotate
// (or none exists). Replicas calling it at once may each make a key; all of
// them verify.
func (pg *Postgres) SigningKeys(ctx context.Context, p KeyPolicy, now time.Time) ([]bot.SigningKey, error) {
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(retireKeysSQL, p.Purpose, now.Add(-p.Keep))
	b.Queue(newKeySQL, p.Purpose, secret, now, now.Add(-p.Rotate))
	br := pg.pool.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, err)
	}
	rows, err := pg.pool.Query(ctx, selectKeysSQL, p.Purpose)
	if err != nil {
		return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bot.SigningKey, error) {
		var k bot.SigningKey
		err := row.Scan(&k.ID, &k.Secret, &k.Created)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, err)
	}
	return keys, nil
}

// SigningKeys returns the keys of p.Purpose, newest first; see
// [Postgres.SigningKeys].
func (s *SQLite) SigningKeys(ctx context.Context, p KeyPolicy, now time.Time) ([]bot.SigningKey, error) {
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, retireKeysSQL, p.Purpose, sqliteTime(now.Add(-p.Keep))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, newKeySQL, p.Purpose, secret, sqliteTime(now), sqliteTime(now.Add(-p.Rotate)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, err)
	}
	rows, err := s.r.QueryContext(ctx, selectKeysSQL, p.Purpose)
	if err != nil {
		return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, err)
	}
	defer rows.Close()
	var keys []bot.SigningKey
	var ts storedTimes
	for rows.Next() {
		var k bot.SigningKey
		var created string
		if err := rows.Scan(&k.ID, &k.Secret, &created); err != nil {
			return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, err)
		}
		k.Created = ts.parse(created)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, err)
	}
	if ts.err != nil {
		return nil, fmt.Errorf("store: signing keys %s: %w", p.Purpose, ts.err)
	}
	return keys, nil
}
