package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// The bot.Tokens contract, run against PostgreSQL (a fresh database per
// test) and SQLite (a fresh file per test).

// tokensStore is what both durable stores offer for platform tokens.
type tokensStore interface {
	bot.Tokens
}

// openTestPostgres opens and migrates the database at url, closing it after the test.
func openTestPostgres(t *testing.T, url string) *Postgres {
	t.Helper()
	ctx := context.Background()
	p, err := OpenPostgres(ctx, url, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if err := p.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

func tokenBackends() []struct {
	name string
	open func(t *testing.T) tokensStore
} {
	return []struct {
		name string
		open func(t *testing.T) tokensStore
	}{
		{"postgres", func(t *testing.T) tokensStore { return openTestPostgres(t, freshDatabase(t)) }},
		{"sqlite", func(t *testing.T) tokensStore { return newTestSQLite(t, t.TempDir()+"/gocua.db") }},
	}
}

func TestTokensContract(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s tokensStore)
	}{
		{"Missing", testTokenMissing},
		{"Seed", testTokenSeed},
		{"SeedConcurrent", testTokenSeedConcurrent},
		{"LockSaves", testTokenLockSaves},
		{"LockNoSave", testTokenLockNoSave},
		{"LockError", testTokenLockError},
		{"LockMissing", testTokenLockMissing},
		{"LockPanic", testTokenLockPanic},
		{"LockConcurrent", testTokenLockConcurrent},
	}
	for _, b := range tokenBackends() {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, b.open(t)) })
			}
		})
	}
}

const tokenName = "zalo-oa:123"

var errRefused = errors.New("refresh refused")

