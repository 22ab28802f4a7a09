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

// TestConsentMigration: residents from before consent was asked (version 6,
// broadcast_opt_in true by default) are "not asked" after migration 7, and
// those who had sent /stop (opt-in false) keep their no. On both stores.
func TestConsentMigration(t *testing.T) {
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		open    func(t *testing.T) (*sql.DB, goose.Dialect, string, func(ctx context.Context) error, func() recordsStore)
		atValue any
	}{
		{"sqlite", func(t *testing.T) (*sql.DB, goose.Dialect, string, func(context.Context) error, func() recordsStore) {
			s, err := OpenSQLite(context.Background(), t.TempDir()+"/old.db", discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			return s.w, goose.DialectSQLite3, "migrations/sqlite", s.Migrate, func() recordsStore { return s }
		}, sqliteTime(at)},
		{"postgres", func(t *testing.T) (*sql.DB, goose.Dialect, string, func(context.Context) error, func() recordsStore) {
			p, err := OpenPostgres(context.Background(), freshDatabase(t), discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			return p.db, goose.DialectPostgres, "migrations/postgres", p.Migrate, func() recordsStore { return p }
		}, at},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, dialect, dir, migrate, st := c.open(t)
			fsys, err := fs.Sub(migrationFiles, dir)
			if err != nil {
				t.Fatal(err)
			}
			prov, err := goose.NewProvider(dialect, db, fsys, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := prov.UpTo(ctx, 6); err != nil {
				t.Fatal(err)
			}
			for _, r := range []struct {
				id    string
				optIn bool
			}{{"1", true}, {"2", false}} {
				if _, err := db.ExecContext(ctx, `INSERT INTO residents (channel, external_id, first_seen, last_seen, broadcast_opt_in)
VALUES ('telegram', $1, $2, $2, $3)`, r.id, c.atValue, r.optIn); err != nil {
					t.Fatal(err)
				}
			}
			if err := migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]bot.Consent{"1": bot.ConsentUnasked, "2": bot.ConsentNo} {
				r, err := st().Resident(ctx, bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: id})
				if err != nil || r.Consent != want {
					t.Errorf("resident %s: consent %q, %v; want %q", id, r.Consent, err, want)
				}
			}
		})
	}
}
