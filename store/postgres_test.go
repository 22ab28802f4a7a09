package store

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// newTestPostgres opens the migrated database of this test run.
func newTestPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := OpenPostgres(context.Background(), testEnv.pgURL, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestMigrateConcurrent(t *testing.T) {
	ctx := context.Background()
	url := freshDatabase(t)

	const replicas = 3
	stores := make([]*Postgres, replicas)
	for i := range stores {
		p, err := OpenPostgres(ctx, url, discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		stores[i] = p
	}
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, p := range stores {
		wg.Go(func() { errs[i] = p.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}

	var applied int
	err := stores[0].pool.QueryRow(ctx,
		`SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied`).Scan(&applied)
	if err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("migration 1 recorded %d times, want 1", applied)
	}
	var tables int
	err = stores[0].pool.QueryRow(ctx, `
SELECT count(*) FROM information_schema.tables
WHERE table_schema = 'public'
  AND table_name IN ('residents', 'tickets', 'ticket_messages', 'flow_events')`).Scan(&tables)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 4 {
		t.Errorf("%d of 4 tables exist", tables)
	}
	// Migrating an up-to-date database is a no-op.
	if err := stores[1].Migrate(ctx); err != nil {
		t.Error(err)
	}
}

func BenchmarkRecord(b *testing.B) {
	b.Run("postgres", func(b *testing.B) { benchmarkRecord(b, newTestPostgres(b)) })
	b.Run("sqlite", func(b *testing.B) { benchmarkRecord(b, newTestSQLite(b, b.TempDir()+"/gocua.db")) })
}

func benchmarkRecord(b *testing.B, p bot.Records) {
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		_, err := p.Record(ctx, bot.UpdateRecord{
			Key:      bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprint("bench-", i%100)},
			UpdateID: fmt.Sprint(i), At: time.Now(), Name: "Bác Ba", Lang: "vi",
			Events: []flows.Event{event("step_entered", "install_vneid", "android_1")},
			Transcript: []bot.TranscriptLine{
				{From: "resident", Text: "Tiếp tục"}, {From: "bot", Text: "Bác mở CH Play…"},
			},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestPostgresCaches: the description cache, which only the cache_describe
// exec mode reads, is not made for every connection in the default mode;
// a URL that asks for that mode (as with a pooler in transaction mode) or
// names the cache's size keeps it, and records work in either.
func TestPostgresCaches(t *testing.T) {
	for _, tc := range []struct {
		params string
		want   int
	}{
		{"", 0},
		{"default_query_exec_mode=cache_describe", 512},
		{"description_cache_capacity=64", 64},
	} {
		t.Run(cmp.Or(tc.params, "default"), func(t *testing.T) {
			url := testEnv.pgURL
			if tc.params != "" {
				url += map[bool]string{true: "&", false: "?"}[strings.Contains(url, "?")] + tc.params
			}
			p, err := OpenPostgres(context.Background(), url, discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got := p.pool.Config().ConnConfig.DescriptionCacheCapacity; got != tc.want {
				t.Errorf("description cache capacity %d, want %d", got, tc.want)
			}
			key := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t)}
			for i := range 3 { // the same statements again: from the caches
				if _, err := p.Record(context.Background(), bot.UpdateRecord{Key: key, UpdateID: fmt.Sprint(i + 1), At: t0,
					Events: []flows.Event{event("step_entered", "f", "a")}}); err != nil {
					t.Fatalf("record %d: %v", i+1, err)
				}
				if _, err := p.ResidentProfile(context.Background(), key); err != nil {
					t.Fatalf("profile: %v", err)
				}
			}
		})
	}
}