func seedA0(t *testing.T, s tokensStore) bot.Token {
	t.Helper()
	got, err := s.SeedToken(context.Background(), tokenName, bot.Token{Access: "a0", Refresh: "r0", Seed: "s0"})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func testTokenMissing(t *testing.T, s tokensStore) {
	if _, err := s.Token(context.Background(), tokenName); !errors.Is(err, bot.ErrNoToken) {
		t.Fatalf("Token of an empty store: err = %v, want ErrNoToken", err)
	}
}

func testTokenSeed(t *testing.T, s tokensStore) {
	ctx := context.Background()
	at := time.Date(2026, 3, 7, 7, 30, 0, 123456000, time.UTC)
	exp := at.Add(time.Hour)
	got, err := s.SeedToken(ctx, tokenName, bot.Token{Access: "a0", Refresh: "r0", Seed: "s0", Expires: exp, Updated: at})
	if err != nil {
		t.Fatal(err)
	}
	want := bot.Token{Access: "a0", Refresh: "r0", Seed: "s0", Expires: exp, Updated: at}
	if !sameToken(got, want) {
		t.Fatalf("first seed = %+v, want %+v", got, want)
	}
	if stored, err := s.Token(ctx, tokenName); err != nil || !sameToken(stored, want) {
		t.Fatalf("Token = %+v, %v; want %+v", stored, err, want)
	}

	// A refresh happened, then the refresh token was refused for good.
	refreshed, err := s.LockToken(ctx, tokenName, func(cur bot.Token) (bot.Token, bool, error) {
		cur.Access, cur.Refresh, cur.Broken = "a1", "r1", "invalid refresh token"
		return cur, true, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The same seed again (a restart): the stored pair stays.
	again, err := s.SeedToken(ctx, tokenName, bot.Token{Access: "a0", Refresh: "r0", Seed: "s0"})
	if err != nil {
		t.Fatal(err)
	}
	if !sameToken(again, refreshed) || again.Broken == "" {
		t.Fatalf("seed with the same Seed = %+v, want the stored %+v", again, refreshed)
	}

	// A new seed (the operator configured a new refresh token): replaced.
	fresh, err := s.SeedToken(ctx, tokenName, bot.Token{Access: "b0", Refresh: "q0", Seed: "s1", Broken: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Access != "b0" || fresh.Refresh != "q0" || fresh.Seed != "s1" || fresh.Broken != "" ||
		!fresh.Expires.IsZero() || fresh.Updated.IsZero() {
		t.Fatalf("seed with a new Seed = %+v, want b0/q0/s1, not broken, no expiry", fresh)
	}
	if stored, err := s.Token(ctx, tokenName); err != nil || !sameToken(stored, fresh) {
		t.Fatalf("Token = %+v, %v; want %+v", stored, err, fresh)
	}
	if _, err := s.SeedToken(ctx, "", bot.Token{Seed: "x"}); err == nil {
		t.Error("SeedToken with an empty name: no error")
	}
}

func testTokenSeedConcurrent(t *testing.T, s tokensStore) {
	const seeders = 8
	got := make([]bot.Token, seeders)
	errs := make([]error, seeders)
	var wg sync.WaitGroup
	for i := range seeders {
		wg.Go(func() {
			got[i], errs[i] = s.SeedToken(context.Background(), tokenName,
				bot.Token{Access: fmt.Sprint("a", i), Refresh: fmt.Sprint("r", i), Seed: "s0"})
		})
	}
	wg.Wait()
	for i := range seeders {
		if errs[i] != nil {
			t.Fatalf("seeder %d: %v", i, errs[i])
		}
		if !sameToken(got[i], got[0]) {
			t.Errorf("seeder %d got %+v, seeder 0 %+v: one seed must win", i, got[i], got[0])
		}
	}
}

func testTokenLockSaves(t *testing.T, s tokensStore) {
	ctx := context.Background()
	seedA0(t, s)
	exp := time.Date(2026, 3, 8, 0, 0, 0, 999000, time.UTC)
	calls := 0
	got, err := s.LockToken(ctx, tokenName, func(cur bot.Token) (bot.Token, bool, error) {
		calls++
		if cur.Access != "a0" || cur.Refresh != "r0" || cur.Seed != "s0" {
			t.Errorf("fn got %+v, want the seeded token", cur)
		}
		// No Seed and no Updated: the stored Seed stays, Updated is now.
		return bot.Token{Access: "a1", Refresh: "r1", Expires: exp}, true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
	if got.Access != "a1" || got.Refresh != "r1" || got.Seed != "s0" || !got.Expires.Equal(exp) ||
		time.Since(got.Updated) > time.Minute {
		t.Errorf("LockToken = %+v, want a1/r1, Seed s0, Expires %v, Updated now", got, exp)
	}
	if stored, err := s.Token(ctx, tokenName); err != nil || !sameToken(stored, got) {
		t.Errorf("Token = %+v, %v; want %+v", stored, err, got)
	}
}

func testTokenLockNoSave(t *testing.T, s tokensStore) {
	ctx := context.Background()
	seeded := seedA0(t, s)
	got, err := s.LockToken(ctx, tokenName, func(cur bot.Token) (bot.Token, bool, error) {
		return bot.Token{Access: "ignored"}, false, nil
	})
	if err != nil || !sameToken(got, seeded) {
		t.Fatalf("LockToken without save = %+v, %v; want %+v", got, err, seeded)
	}
	if stored, err := s.Token(ctx, tokenName); err != nil || !sameToken(stored, seeded) {
		t.Errorf("Token = %+v, %v; want %+v", stored, err, seeded)
	}
}

func testTokenLockError(t *testing.T, s tokensStore) {
	ctx := context.Background()
	seeded := seedA0(t, s)
	_, err := s.LockToken(ctx, tokenName, func(cur bot.Token) (bot.Token, bool, error) {
		return bot.Token{Access: "a1", Refresh: "r1"}, true, errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("LockToken: err = %v, want fn's error", err)
	}
	if stored, err := s.Token(ctx, tokenName); err != nil || !sameToken(stored, seeded) {
		t.Errorf("after fn failed Token = %+v, %v; want %+v", stored, err, seeded)
	}
}

func testTokenLockMissing(t *testing.T, s tokensStore) {
	ctx := context.Background()
	_, err := s.LockToken(ctx, tokenName, func(cur bot.Token) (bot.Token, bool, error) {
		if cur != (bot.Token{}) {
			t.Errorf("fn got %+v for a missing token, want the zero Token", cur)
		}
		return cur, false, nil
	})
	if !errors.Is(err, bot.ErrNoToken) {
		t.Fatalf("LockToken of a missing token without save: err = %v, want ErrNoToken", err)
	}
	if _, err := s.Token(ctx, tokenName); !errors.Is(err, bot.ErrNoToken) {
		t.Fatalf("after LockToken without save: Token err = %v, want ErrNoToken", err)
	}
	if _, err := s.LockToken(ctx, tokenName, func(bot.Token) (bot.Token, bool, error) {
		return bot.Token{Access: "x"}, true, errRefused
	}); !errors.Is(err, errRefused) {
		t.Fatalf("LockToken: err = %v, want fn's error", err)
	}
	if _, err := s.Token(ctx, tokenName); !errors.Is(err, bot.ErrNoToken) {
		t.Fatalf("after fn failed: Token err = %v, want ErrNoToken", err)
	}
	got, err := s.LockToken(ctx, tokenName, func(bot.Token) (bot.Token, bool, error) {
		return bot.Token{Access: "a1", Refresh: "r1", Seed: "s0"}, true, nil
	})
	if err != nil || got.Access != "a1" || got.Refresh != "r1" || got.Seed != "s0" {
		t.Fatalf("LockToken inserting = %+v, %v", got, err)
	}
	if stored, err := s.Token(ctx, tokenName); err != nil || !sameToken(stored, got) {
		t.Errorf("Token = %+v, %v; want %+v", stored, err, got)
	}
}

// testTokenLockPanic: a panicking fn leaves no transaction (nor, on
// SQLite, the writer connection) behind.
func testTokenLockPanic(t *testing.T, s tokensStore) {
	seedA0(t, s)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("fn's panic did not reach the caller")
			}
		}()
		_, _ = s.LockToken(context.Background(), tokenName, func(bot.Token) (bot.Token, bool, error) {
			panic("boom")
		})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.LockToken(ctx, tokenName, func(cur bot.Token) (bot.Token, bool, error) {
		cur.Access = "a1"
		return cur, true, nil
	})
	if err != nil || got.Access != "a1" {
		t.Fatalf("LockToken after a panic = %+v, %v", got, err)
	}
}

func testTokenLockConcurrent(t *testing.T, s tokensStore) {
	seedA0(t, s)
	lockRace(t, []tokensStore{s})
}

// TestTokensTwoReplicas: two processes' stores on one PostgreSQL database
// refresh once between them.
func TestTokensTwoReplicas(t *testing.T) {
	url := freshDatabase(t)
	a := openTestPostgres(t, url)
	b, err := OpenPostgres(context.Background(), url, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	seedA0(t, a)
	lockRace(t, []tokensStore{a, b})
}

// lockRace runs 8 LockTokens at once, spread over stores, each refreshing
// a0 → a1 (slowly) unless it sees a1 already: exactly one may refresh.
func lockRace(t *testing.T, stores []tokensStore) {
	t.Helper()
	const lockers = 8
	var refreshes, inside, overlaps atomic.Int64
	start := make(chan struct{})
	errs := make([]error, lockers)
	got := make([]bot.Token, lockers)
	var wg sync.WaitGroup
	for i := range lockers {
		wg.Go(func() {
			<-start
			got[i], errs[i] = stores[i%len(stores)].LockToken(context.Background(), tokenName,
				func(cur bot.Token) (bot.Token, bool, error) {
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					defer inside.Add(-1)
					if cur.Access == "a0" {
						refreshes.Add(1)
						time.Sleep(20 * time.Millisecond)
						return bot.Token{Access: "a1", Refresh: "r1"}, true, nil
					}
					return cur, false, nil
				})
		})
	}
	close(start)
	wg.Wait()
	for i := range lockers {
		if errs[i] != nil {
			t.Fatalf("locker %d: %v", i, errs[i])
		}
		if got[i].Access != "a1" || got[i].Refresh != "r1" || got[i].Seed != "s0" {
			t.Errorf("locker %d got %+v, want a1/r1 descending from s0", i, got[i])
		}
	}
	if n := refreshes.Load(); n != 1 {
		t.Errorf("fn saw a0 %d times, want exactly one refresh", n)
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("fn ran concurrently %d times, want never", n)
	}
	stored, err := stores[0].Token(context.Background(), tokenName)
	if err != nil || stored.Access != "a1" {
		t.Errorf("Token = %+v, %v; want a1", stored, err)
	}
}

// sameToken compares tokens as stored (times to the microsecond).
func sameToken(a, b bot.Token) bool {
	eq := func(x, y time.Time) bool { return x.Truncate(time.Microsecond).Equal(y.Truncate(time.Microsecond)) }
	return a.Access == b.Access && a.Refresh == b.Refresh && a.Seed == b.Seed && a.Broken == b.Broken &&
		eq(a.Expires, b.Expires) && eq(a.Updated, b.Updated)
}
