package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
)

// bcBenchBackends opens each durable store empty: PostgreSQL on a database
// of the benchmark's own (dropped after), SQLite on a fresh file.
func bcBenchBackends() []struct {
	name string
	open func(b *testing.B) *Broadcasts
} {
	return []struct {
		name string
		open func(b *testing.B) *Broadcasts
	}{
		{"postgres", func(b *testing.B) *Broadcasts {
			ctx := context.Background()
			p, err := OpenPostgres(ctx, freshDatabase(b), discardLogger())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(p.Close)
			if err := p.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			return p.Broadcasts()
		}},
		{"sqlite", func(b *testing.B) *Broadcasts {
			return newTestSQLite(b, b.TempDir()+"/gocua.db").Broadcasts()
		}},
	}
}

// seedMixed inserts n residents unlike each other: three channels, a
// tenth who said no and a tenth never asked, one in fifty who blocked the
// bot, last seen over the past month, in twenty areas, some without a
// language.
func seedMixed(b *testing.B, s *Broadcasts, n int) {
	b.Helper()
	cols := `INSERT INTO residents (channel, external_id, name, lang, first_seen, last_seen, reachable, area, consent) `
	sel := `SELECT CASE i % 3 WHEN 0 THEN 'telegram' WHEN 1 THEN 'zalo-oa' ELSE 'zalo-bot' END,
       'bench/' || i, 'Bác ' || i, CASE i % 4 WHEN 0 THEN '' WHEN 1 THEN 'en' ELSE 'vi' END, {seen}, {seen},
       i % 50 <> 0, 'a' || (i % 20), CASE i % 10 WHEN 0 THEN 'no' WHEN 1 THEN 'unasked' ELSE 'yes' END`
	var q string
	var at any
	if s.sqlite {
		q = `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $2) ` + cols +
			strings.ReplaceAll(sel, "{seen}", `strftime('%Y-%m-%dT%H:%M:%f000Z', $1, '-' || (i % 30) || ' days')`) + ` FROM g`
		at = bcT0.Format(time.DateTime)
	} else {
		q = cols + strings.ReplaceAll(sel, "{seen}", `$1::timestamptz - (i % 30) * interval '1 day'`) +
			` FROM generate_series(1, $2::int) AS g(i) ORDER BY i`
		at = bcT0
	}
	if _, err := s.w.ExecContext(context.Background(), q, at, n); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStartRun100k measures StartRun materialising an audience of
// 100,000 residents (every one a delivery row: pending, or skipped for
// consent, a block or Zalo OA's window), on both durable stores. Every
// iteration is a new tick of the same recurring broadcast, so the ledger
// grows by 100,000 rows each time. "all" matches everyone; "filtered"
// compiles to area, language and flow-event terms (it still matches a
// third of them: the flow terms find no events). Seeding is not timed.
func BenchmarkStartRun100k(b *testing.B) {
	const residents = 100_000
	rules := broadcast.Rules{DefaultLang: "vi", Windows: map[bot.Channel]time.Duration{bot.ChannelZaloOA: 7 * day}}
	filtered, err := broadcast.Parse("(area:a1,a2,a3,a4,a5,a6,a7 or lang:en) and not completed:install and not stuck:install>3d")
	if err != nil {
		b.Fatal(err)
	}
	audiences := []struct {
		name string
		aud  broadcast.Audience
	}{
		{"all", broadcast.Audience{Root: broadcast.All{}}},
		{"filtered", filtered},
	}
	for _, be := range bcBenchBackends() {
		b.Run(be.name, func(b *testing.B) {
			for _, a := range audiences {
				b.Run(a.name, func(b *testing.B) {
					ctx := context.Background()
					s := be.open(b)
					seedMixed(b, s, residents)
					id, err := s.CreateBroadcast(ctx, broadcast.Broadcast{Text: "Thông báo", Cron: "* * * * *",
						Audience: a.aud.String(), CreatedAt: bcT0})
					if err != nil {
						b.Fatal(err)
					}
					bc := broadcast.Broadcast{ID: id}
					want, err := s.CountAudience(ctx, a.aud, rules, bcT0)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					began := time.Now()
					i := 0
					for b.Loop() {
						tick := bcT0.Add(time.Duration(i) * time.Minute)
						i++
						run, started, err := s.StartRun(ctx, bc, a.aud, rules, tick, bcT0)
						if err != nil || !started || run.Total != want.Matched {
							b.Fatalf("run = %+v, %v, %v; want %d deliveries", run, started, err, want.Matched)
						}
					}
					b.ReportMetric(float64(want.Matched*i)/time.Since(began).Seconds(), "rows/s")
				})
			}
		})
	}
}

// BenchmarkClaimRecord measures one worker's round on both durable stores:
// Claim 16 deliveries, then Record their 16 outcomes in one call. The run
// holds b.N×16 pending deliveries, claimed down to none; "parallel" has
// 4×GOMAXPROCS workers claiming from it at once. Setup is not timed.
func BenchmarkClaimRecord(b *testing.B) {
	const batch = 16
	for _, be := range bcBenchBackends() {
		b.Run(be.name, func(b *testing.B) {
			for _, mode := range []string{"serial", "parallel"} {
				b.Run(mode, func(b *testing.B) {
					ctx := context.Background()
					s := be.open(b)
					ch := bot.ChannelTelegram
					seedResidents(b, s, b.N*batch, "bench", "a", ch)
					id, err := s.CreateBroadcast(ctx, broadcast.Broadcast{Text: "Thông báo", At: bcT0, Audience: "all", CreatedAt: bcT0})
					if err != nil {
						b.Fatal(err)
					}
					run, _, err := s.StartRun(ctx, broadcast.Broadcast{ID: id}, broadcast.Audience{Root: broadcast.All{}},
						broadcast.Rules{}, bcT0, bcT0)
					if err != nil || run.Total != b.N*batch {
						b.Fatalf("run = %+v, %v", run, err)
					}
					var claimed atomic.Int64
					round := func(owner string) {
						ds, err := s.Claim(ctx, ch, owner, batch, bcT0)
						if err != nil {
							b.Error(err)
							return
						}
						outs := make([]broadcast.Outcome, len(ds))
						for i, d := range ds {
							outs[i] = broadcast.Outcome{Run: d.Run, Resident: d.Resident, State: broadcast.Delivered, At: bcT0}
						}
						if err := s.Record(ctx, outs); err != nil {
							b.Error(err)
						}
						claimed.Add(int64(len(ds)))
					}
					b.ReportAllocs()
					b.ResetTimer()
					began := time.Now()
					if mode == "serial" {
						for range b.N {
							round("w")
						}
					} else {
						var w atomic.Int64
						b.SetParallelism(4)
						b.RunParallel(func(pb *testing.PB) {
							owner := fmt.Sprint("w", w.Add(1))
							for pb.Next() {
								round(owner)
							}
						})
					}
					elapsed := time.Since(began)
					b.StopTimer()
					b.ReportMetric(float64(claimed.Load())/elapsed.Seconds(), "deliveries/s")
					if mode == "serial" && claimed.Load() != int64(b.N*batch) {
						b.Errorf("claimed %d, want %d", claimed.Load(), b.N*batch)
					}
				})
			}
		})
	}
}
