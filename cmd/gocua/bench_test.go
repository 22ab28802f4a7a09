package main

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

// BenchmarkWebhookToReply measures the whole path a resident's message takes:
// webhook POST → sequencer → Redis load → flow engine → PostgreSQL record →
// Redis commit → sender → fake Bot API. Residents (one chat each) act like
// people: send, wait for the reply, send again. Reported: updates/s, p50/p99
// latency from POST to the reply reaching the fake API, Redis round trips and
// allocations per update. Pacing is lifted (Telegram's limits are covered by
// the sender tests) so the number is the system's own capacity.
func BenchmarkWebhookToReply(b *testing.B) {
	api := telegramtest.New(b)
	h := start(b, api, withMain(func(m *Main) {
		m.TelegramRate = 1e6
		if n, err := strconv.Atoi(os.Getenv("GOCUA_BENCH_WORKERS")); err == nil {
			m.SendWorkers = n
		}
		if d, err := time.ParseDuration(os.Getenv("GOCUA_BENCH_WINDOW")); err == nil {
			m.ReorderWindow = d
		}
	}))

	residents := 64
	if v, err := strconv.Atoi(os.Getenv("GOCUA_BENCH_RESIDENTS")); err == nil && v > 0 {
		residents = v
	}
	type resident struct {
		chat  int64
		reply chan struct{}
	}
	rs := make([]*resident, residents)
	byChat := make(map[string]*resident, residents)
	for i := range rs {
		rs[i] = &resident{chat: newChatID(), reply: make(chan struct{}, 16)}
		byChat[strconv.FormatInt(rs[i].chat, 10)] = rs[i]
	}
	api.OnSend(func(m telegramtest.SentMessage) {
		if r := byChat[m.ChatID]; r != nil {
			r.reply <- struct{}{}
		}
	})
	// warm up: every resident opens a flow
	for _, r := range rs {
		if code := h.postJSON(textUpdate(nextUpdateID(), r.chat, "cai vneid")); code != http.StatusOK {
			b.Fatalf("warm-up answered %d", code)
		}
		<-r.reply
	}

	var rt redisCounter
	h.main.Redis.AddHook(&rt)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	ack := make([]time.Duration, 0, b.N) // POST until 200: the webhook's own latency
	next := make(chan int, b.N)
	for i := range b.N {
		next <- i
	}
	close(next)
	inputs := []string{"menu", "cai vneid"} // each answered by exactly one message
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			n := 0
			for range next {
				t0 := time.Now()
				if code := h.postJSON(textUpdate(nextUpdateID(), r.chat, inputs[n%2])); code != http.StatusOK {
					b.Errorf("webhook answered %d", code)
					return
				}
				acked := time.Since(t0)
				select {
				case <-r.reply:
				case <-time.After(10 * time.Second):
					b.Error("no reply within 10s")
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				ack = append(ack, acked)
				mu.Unlock()
				n++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(ack)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "updates/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(ack[len(ack)*99/100].Microseconds())/1000, "ack-p99-ms")
		b.ReportMetric(float64(rt.n.Load())/float64(len(lat)), "redis-rt/update")
	}
}

// redisCounter counts Redis round trips (commands and pipelines).
type redisCounter struct{ n atomic.Int64 }

func (c *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}
