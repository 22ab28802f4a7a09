package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gocua/gocua/bot"
)

// Platform tokens (table platform_tokens): the bot.Tokens port, as methods
// of both durable stores, so every replica uses the same OAuth pair (Zalo
// OA's refresh token is single-use: a pair is replaced as a whole). Like
// [Desk] and [RemindersQueue], both dialects share the SQL and differ in
// how times are stored and in locking:
//
//   - PostgreSQL: LockToken holds the row with SELECT … FOR UPDATE in a
//     transaction, so replicas (and goroutines) take turns;
//   - SQLite: LockToken runs in a write transaction begun with BEGIN
//     IMMEDIATE (the writer connection's _txlock) on the single writer
//     connection: it holds the database's write lock from the start, so
//     goroutines of this process, and any other process on the same file,
//     take turns. Meanwhile the store's other writes wait: fn should be
//     quick (one HTTP call, bounded by ctx).
//
// Text is stored clean (see clean), so both dialects keep the same strings.

var (
	_ bot.Tokens = (*Postgres)(nil)
	_ bot.Tokens = (*SQLite)(nil)
)

// tokenStore is the platform tokens kept in one database.
type tokenStore struct {
	r, w      *sql.DB // readers and the writer (one *sql.DB on PostgreSQL)
	sqlite    bool
	forUpdate string // the row lock LockToken's select takes ("" on SQLite)
}

func (p *Postgres) tokens() tokenStore {
	return tokenStore{r: p.db, w: p.db, forUpdate: " FOR UPDATE"}
}

func (s *SQLite) tokens() tokenStore { return tokenStore{r: s.r, w: s.w, sqlite: true} }

func (q tokenStore) at(t time.Time) any { return dialectTime(q.sqlite, t) }

// expires is how Token.Expires is stored: NULL when unknown (zero).
func (q tokenStore) expires(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return q.at(t)
}

// Token returns the token stored under name, or an error wrapping
// bot.ErrNoToken when there is none.
func (p *Postgres) Token(ctx context.Context, name string) (bot.Token, error) {
	return p.tokens().token(ctx, name)
}

// Token returns the token stored under name, or an error wrapping
// bot.ErrNoToken when there is none.
func (s *SQLite) Token(ctx context.Context, name string) (bot.Token, error) {
	return s.tokens().token(ctx, name)
}

// SeedToken stores seed under name when no token is stored there, or when
// the stored one descends from another seed (its Seed differs from
// seed.Seed: the operator configured a new refresh token), replacing the
// pair and clearing Broken; otherwise it leaves the stored token as it is.
// It returns the token stored now. seed.Broken is ignored (a seed is not
// broken); a zero seed.Updated is now. Processes seeding at once are safe:
// one statement decides (INSERT … ON CONFLICT DO UPDATE … WHERE).
func (p *Postgres) SeedToken(ctx context.Context, name string, seed bot.Token) (bot.Token, error) {
	return p.tokens().seed(ctx, name, seed)
}

// SeedToken stores seed under name unless a token descending from the
// same seed is stored; see [Postgres.SeedToken].
func (s *SQLite) SeedToken(ctx context.Context, name string, seed bot.Token) (bot.Token, error) {
	return s.tokens().seed(ctx, name, seed)
}

// LockToken calls fn with the token stored under name while holding its
// row lock (SELECT … FOR UPDATE), so replicas and goroutines calling it at
// once take turns and each sees what the one before stored. When save is
// true it stores next and commits before returning; a next without Seed
// keeps the stored Seed (a refreshed pair descends from the same seed) and
// a zero next.Updated is now. It returns the token stored after fn.
//
// When no token is stored under name, fn is called with the zero Token
// (the name is locked meanwhile too) and next is inserted if save; if not,
// nothing is stored and the error wraps bot.ErrNoToken.
//
// When fn fails, nothing is stored and LockToken returns an error wrapping
// fn's. fn must not write through this store.
func (p *Postgres) LockToken(ctx context.Context, name string, fn func(cur bot.Token) (next bot.Token, save bool, err error)) (bot.Token, error) {
	return p.tokens().lock(ctx, name, fn)
}

// LockToken calls fn with the token stored under name while holding the
// database's write lock (BEGIN IMMEDIATE on the single writer connection)
// and stores what it returns when save is true; see [Postgres.LockToken]
// for the rest of the contract. The store's other writes wait until fn
// returns; fn must not write through this store (it would wait for
// itself).
func (s *SQLite) LockToken(ctx context.Context, name string, fn func(cur bot.Token) (next bot.Token, save bool, err error)) (bot.Token, error) {
	return s.tokens().lock(ctx, name, fn)
}

