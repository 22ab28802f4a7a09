package main

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo"
	"github.com/gocua/gocua/bot/zalo/oa"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

// notifyDeliverer tells a resident's channel each time a message to them
// went out.
type notifyDeliverer struct {
	bot.Deliverer
	sent func(bot.Outbound)
}

func (n notifyDeliverer) Deliver(ctx context.Context, out bot.Outbound) error {
	err := n.Deliverer.Deliver(ctx, out)
	if err == nil {
		n.sent(out)
	}
	return err
}

// BenchmarkZaloToReply measures a Zalo resident's message from the webhook
// POST to the last message of its answer reaching the fake platform, with
// 64 residents acting like people (send, wait for the answer, send again),
// on the real stores, pacing lifted. bot: the Zalo bot, whose webhook
// answers once the core took the update; oa: the Zalo OA, whose webhook
// answers once the event is in the inbox, handled after by the worker.
// Reported: updates/s, p50/p99 from POST to answer, and the p99 of the
// webhook's own answer (Zalo OA wants it within 2 s).
func BenchmarkZaloToReply(b *testing.B) {
	for _, ch := range []bot.Channel{bot.ChannelZaloBot, bot.ChannelZaloOA} {
		b.Run(string(ch)[5:], func(b *testing.B) { benchZalo(b, ch) })
	}
}

func benchZalo(b *testing.B, ch bot.Channel) {
	zb, oas := zalotest.New(b), oatest.New(b)
	var mu sync.Mutex
	waiting := map[string]chan struct{}{}
	h := start(b, nil, append(zaloOptions(b, zb, oas), withEnv("GOCUA_DATABASE_URL", freshDatabase(b)), withMain(func(m *Main) {
		m.ZaloRate = 1e6
		m.WrapDeliverer = func(c bot.Channel, d bot.Deliverer) bot.Deliverer {
			if c != ch {
				return d
			}
			return notifyDeliverer{d, func(out bot.Outbound) {
				mu.Lock()
				r := waiting[out.Key.ChatID]
				mu.Unlock()
				if r != nil {
					r <- struct{}{}
				}
			}}
		}
	}))...)
	post := func(chat string, n int, text string) {
		var code int
		var err error
		if ch == bot.ChannelZaloBot {
			u := zalotest.Text(chat+"-"+strconv.Itoa(n), chat, text)
			u.Date = time.Now().UnixMilli()
			code, err = zalotest.PostURL(context.Background(), webhookClient, h.url+zalo.WebhookPath, zaloSecret, u.Body())
		} else {
			at := time.Now()
			body := oatest.UserText(chat, chat+"-"+strconv.Itoa(n), text, at)
			req := oatest.Request(b, h.url+oa.WebhookPath, body)
			var resp *http.Response
			if resp, err = webhookClient.Do(req); err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
		}
		if err != nil || code != http.StatusOK {
			b.Fatalf("webhook answered %d, %v", code, err)
		}
	}
	const residents = 64
	chats := make([]string, residents)
	for i := range chats {
		if ch == bot.ChannelZaloBot {
			chats[i] = newZaloChat()
		} else {
			chats[i] = newOAUser()
		}
		waiting[chats[i]] = make(chan struct{}, 64)
	}
	// every resident has started (and been asked about consent) before
	for _, chat := range chats {
		post(chat, -10, "/start")
	}
	time.Sleep(300 * time.Millisecond)
	h.settle()
	for _, chat := range chats {
		for len(waiting[chat]) > 0 {
			<-waiting[chat]
		}
	}
	// how many messages each input is answered with on this channel
	inputs := []string{"menu", "cai vneid"}
	per := make([]int, len(inputs))
	for i, in := range inputs {
		post(chats[0], -1-i, in)
		time.Sleep(300 * time.Millisecond)
		h.settle()
		per[i] = len(waiting[chats[0]])
		for range per[i] {
			<-waiting[chats[0]]
		}
	}
	if per[0] == 0 || per[1] == 0 {
		b.Fatalf("warm-up answers %v", per)
	}
	lat := make([]time.Duration, 0, b.N)
	ack := make([]time.Duration, 0, b.N)
	next := make(chan int, b.N)
	for i := range b.N {
		next <- i
	}
	close(next)
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	var lm sync.Mutex
	for _, chat := range chats {
		wg.Go(func() {
			n := 0
			for range next {
				t0 := time.Now()
				post(chat, n, inputs[n%2])
				acked := time.Since(t0)
				for range per[n%2] {
					select {
					case <-waiting[chat]:
					case <-time.After(20 * time.Second):
						b.Error("no answer within 20s")
						return
					}
				}
				d := time.Since(t0)
				lm.Lock()
				lat, ack = append(lat, d), append(ack, acked)
				lm.Unlock()
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
	}
}
