package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/dashboard"
	"github.com/gocua/gocua/flows"
)

// BenchmarkDashboardPages: 50 signed-in organizers (GOCUA_BENCH_SESSIONS)
// load the dashboard's pages for GOCUA_BENCH_DURATION (default 10 s)
// through the real Main on PostgreSQL, with 200 open tickets and 20,000
// flow events of 2,000 residents. Each session opens a page, reads it for
// GOCUA_BENCH_THINK (default 1 s; 0: flat out), opens the next. Reported:
// requests/s, and p50 and p99 per page and over all pages.
func BenchmarkDashboardPages(b *testing.B) {
	sessions := envInt("GOCUA_BENCH_SESSIONS", 50)
	dur := envDuration("GOCUA_BENCH_DURATION", 10*time.Second)
	think := time.Second
	if v, ok := os.LookupEnv("GOCUA_BENCH_THINK"); ok {
		if d, err := time.ParseDuration(v); err == nil {
			think = d
		}
	}
	org := newChatID()
	h := start(b, nil, withEnv("GOCUA_DATABASE_URL", freshDatabase(b)),
		withEnv("GOCUA_ADMINS", "telegram:"+strconv.FormatInt(org, 10)),
		// every session signs in from 127.0.0.1, at once
		withMain(func(m *Main) { m.DashboardTune = func(c *dashboard.Config) { c.LoginBurst = 2 * sessions } }))
	ctx := context.Background()
	v, err := h.main.DB.Desk().EnsureOrganizer(ctx, key(org), key(org), "Chị Lan", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	seedDashboard(b, h)

	clients := make([]*http.Client, sessions)
	for i := range clients {
		link, _, err := h.main.Dashboard.MintLink(ctx, v.ID, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		c, status := signIn(b, h.url, link)
		if status != http.StatusSeeOther {
			b.Fatalf("sign in: %d", status)
		}
		c.Transport = &http.Transport{MaxIdleConnsPerHost: 4}
		clients[i] = c
	}
	pages := []string{"/dashboard/", "/dashboard/queue", "/dashboard/funnel?flow=install_vneid",
		"/dashboard/visits", "/dashboard/volunteers", "/dashboard/tickets/1"}
	b.ResetTimer()
	for b.Loop() {
		lat := make([][]time.Duration, len(pages))
		var mu sync.Mutex
		var wg sync.WaitGroup
		end := time.Now().Add(dur)
		for i, c := range clients {
			wg.Go(func() {
				mine := make([][]time.Duration, len(pages))
				if think > 0 { // sessions start spread over one think
					time.Sleep(rand.N(think))
				}
				for n := i; time.Now().Before(end); n++ {
					p := n % len(pages)
					t0 := time.Now()
					res, err := c.Get(h.url + pages[p])
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("%s: %d", pages[p], res.StatusCode)
						return
					}
					mine[p] = append(mine[p], time.Since(t0))
					if think > 0 {
						time.Sleep(think/2 + rand.N(think))
					}
				}
				mu.Lock()
				for p := range lat {
					lat[p] = append(lat[p], mine[p]...)
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		var all []time.Duration
		for p, l := range lat {
			slices.Sort(l)
			all = append(all, l...)
			if len(l) > 0 {
				b.Logf("%-40s %6d requests  p50 %6.1f ms  p99 %6.1f ms", pages[p], len(l),
					ms(l[len(l)/2]), ms(l[len(l)*99/100]))
			}
		}
		slices.Sort(all)
		if len(all) == 0 {
			b.Fatal("no request answered")
		}
		b.ReportMetric(float64(len(all))/dur.Seconds(), "req/s")
		b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
		b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// seedDashboard records what the pages show: 2,000 residents walking
// install_vneid (10 events each, some leaving early), 200 of them waiting
// for a volunteer.
func seedDashboard(b *testing.B, h *harness) {
	b.Helper()
	f, ok := h.main.Flows.Flow("install_vneid")
	if !ok {
		b.Fatal("no install_vneid flow")
	}
	ctx := context.Background()
	at := time.Now().Add(-24 * time.Hour)
	for r := range 2000 {
		k := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprint(7700000 + r)}
		var evs []flows.Event
		for i, s := range f.Steps[:min(len(f.Steps), 2+r%9)] {
			evs = append(evs, flows.Event{Kind: flows.EventStepEntered, Flow: f.ID, Step: s.ID, Version: f.Version,
				At: at.Add(time.Duration(r)*time.Second + time.Duration(i)*time.Minute)})
		}
		rec := bot.UpdateRecord{Key: k, UpdateID: "bench" + strconv.Itoa(r), At: at.Add(time.Duration(r) * time.Second),
			Lang: "vi", Area: "phuong_phong_dien", Events: evs}
		if r%10 == 0 {
			rec.Handoff = &bot.TicketRequest{Flow: f.ID, Step: f.Steps[1].ID, Summary: "NFC không quét được", Area: "phuong_phong_dien"}
		}
		if _, err := h.main.DB.Record(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}
