package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// BenchmarkDeskClaim measures the raw Claim transaction (lock the
// volunteer's row, count what they hold, take the ticket if still waiting,
// audit) on both durable stores: b.N waiting tickets, claimed one after the
// other ("serial", volunteers taking turns) and from 8 goroutines at once
// ("parallel", volunteers in turn, so two goroutines rarely claim for the
// same volunteer). Setup is not timed.
func BenchmarkDeskClaim(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) recordsStore
	}{
		{"postgres", func(b *testing.B) recordsStore { return newTestPostgres(b) }},
		{"sqlite", func(b *testing.B) recordsStore { return newTestSQLite(b, b.TempDir()+"/gocua.db") }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) { benchmarkDeskClaim(b, be.open(b), 1) })
			b.Run("parallel", func(b *testing.B) { benchmarkDeskClaim(b, be.open(b), 4) })
		})
	}
}

// benchmarkDeskClaim claims b.N tickets; parallelism > 1 claims them from
// parallelism×GOMAXPROCS goroutines.
func benchmarkDeskClaim(b *testing.B, st recordsStore, parallelism int) {
	ctx := context.Background()
	d := st.Desk()
	ids := make([]int64, b.N)
	for i := range ids {
		res, err := st.Record(ctx, bot.UpdateRecord{Key: zaloKey(b, fmt.Sprint(i)), UpdateID: "h", At: time.Now(),
			Handoff: &bot.TicketRequest{Flow: "activate_account", Step: "nfc", Summary: "không quét được"}})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = res.TicketID
	}
	// a volunteer holds at most 50 tickets (a CHECK): enough of them that
	// none reaches it
	vols := make([]handoff.Volunteer, 64+b.N/50)
	for i := range vols {
		user := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprintf("%s-v%d", unique(b), i)}
		v, err := d.Apply(ctx, handoff.Volunteer{User: user, Chat: user, Name: fmt.Sprint("v", i), Capacity: 50}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if vols[i], err = d.SetStaff(ctx, v.ID, handoff.Approved, handoff.RoleVolunteer, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	claim := func(i int, v handoff.Volunteer) {
		if _, err := d.Claim(ctx, ids[i], v, time.Now()); err != nil {
			b.Error(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	if parallelism <= 1 {
		for i := range b.N {
			claim(i, vols[i%len(vols)])
		}
	} else {
		var next atomic.Int64
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1) - 1)
				claim(i, vols[i%len(vols)])
			}
		})
	}
	elapsed := time.Since(began)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "claims/s")
}
