package bot

import (
	"context"
	"errors"
	"time"
)

// Token is an OAuth token pair a platform issued (Zalo OA), kept in the
// durable store so every replica uses the same one: the refresh token is
// single-use, so a pair is replaced as a whole, under a lock (Tokens).
type Token struct {
	Access  string
	Refresh string
	Expires time.Time // when Access stops working (zero: unknown, refresh first)
	// Seed is a hash of the configured refresh token the pair descends from:
	// when the operator configures a new one, the stored pair is replaced.
	Seed string
	// Broken says why refreshing failed for good ("" when it did not): the
	// platform refused the refresh token and a person must authorize again.
	Broken  string
	Updated time.Time
}

// Tokens keeps platform tokens by name ("zalo-oa:<app id>"). Implemented
// by the durable stores.
type Tokens interface {
	// Token returns the stored token (ErrNoToken when there is none).
	Token(ctx context.Context, name string) (Token, error)
	// SeedToken stores seed unless a token descending from the same seed
	// (same Seed) is stored already; it returns the token stored now.
	SeedToken(ctx context.Context, name string, seed Token) (Token, error)
	// LockToken calls fn with the stored token while holding a lock every
	// process shares (a row lock), and stores what fn returns when save is
	// true, before the lock is released: two processes never refresh with
	// the same refresh token. It returns the token stored after fn (or fn's
	// error, storing nothing).
	LockToken(ctx context.Context, name string, fn func(cur Token) (next Token, save bool, err error)) (Token, error)
}

// ErrNoToken: no token is stored under that name.
var ErrNoToken = errors.New("bot: no token stored")

// InboxEntry is one inbound update a channel queued durably before
// answering its webhook (Zalo OA must be answered within 2 s), to be handled
// after.
type InboxEntry struct {
	ID    string // the queue's id for the entry
	Data  []byte // what the adapter queued
	Tries int    // how many times it was handed out, this time included
}
