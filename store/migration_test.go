package store

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/gocua/gocua/bot"
)

// oldStore is a store at an old schema version, with what is needed to
// fill it and then migrate it to the latest.
type oldStore struct {
	db      *sql.DB
	at      func(time.Time) any // a time as the dialect stores it
	migrate func(ctx context.Context) error
	records recordsStore
}

// oldStores opens an empty store of each dialect at schema version v.
func oldStores(t *testing.T, v int64) map[string]oldStore {
	ctx := context.Background()
	out := map[string]oldStore{}
	up := func(db *sql.DB, dialect goose.Dialect, dir string) {
		t.Helper()
		fsys, err := fs.Sub(migrationFiles, dir)
		if err != nil {
			t.Fatal(err)
		}
		prov, err := goose.NewProvider(dialect, db, fsys, goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prov.UpTo(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenSQLite(ctx, t.TempDir()+"/old.db", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	up(s.w, goose.DialectSQLite3, "migrations/sqlite")
	out["sqlite"] = oldStore{s.w, func(t time.Time) any { return sqliteTime(t) }, s.Migrate, s}
	p, err := OpenPostgres(ctx, freshDatabase(t), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	up(p.db, goose.DialectPostgres, "migrations/postgres")
	out["postgres"] = oldStore{p.db, func(t time.Time) any { return t }, p.Migrate, p}
	return out
}

// TestConsentMigration: residents from before consent was asked (version 6,
// broadcast_opt_in true by default) are "not asked" after migration 7, and
// those who had sent /stop (opt-in false) keep their no. On both stores.
func TestConsentMigration(t *testing.T) {
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for name, s := range oldStores(t, 6) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for _, r := range []struct {
				id    string
				optIn bool
			}{{"1", true}, {"2", false}} {
				if _, err := s.db.ExecContext(ctx, `INSERT INTO residents (channel, external_id, first_seen, last_seen, broadcast_opt_in)
VALUES ('telegram', $1, $2, $2, $3)`, r.id, s.at(at), r.optIn); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]bot.Consent{"1": bot.ConsentUnasked, "2": bot.ConsentNo} {
				r, err := s.records.Resident(ctx, bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: id})
				if err != nil || r.Consent != want {
					t.Errorf("resident %s: consent %q, %v; want %q", id, r.Consent, err, want)
				}
			}
		})
	}
}

// TestDeliveryAreaMigration: deliveries made before migration 12 take their
// resident's area (none if the resident has none or is gone).
func TestDeliveryAreaMigration(t *testing.T) {
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for name, s := range oldStores(t, 11) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for _, q := range []string{
				`INSERT INTO residents (id, channel, external_id, first_seen, last_seen, area) VALUES
    (1, 'telegram', '1', $1, $1, 'p_a'), (2, 'telegram', '2', $1, $1, '')`,
				`INSERT INTO broadcasts (id, text, audience, at, created_at, updated_at) VALUES (1, 'x', 'all', $1, $1, $1)`,
				`INSERT INTO broadcast_runs (id, broadcast_id, tick, started_at) VALUES (1, 1, $1, $1)`,
				`INSERT INTO broadcast_deliveries (run_id, resident_id, channel, external_id, lang, state, next_at, settled_at) VALUES
    (1, 1, 'telegram', '1', 'vi', 'delivered', $1, $1), (1, 2, 'telegram', '2', 'vi', 'delivered', $1, $1),
    (1, 3, 'telegram', '3', 'vi', 'delivered', $1, $1)`,
			} {
				if _, err := s.db.ExecContext(ctx, q, s.at(at)); err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
			}
			if err := s.migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for id, want := range map[int64]string{1: "p_a", 2: "", 3: ""} {
				var area string
				err := s.db.QueryRowContext(ctx, `SELECT area FROM broadcast_deliveries WHERE resident_id = $1`, id).Scan(&area)
				if err != nil || area != want {
					t.Errorf("delivery to resident %d: area %q, %v; want %q", id, area, err, want)
				}
			}
		})
	}
}
