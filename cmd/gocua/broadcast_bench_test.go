package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store"
	"github.com/gocua/gocua/store/storetest"
)

// BenchmarkBroadcast sends one broadcast to 10,000 and to 100,000
// subscribers through gocua running in a child process (so that its memory
// is its own) on PostgreSQL and Redis, against a fake Bot API that allows
// 1,000 messages a second (Telegram's paid broadcasts) and gocua paced at
// that rate. Reported: the achieved rate as a fraction of the limit, the
// child's peak RSS, the time to materialise the audience (the run's start
// until its first delivery), and the whole run.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			for range b.N {
				benchmarkBroadcast(b, n)
			}
		})
	}
}

func benchmarkBroadcast(b *testing.B, n int) {
	const limit = 1000
	api := telegramtest.New(b, telegramtest.WithRates(telegramtest.Rate{}, telegramtest.PerSecond(limit)))
	name := storetest.DatabaseName("gocua_bcbench")
	dbURL, err := storetest.CreateDatabase(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	defer storetest.DropDatabase(context.Background(), name)
	db, err := store.OpenPostgres(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := storetest.SeedResidents(context.Background(), dbURL, 900_000_000, n); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{
		"GOCUA_HTTP_ADDR":               "127.0.0.1:0",
		"GOCUA_DATABASE_URL":            dbURL,
		"GOCUA_REDIS_URL":               storetest.RedisURL(redisDB),
		"GOCUA_TELEGRAM_TOKEN":          telegramtest.Token,
		"GOCUA_TELEGRAM_WEBHOOK_SECRET": testSecret,
		"GOCUA_TELEGRAM_API_URL":        api.URL(),
		"GOCUA_TELEGRAM_RATE":           strconv.Itoa(limit),
		"GOCUA_QUIET_HOURS":             "off",
		"GOCUA_LOG_LEVEL":               "info",
		"GOCUA_TEST_PREFIX":             fmt.Sprintf("bcbench_%d_%d", os.Getpid(), n),
		"GOCUA_TEST_REPLICA":            "bench",
		"GOCUA_TEST_BROADCAST_POLL":     "100ms",
	}
	c := startChild(b, env)
	defer c.kill()
	created := time.Now()
	id, err := db.Broadcasts().CreateBroadcast(context.Background(), broadcast.Broadcast{
		Text: "Thứ Bảy 7:30, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hoá khu phố 3", Audience: "all",
		At: created, State: broadcast.Active, CreatedBy: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	var run broadcast.Run
	for {
		run, err = db.Broadcasts().LastRun(context.Background(), id)
		if err == nil && run.State == broadcast.RunFinished {
			break
		}
		if time.Since(created) > time.Duration(n/limit)*3*time.Second+time.Minute {
			b.Fatalf("not finished after %v", time.Since(created))
		}
		time.Sleep(200 * time.Millisecond)
	}
	rss := peakRSS(b, c.cmd.Process.Pid)
	rep, err := db.Broadcasts().Report(context.Background(), run.ID)
	if err != nil {
		b.Fatal(err)
	}
	sent := api.Sent()
	if rep.Delivered != n || len(sent) != n || api.Violations() != 0 {
		b.Fatalf("delivered %d, the fake got %d, %d over its limit; want %d and 0", rep.Delivered, len(sent), api.Violations(), n)
	}
	first, last := sent[0].At, sent[len(sent)-1].At
	rate := float64(n-1) / last.Sub(first).Seconds()
	b.ReportMetric(rate/limit*100, "%limit")
	b.ReportMetric(rate, "msg/s")
	b.ReportMetric(rss, "peakRSS-MB")
	b.ReportMetric(first.Sub(created).Seconds(), "s-to-first")
	b.ReportMetric(last.Sub(created).Seconds(), "s-total")
}

// peakRSS reads a process's peak resident set (VmHWM) in MB.
func peakRSS(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