// The SQL of Tokens, for both dialects: $1 name.
const (
	tokenCols      = `access, refresh, expires_at, seed, broken, updated_at`
	selectTokenSQL = `SELECT ` + tokenCols + ` FROM platform_tokens WHERE name = $1`

	// seedTokenSQL: $2 access, $3 refresh, $4 expires, $5 seed, $6 updated.
	seedTokenSQL = `
INSERT INTO platform_tokens (name, access, refresh, expires_at, seed, broken, updated_at)
VALUES ($1, $2, $3, $4, $5, '', $6)
ON CONFLICT (name) DO UPDATE SET
    access = excluded.access, refresh = excluded.refresh, expires_at = excluded.expires_at,
    seed = excluded.seed, broken = '', updated_at = excluded.updated_at
WHERE platform_tokens.seed <> excluded.seed`

	// placeTokenSQL makes sure the row to lock exists, inserting an empty
	// one ($2 updated) that LockToken rolls back unless fn saves: two
	// lockers of a new name take turns on the primary key.
	placeTokenSQL = `
INSERT INTO platform_tokens (name, updated_at) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING`

	// saveTokenSQL: $2 access, $3 refresh, $4 expires, $5 seed, $6 broken,
	// $7 updated.
	saveTokenSQL = `
UPDATE platform_tokens
SET access = $2, refresh = $3, expires_at = $4, seed = $5, broken = $6, updated_at = $7
WHERE name = $1
RETURNING ` + tokenCols
)

func scanToken(row rowScanner) (bot.Token, error) {
	var t bot.Token
	var expires, updated dbTime
	if err := row.Scan(&t.Access, &t.Refresh, &expires, &t.Seed, &t.Broken, &updated); err != nil {
		return bot.Token{}, err
	}
	t.Expires, t.Updated = expires.t, updated.t
	return t, nil
}

// noToken maps sql.ErrNoRows to bot.ErrNoToken.
func noToken(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return bot.ErrNoToken
	}
	return err
}

func (q tokenStore) token(ctx context.Context, name string) (bot.Token, error) {
	t, err := scanToken(q.r.QueryRowContext(ctx, selectTokenSQL, clean(name)))
	if err != nil {
		return bot.Token{}, fmt.Errorf("store: token %s: %w", name, noToken(err))
	}
	return t, nil
}

func (q tokenStore) seed(ctx context.Context, name string, seed bot.Token) (bot.Token, error) {
	name = clean(name)
	if name == "" {
		return bot.Token{}, errors.New("store: seed token: empty name")
	}
	var t bot.Token
	err := inTx(ctx, q.w, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, seedTokenSQL, name, clean(seed.Access), clean(seed.Refresh),
			q.expires(seed.Expires), clean(seed.Seed), q.at(orNow(seed.Updated)))
		if err != nil {
			return err
		}
		t, err = scanToken(tx.QueryRowContext(ctx, selectTokenSQL, name))
		return err
	})
	if err != nil {
		return bot.Token{}, fmt.Errorf("store: seed token %s: %w", name, err)
	}
	return t, nil
}

func (q tokenStore) lock(ctx context.Context, name string, fn func(bot.Token) (bot.Token, bool, error)) (bot.Token, error) {
	name = clean(name)
	fail := func(err error) (bot.Token, error) {
		return bot.Token{}, fmt.Errorf("store: lock token %s: %w", name, err)
	}
	switch {
	case name == "":
		return fail(errors.New("empty name"))
	case fn == nil:
		return fail(errors.New("no function"))
	}
	tx, err := q.w.BeginTx(ctx, nil)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	// Undoes everything unless committed, also when fn panics; after Commit
	// it does nothing.
	defer func() { _ = tx.Rollback() }()

	res, err := tx.ExecContext(ctx, placeTokenSQL, name, q.at(time.Now()))
	var placed int64
	if err == nil {
		placed, err = res.RowsAffected()
	}
	if err != nil {
		return fail(err)
	}
	cur, err := scanToken(tx.QueryRowContext(ctx, selectTokenSQL+q.forUpdate, name))
	if err != nil {
		return fail(err)
	}
	if placed == 1 {
		cur = bot.Token{} // none stored: the row is this transaction's placeholder
	}
	next, save, err := fn(cur)
	switch {
	case err != nil:
		return fail(err)
	case !save && placed == 1:
		return fail(bot.ErrNoToken)
	case !save:
		return cur, nil
	}
	if next.Seed == "" {
		next.Seed = cur.Seed
	}
	stored, err := scanToken(tx.QueryRowContext(ctx, saveTokenSQL, name, clean(next.Access), clean(next.Refresh),
		q.expires(next.Expires), clean(next.Seed), clean(next.Broken), q.at(orNow(next.Updated))))
	if err != nil {
		return fail(fmt.Errorf("save: %w", err))
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return stored, nil
}
