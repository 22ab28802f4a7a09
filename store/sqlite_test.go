package store

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// newTestSQLite opens and migrates the SQLite file at path, closing it
// after the test.
func newTestSQLite(t testing.TB, path string) *SQLite {
	t.Helper()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLiteOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "nested", "gocua.db")
	s := newTestSQLite(t, path)
	if s.Path() != path {
		t.Errorf("Path = %q, want %q", s.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode %v, want owner-only", perm)
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "10000",
		"synchronous":  "1", // NORMAL
	} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(got, want) {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	// Readers cannot write.
	if _, err := s.r.ExecContext(ctx, `DELETE FROM residents`); err == nil {
		t.Error("a reader connection wrote")
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
	// Migrating an up-to-date database is a no-op.
	if err := s.Migrate(ctx); err != nil {
		t.Error(err)
	}
	var applied int
	if err := s.r.QueryRowContext(ctx,
		`SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("migration 1 recorded %d times, want 1", applied)
	}

	if _, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "a?b.db"), discardLogger()); err == nil {
		t.Error("a path with '?' was accepted")
	}
}

// TestSQLitePersists: what one process recorded, the next one reads back.
func TestSQLitePersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gocua.db")
	key := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: "khách-1"}

	s, err := OpenSQLite(ctx, path, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := s.Record(ctx, bot.UpdateRecord{
		Key: key, UpdateID: "u1", At: t0, Name: "Cô Sáu", Lang: "vi",
		Events:     []flows.Event{event("escalated", "install_vneid", "android_3")},
		Handoff:    &bot.TicketRequest{Flow: "install_vneid", Step: "android_3", Vars: map[string]string{"phone": "android"}},
		Transcript: []bot.TranscriptLine{{From: "resident", Text: "Cho tôi gặp người"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = newTestSQLite(t, path)
	r, err := s.Resident(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "Cô Sáu" || r.Lang != "vi" || !r.FirstSeen.Equal(t0) {
		t.Errorf("resident after reopen = %+v", r)
	}
	tk, err := s.Ticket(ctx, res.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != TicketWaiting || tk.Key != key || tk.Vars["phone"] != "android" || tk.ResidentID != r.ID {
		t.Errorf("ticket after reopen = %+v", tk)
	}
	msgs, err := s.TicketMessages(ctx, res.TicketID)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "Cho tôi gặp người" {
		t.Errorf("transcript after reopen = %+v, %v", msgs, err)
	}
	if n, err := s.CountEvents(ctx, "escalated", "install_vneid"); err != nil || n != 1 {
		t.Errorf("CountEvents after reopen = %d, %v", n, err)
	}
	// The same update replayed after the restart is still a no-op.
	again, err := s.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0, Handoff: &bot.TicketRequest{Flow: "install_vneid"}})
	if err != nil || again != res {
		t.Errorf("replay after reopen = %+v, %v; want %+v", again, err, res)
	}
	// New tickets never reuse an id.
	if err := s.CancelTicket(ctx, res.TicketID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	next, err := s.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u2", At: t0.Add(time.Hour), Handoff: &bot.TicketRequest{Flow: "f"}})
	if err != nil || next.TicketID <= res.TicketID {
		t.Errorf("next ticket = %+v, %v; want an id after %d", next, err, res.TicketID)
	}
}

// Migration 0003 rebuilds SQLite's tickets table (to change its CHECK):
// every ticket, its transcript and its joined updates survive, old states
// get their new names, and foreign keys are enforced again afterwards.
func TestSQLiteHandoffMigrationKeepsTickets(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, t.TempDir()+"/old.db", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	fsys, err := fs.Sub(migrationFiles, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	prov, err := goose.NewProvider(goose.DialectSQLite3, s.w, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	at := sqliteTime(time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC))
	for _, q := range []string{
		`INSERT INTO residents (id, channel, external_id, first_seen, last_seen) VALUES (1, 'telegram', '7', '` + at + `', '` + at + `')`,
		`INSERT INTO tickets (id, resident_id, channel, external_id, status, source_update) VALUES (5, 1, 'telegram', '7', 'open', 'u1')`,
		`INSERT INTO tickets (id, resident_id, channel, external_id, status, source_update) VALUES (6, 1, 'telegram', '7', 'closed', 'u2')`,
		`INSERT INTO ticket_messages (ticket_id, sender, body, created_at, source_update, seq) VALUES (5, 'resident', 'giữ lại', '` + at + `', 'u1', 0)`,
		`INSERT INTO ticket_handoffs (ticket_id, update_id) VALUES (5, 'u3')`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]string{5: TicketAssigned, 6: TicketResolved} {
		if tk, err := s.Ticket(ctx, id); err != nil || tk.Status != want {
			t.Fatalf("ticket %d = %q, %v; want %q", id, tk.Status, err, want)
		}
	}
	if msgs, err := s.TicketMessages(ctx, 5); err != nil || len(msgs) != 1 || msgs[0].Text != "giữ lại" {
		t.Fatalf("transcript after the rebuild = %+v, %v", msgs, err)
	}
	var joined int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM ticket_handoffs WHERE ticket_id = 5`).Scan(&joined); err != nil || joined != 1 {
		t.Fatalf("joined updates = %d, %v", joined, err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO ticket_messages (ticket_id, sender, body, created_at, source_update, seq)
VALUES (999, 'bot', 'x', '`+at+`', 'u', 0)`); err == nil {
		t.Fatal("foreign keys are off after the migration")
	}
	if _, err := s.Desk().Ticket(ctx, 5); err != nil {
		t.Fatal(err)
	}
}
