package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/flows"
	"github.com/gocua/gocua/store"
	"github.com/gocua/gocua/store/storetest"
)

// Broadcast tests run each on a PostgreSQL database of its own, so that
// "all" means the residents the test made.

// bcHarness is a Main (or several) on a fresh database.
type bcHarness struct {
	*harness
	t   *testing.T
	db  string
	api *telegramtest.Server
}

// fastBroadcasts makes the runner look at the schedule often.
func fastBroadcasts(m *Main) {
	prev := m.BroadcastTune
	m.BroadcastTune = func(c *broadcast.Config) {
		c.Poll, c.ProgressEvery = 100*time.Millisecond, 200*time.Millisecond
		if prev != nil {
			prev(c)
		}
	}
}

func startBroadcasts(t *testing.T, api *telegramtest.Server, opts ...option) *bcHarness {
	t.Helper()
	db := freshDatabase(t)
	h := start(t, api, append([]option{withEnv("GOCUA_DATABASE_URL", db), withEnv("GOCUA_QUIET_HOURS", "off"), withMain(fastBroadcasts)}, opts...)...)
	return &bcHarness{harness: h, t: t, db: db, api: h.api}
}

// residents makes n Telegram residents with the consent given and returns
// their chats.
func (h *bcHarness) residents(n int, c bot.Consent) []int64 {
	h.t.Helper()
	chats := make([]int64, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				chats[i] = newChatID()
				if err := h.main.DB.SetConsent(context.Background(), key(chats[i]), c, time.Now().Add(-time.Minute)); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		h.t.Fatal(err)
	}
	return chats
}

// create makes a broadcast through Compose, as the CLI does.
func (h *bcHarness) create(d broadcast.Draft) broadcast.Broadcast {
	h.t.Helper()
	return h.createWith(d, nil)
}

// createWith is create with a change to the broadcast before it is stored.
func (h *bcHarness) createWith(d broadcast.Draft, change func(*broadcast.Broadcast)) broadcast.Broadcast {
	h.t.Helper()
	env := composeEnv(h.main.Config, h.main.Flows, h.main.Areas, time.Now())
	b, _, errs := broadcast.Compose(d, env)
	if len(errs) > 0 {
		h.t.Fatal(errs)
	}
	if change != nil {
		change(&b)
	}
	id, err := h.main.DB.Broadcasts().CreateBroadcast(context.Background(), b)
	if err != nil {
		h.t.Fatal(err)
	}
	b.ID = id
	h.main.Broadcasts.Wake()
	return b
}

// report waits until broadcast id's run has finished and returns its report.
func (h *bcHarness) report(id int64, within time.Duration) broadcast.Report {
	h.t.Helper()
	st := h.main.DB.Broadcasts()
	var rep broadcast.Report
	waitUntil(h.t, within, fmt.Sprintf("broadcast %d to finish", id), func() bool {
		run, err := st.LastRun(context.Background(), id)
		if err != nil || run.State != broadcast.RunFinished {
			return false
		}
		rep, err = st.Report(context.Background(), run.ID)
		return err == nil
	})
	return rep
}

// bulkTo counts the broadcast messages (those with the unsubscribe
// button) each chat received.
func bulkTo(api *telegramtest.Server) map[string]int {
	n := map[string]int{}
	for _, m := range api.Sent() {
		for _, row := range m.Keyboard {
			for _, b := range row {
				if b.CallbackData == flows.DataUnsubscribe {
					n[m.ChatID]++
				}
			}
		}
	}
	return n
}

// TestBroadcastTenThousand: 10,000 recipients against a fake Bot API that
// refuses more than Telegram allows. Time runs ten times faster than
// Telegram's: the fake allows 30 messages per 100 ms overall and one per
// 100 ms per chat, gocua sends at 220 a second (22 a second at Telegram's
// scale, under its 30: arrivals at a fake on a loaded machine bunch up more
// than at Telegram). Nobody gets a 429, every subscriber gets it exactly once, the
// report adds up, and a resident who said no or never answered gets
// nothing.
func TestBroadcastTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 deliveries")
	}
	// GOCUA_TEST_REAL_RATES=1 runs it at Telegram's own limits and gocua's
	// default 25 a second (about 7 minutes)
	window, rate, perChat := 100*time.Millisecond, 220.0, 10.0
	if os.Getenv("GOCUA_TEST_REAL_RATES") == "1" {
		window, rate, perChat = time.Second, 25, 1
	}
	api := telegramtest.New(t, telegramtest.WithRates(telegramtest.Rate{N: 1, Per: window}, telegramtest.Rate{N: 30, Per: window}))
	h := startBroadcasts(t, api, withMain(func(m *Main) { m.TelegramRate, m.TelegramPerChat = rate, perChat }))
	yes := h.residents(10000, bot.ConsentYes)
	no := h.residents(50, bot.ConsentNo)
	unasked := h.residents(50, bot.ConsentUnasked)
	for _, c := range yes[:20] {
		api.FailNext("sendMessage", strconv.FormatInt(c, 10), telegramtest.Blocked())
	}
	started := time.Now()
	b := h.create(broadcast.Draft{Text: "Thứ Bảy 7:30, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hoá khu phố 3", Now: true,
		Buttons: []string{"Cài VNeID=install_vneid"}})
	rep := h.report(b.ID, time.Duration(10200/rate*2)*time.Second+time.Minute)
	took := time.Since(started)
	if v := api.Violations(); v != 0 {
		t.Errorf("%d sends broke the fake's rate limits: %v", v, api.ViolationLog()[:min(v, 5)])
	}
	got := bulkTo(api)
	for _, c := range yes[20:] {
		if n := got[strconv.FormatInt(c, 10)]; n != 1 {
			t.Fatalf("subscriber %d got the broadcast %d times", c, n)
		}
	}
	for _, c := range append(no, unasked...) {
		if got[strconv.FormatInt(c, 10)] != 0 {
			t.Fatalf("resident %d without consent got the broadcast", c)
		}
	}
	if rep.Run.Total != 10100 || rep.Delivered != 9980 || rep.Blocked != 20 || rep.Failed != 0 || rep.Skipped[broadcast.ReasonNoConsent] != 100 ||
		rep.Delivered+rep.Blocked+rep.Failed+rep.SkippedTotal() != rep.Run.Total || rep.Pending != 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range yes[:20] {
		r, err := h.main.DB.Resident(context.Background(), key(c))
		if err != nil || r.Reachable || r.Consent != bot.ConsentNo {
			t.Fatalf("a resident who blocked the bot: %+v, %v; want unreachable and unsubscribed", r, err)
		}
	}
	achieved := float64(rep.Delivered+rep.Blocked) / took.Seconds()
	t.Logf("10,000 recipients in %v: %.1f msg/s paced at %g (%.0f%%)", took.Round(time.Millisecond), achieved, rate, achieved/rate*100)
}

// TestBroadcastPausesOn429WhileRepliesGo: a 429 with retry_after=5 on a
// broadcast pauses the bulk lane for 5 s, while a resident's reply still
// goes out at once.
func TestBroadcastPausesOn429WhileRepliesGo(t *testing.T) {
	api := telegramtest.New(t)
	h := startBroadcasts(t, api, withMain(func(m *Main) { m.TelegramRate = 20 }))
	subs := h.residents(100, bot.ConsentYes)
	var limitedAt atomic.Int64
	api.FailNext("sendMessage", strconv.FormatInt(subs[10], 10), telegramtest.TooManyRequests(5))
	organizer := newChatID()
	b := h.createWith(broadcast.Draft{Text: "Cảnh báo: có người giả danh công an gọi điện xin mã OTP", Now: true},
		func(b *broadcast.Broadcast) { b.ProgressChat = key(organizer) })
	waitUntil(t, 20*time.Second, "the 429", func() bool { // the first call to that chat is refused
		for _, c := range api.Calls() {
			if c.Params["chat_id"] == strconv.FormatInt(subs[10], 10) {
				limitedAt.Store(c.At.UnixNano())
				return true
			}
		}
		return false
	})
	limited := time.Unix(0, limitedAt.Load())
	// a resident writes one second into the pause
	time.Sleep(time.Until(limited.Add(time.Second)))
	resident := newChatID()
	asked := time.Now()
	h.send(textUpdate(nextUpdateID(), resident, "/menu"))
	waitUntil(t, 5*time.Second, "the reply", func() bool { return len(h.sentTo(resident)) > 0 })
	if lag := h.sentTo(resident)[0].At.Sub(asked); lag > time.Second {
		t.Errorf("the resident's reply took %v during the bulk pause; want under 1 s", lag)
	}
	rep := h.report(b.ID, time.Minute)
	for _, m := range api.Sent() {
		if m.ChatID == strconv.FormatInt(resident, 10) {
			continue
		}
		// what was already on its way when the 429 came back (granted
		// before it) may still arrive; nothing granted after it may
		if m.At.After(limited.Add(100*time.Millisecond)) && m.At.Before(limited.Add(5*time.Second)) {
			t.Fatalf("a broadcast message went out %v after the 429, inside its 5 s", m.At.Sub(limited))
		}
	}
	if rep.Delivered != 100 || bulkTo(api)[strconv.FormatInt(subs[10], 10)] != 1 {
		t.Fatalf("after the pause: %+v", rep)
	}
	// the organizer's progress: one message, edited as it went, then the report
	progress := 0
	for _, e := range api.Edits() {
		if e.ChatID == strconv.FormatInt(organizer, 10) && strings.Contains(e.Text, "đã gửi") {
			progress++
		}
	}
	if progress == 0 || countText(h.sentTo(organizer), "📣 Thông báo #") != 1 {
		t.Fatalf("%d progress edits, messages %q", progress, texts(h.sentTo(organizer)))
	}
	waitUntil(t, 5*time.Second, "the report", func() bool { return containsText(h.sentTo(organizer), "đã gửi xong (100 người)") })
	// and /metrics
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gocua_broadcast_deliveries_total{channel="telegram",outcome="delivered"} 100`,
		`gocua_broadcast_deliveries_total{channel="telegram",outcome="retry"} `, // the 429, and any held back by the pause
		fmt.Sprintf(`gocua_broadcast_recipients{broadcast="%d"} 100`, b.ID),
		fmt.Sprintf(`gocua_broadcast_settled{broadcast="%d"} 100`, b.ID),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// TestBroadcastStopAndTap: /stop while a broadcast is on its way means
// nothing more reaches that resident; a deep-link button opens its flow
// step and is counted.
func TestBroadcastStopAndTap(t *testing.T) {
	api := telegramtest.New(t)
	h := startBroadcasts(t, api, withMain(func(m *Main) { m.TelegramRate = 10 }))
	subs := h.residents(40, bot.ConsentYes)
	last := subs[len(subs)-1]
	b := h.create(broadcast.Draft{Text: "Hạn cuối đăng ký định danh mức 2 là thứ Sáu", Now: true,
		Buttons: []string{"Xem cách làm=level2"}})
	// the last subscriber stops before their turn (40 at 10 a second: 4 s)
	waitUntil(t, 10*time.Second, "the first deliveries", func() bool { return len(bulkTo(api)) > 0 })
	h.send(textUpdate(nextUpdateID(), last, "/stop"))
	// an organizer follows it from the command line meanwhile
	followed := make(chan string, 1)
	go func() {
		_, out, errs := runCLI(t, map[string]string{"GOCUA_DATABASE_URL": h.db}, "broadcast", "show", strconv.FormatInt(b.ID, 10), "--follow")
		followed <- out + errs
	}()
	rep := h.report(b.ID, time.Minute)
	select {
	case out := <-followed:
		if !strings.Contains(out, "░") || !strings.Contains(out, "] 100% 40/40 · 0 blocked · 0 failed · 1 skipped") ||
			!strings.Contains(out, "finished") || !strings.Contains(out, "skipped, no consent: 1") {
			t.Fatalf("show --follow printed %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("show --follow did not end with the broadcast")
	}
	if n := bulkTo(api)[strconv.FormatInt(last, 10)]; n != 0 {
		t.Fatalf("the resident who sent /stop got %d broadcast messages", n)
	}
	if rep.Delivered != 39 || rep.Skipped[broadcast.ReasonNoConsent] != 1 {
		t.Fatalf("report %+v", rep)
	}
	// tap the deep link
	first := subs[0]
	var data string
	for _, m := range h.sentTo(first) {
		if len(m.Keyboard) > 0 && m.Keyboard[0][0].Text == "Xem cách làm" {
			data = m.Keyboard[0][0].CallbackData
		}
	}
	if data == "" {
		t.Fatal("no deep-link button")
	}
	before := len(h.sentTo(first))
	h.send(buttonUpdate(nextUpdateID(), first, data))
	h.send(buttonUpdate(nextUpdateID(), first, data)) // a second tap counts once
	h.settle()
	conv, _, err := h.main.Redis.Load(context.Background(), key(first), "")
	if err != nil || conv.Flow.Flow != "level2" || len(h.sentTo(first)) <= before {
		t.Fatalf("after the tap: flow %q, %v", conv.Flow.Flow, err)
	}
	run, _ := h.main.DB.Broadcasts().LastRun(context.Background(), b.ID)
	if rep, err := h.main.DB.Broadcasts().Report(context.Background(), run.ID); err != nil || rep.Tapped != 1 {
		t.Fatalf("taps: %+v, %v", rep, err)
	}
	// the unsubscribe button under it
	h.send(buttonUpdate(nextUpdateID(), first, flows.DataUnsubscribe))
	h.settle()
	if r, _ := h.main.DB.Resident(context.Background(), key(first)); r.Consent != bot.ConsentNo {
		t.Fatalf("after Hủy nhận tin consent is %q", r.Consent)
	}
}

// TestBroadcastCrash: gocua is killed (SIGKILL) in the middle of a
// broadcast and started again: nobody is missed, and only what was in
// flight at the kill (sent, its outcome not yet written) may go twice. On
// both durable stores.
func TestBroadcastCrash(t *testing.T) {
	for _, durable := range []string{"postgres", "sqlite"} {
		t.Run(durable, func(t *testing.T) {
			api := telegramtest.New(t)
			env := map[string]string{
				"GOCUA_HTTP_ADDR":               "127.0.0.1:0",
				"GOCUA_REDIS_URL":               storetest.RedisURL(redisDB),
				"GOCUA_TELEGRAM_TOKEN":          telegramtest.Token,
				"GOCUA_TELEGRAM_WEBHOOK_SECRET": testSecret,
				"GOCUA_TELEGRAM_API_URL":        api.URL(),
				"GOCUA_TELEGRAM_RATE":           "100",
				"GOCUA_QUIET_HOURS":             "off",
				"GOCUA_LOG_LEVEL":               "debug",
				"GOCUA_TEST_PREFIX":             testPrefix(t) + "_" + durable,
				"GOCUA_TEST_REPLICA":            "replica-1",
				"GOCUA_TEST_BROADCAST_POLL":     "100ms",
			}
			var db Durable
			if durable == "postgres" {
				env["GOCUA_DATABASE_URL"] = freshDatabase(t)
				p, err := store.OpenPostgres(context.Background(), env["GOCUA_DATABASE_URL"], slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				db = p
			} else {
				env["GOCUA_DATA_DIR"] = t.TempDir()
				s, err := store.OpenSQLite(context.Background(), filepath.Join(env["GOCUA_DATA_DIR"], "gocua.db"), slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				db = s
			}
			defer db.Close()
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			const n = 600
			chats := make([]int64, n)
			for i := range chats {
				chats[i] = newChatID()
				if err := db.SetConsent(context.Background(), key(chats[i]), bot.ConsentYes, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			id, err := db.Broadcasts().CreateBroadcast(context.Background(), broadcast.Broadcast{
				Text: "Chủ nhật này tổ công nghệ số trực tại nhà văn hoá", Audience: "all", At: time.Now(), State: broadcast.Active, CreatedBy: "test"})
			if err != nil {
				t.Fatal(err)
			}
			c1 := startChild(t, env)
			waitUntil(t, 30*time.Second, "a third delivered", func() bool { return len(bulkTo(api)) >= n/3 })
			c1.kill()
			atKill := len(api.Sent())
			startChild(t, env) // the same replica again
			waitUntil(t, 60*time.Second, "every resident", func() bool { return len(bulkTo(api)) >= n })
			var rep broadcast.Report
			waitUntil(t, 30*time.Second, "the run to finish", func() bool {
				run, err := db.Broadcasts().LastRun(context.Background(), id)
				if err != nil || run.State != broadcast.RunFinished {
					return false
				}
				rep, err = db.Broadcasts().Report(context.Background(), run.ID)
				return err == nil
			})
			got := bulkTo(api)
			twice := 0
			for _, c := range chats {
				switch k := got[strconv.FormatInt(c, 10)]; {
				case k == 0:
					t.Fatalf("resident %d missed", c)
				case k > 1:
					twice += k - 1
				}
			}
			// in flight: one per worker (8) plus the outcomes waiting to be
			// written (at most two batches of 32)
			if bound := 8 + 2*32; twice > bound {
				t.Fatalf("%d duplicates after the kill, more than the %d that can be in flight", twice, bound)
			}
			if rep.Delivered != n || rep.Run.Total != n {
				t.Fatalf("report %+v", rep)
			}
			t.Logf("killed after %d sends; %d sent twice", atKill, twice)
		})
	}
}

// TestBroadcastCronFiresOnceAcrossReplicas: two gocua processes on the
// same Redis and PostgreSQL, one recurring broadcast: its tick fires once,
// and together they keep the channel's limit (the fake refuses more).
func TestBroadcastCronFiresOnceAcrossReplicas(t *testing.T) {
	api := telegramtest.New(t, telegramtest.WithRates(telegramtest.Rate{}, telegramtest.PerSecond(30)))
	var clock atomic.Int64 // unix ns; both replicas read it
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	tick := time.Date(time.Now().Year()+1, 12, 5, 7, 30, 0, 0, hcm) // a Saturday
	for tick.Weekday() != time.Saturday {
		tick = tick.AddDate(0, 0, 1)
	}
	clock.Store(tick.Add(-2 * time.Second).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	var sentBy [2]atomic.Int64 // broadcast messages each replica delivered
	tune := func(i int) option {
		return withMain(func(m *Main) {
			m.TelegramRate = 25
			m.BroadcastTune = func(c *broadcast.Config) { c.Now, c.Poll = now, 50*time.Millisecond }
			m.WrapDeliverer = func(ch bot.Channel, d bot.Deliverer) bot.Deliverer {
				return deliverFunc(func(ctx context.Context, o bot.Outbound) error {
					err := d.Deliver(ctx, o)
					if err == nil && o.Lane == bot.LaneBulk {
						sentBy[i].Add(1)
					}
					return err
				})
			}
		})
	}
	a := startBroadcasts(t, api, tune(0), withEnv("GOCUA_TIMEZONE", "Asia/Ho_Chi_Minh"))
	b := start(t, api, withEnv("GOCUA_DATABASE_URL", a.db), withEnv("GOCUA_QUIET_HOURS", "off"), withEnv("GOCUA_TIMEZONE", "Asia/Ho_Chi_Minh"), tune(1),
		withMain(func(m *Main) { m.ReplicaID = "replica-b" }))
	subs := a.residents(150, bot.ConsentYes)
	bc := a.create(broadcast.Draft{Text: "Sáng thứ Bảy tổ công nghệ số trực tại nhà văn hoá", Cron: "30 7 * * 6"})
	time.Sleep(300 * time.Millisecond) // both look: not due yet
	if _, err := a.main.DB.Broadcasts().LastRun(context.Background(), bc.ID); err == nil {
		t.Fatal("a run started before its tick")
	}
	clock.Store(tick.Add(time.Second).UnixNano())
	a.main.Broadcasts.Wake()
	b.main.Broadcasts.Wake()
	rep := a.report(bc.ID, time.Minute)
	runs, err := a.main.DB.Broadcasts().Runs(context.Background(), bc.ID, 10)
	if err != nil || len(runs) != 1 || !runs[0].Tick.Equal(tick) {
		t.Fatalf("runs %+v, %v; want one, at %s", runs, err, tick)
	}
	got := bulkTo(api)
	for _, c := range subs {
		if got[strconv.FormatInt(c, 10)] != 1 {
			t.Fatalf("resident %d got it %d times", c, got[strconv.FormatInt(c, 10)])
		}
	}
	if v := api.Violations(); v != 0 {
		t.Fatalf("%d sends over 30 a second", v)
	}
	if rep.Delivered != 150 {
		t.Fatalf("report %+v", rep)
	}
	// both replicas sent, so the limit held because they share it
	if sentBy[0].Load() == 0 || sentBy[1].Load() == 0 || sentBy[0].Load()+sentBy[1].Load() != 150 {
		t.Fatalf("replica a sent %d, b %d; want both some, 150 in all", sentBy[0].Load(), sentBy[1].Load())
	}
	sent := api.Sent()
	if took := sent[len(sent)-1].At.Sub(sent[0].At); took < 5*time.Second {
		t.Fatalf("150 messages in %v: faster than the 25 a second they share", took)
	}
	// the next tick is a week later; nothing fires meanwhile
	clock.Store(tick.Add(time.Hour).UnixNano())
	time.Sleep(300 * time.Millisecond)
	if runs, _ := a.main.DB.Broadcasts().Runs(context.Background(), bc.ID, 10); len(runs) != 1 {
		t.Fatalf("%d runs an hour after the tick", len(runs))
	}
}

// TestBroadcastQuietHoursAndGrace: with a controllable clock in the
// deployment's timezone, a broadcast due inside the quiet hours waits for
// their end; a one-off broadcast whose time passed while gocua was down is
// sent within the grace and marked missed after it.
func TestBroadcastQuietHoursAndGrace(t *testing.T) {
	api := telegramtest.New(t)
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	start := time.Now().In(hcm).AddDate(0, 0, 1)
	night := time.Date(start.Year(), start.Month(), start.Day(), 22, 0, 0, 0, hcm)
	var clock atomic.Int64
	clock.Store(night.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	h := startBroadcasts(t, api, withEnv("GOCUA_QUIET_HOURS", "21:00-07:00"), withEnv("GOCUA_TIMEZONE", "Asia/Ho_Chi_Minh"),
		withEnv("GOCUA_BROADCAST_GRACE", "2h"),
		withMain(func(m *Main) {
			m.BroadcastTune = func(c *broadcast.Config) { c.Now, c.Poll = now, 50*time.Millisecond }
		}))
	subs := h.residents(5, bot.ConsentYes)
	b := h.create(broadcast.Draft{Text: "Nhắc: mai 7:30 hỗ trợ cài VNeID", At: night.Format("2006-01-02 15:04")})
	time.Sleep(500 * time.Millisecond)
	if n := len(bulkTo(api)); n != 0 {
		t.Fatalf("%d sent at 22:00, inside the quiet hours", n)
	}
	clock.Store(night.Add(8*time.Hour + time.Minute).UnixNano()) // 06:01: still quiet
	time.Sleep(300 * time.Millisecond)
	if n := len(bulkTo(api)); n != 0 {
		t.Fatalf("%d sent at 06:01", n)
	}
	clock.Store(night.Add(9*time.Hour + time.Second).UnixNano()) // 07:00:01
	rep := h.report(b.ID, 20*time.Second)
	if rep.Delivered != len(subs) {
		t.Fatalf("after the quiet hours: %+v", rep)
	}
	// gocua "was down" at 07:10 and 05:00; at 09:00 the first is within
	// the grace of 2 h and is sent, the second is beyond it and missed
	clock.Store(night.Add(11 * time.Hour).UnixNano()) // 09:00
	late := h.create(broadcast.Draft{Text: "Muộn nhưng vẫn kịp", At: night.Add(9*time.Hour + 10*time.Minute).Format("2006-01-02 15:04")})
	missed := h.create(broadcast.Draft{Text: "Quá muộn", At: night.Add(7 * time.Hour).Format("2006-01-02 15:04")})
	if rep := h.report(late.ID, 20*time.Second); rep.Delivered != len(subs) {
		t.Fatalf("within the grace: %+v", rep)
	}
	waitUntil(t, 10*time.Second, "the missed broadcast", func() bool {
		b, err := h.main.DB.Broadcasts().Broadcast(context.Background(), missed.ID)
		return err == nil && b.State == broadcast.Done && b.Missed
	})
	if _, err := h.main.DB.Broadcasts().LastRun(context.Background(), missed.ID); err == nil {
		t.Fatal("a missed broadcast was sent")
	}
}

// TestBroadcastCommand: gocua broadcast create, list, show, pause, resume
// and cancel on the embedded SQLite store, as an organizer types them;
// mistakes get errors that say what to write.
func TestBroadcastCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"GOCUA_DATA_DIR": dir, "GOCUA_TIMEZONE": "Asia/Ho_Chi_Minh"}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, env, append([]string{"broadcast"}, args...)...)
	}
	// residents to count: two subscribers, one who said no
	db, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "gocua.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, c := range []bot.Consent{bot.ConsentYes, bot.ConsentYes, bot.ConsentNo} {
		if err := db.SetConsent(context.Background(), bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.Itoa(100 + i)}, c, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, _ := run("help"); code != 0 || !strings.Contains(out, "--audience") {
		t.Fatalf("help: %d %q", code, out)
	}
	at := time.Now().Add(48*time.Hour).In(mustLoc(t, "Asia/Ho_Chi_Minh")).Format("2006-01-02") + " 07:30"
	code, out, errs := run("create", "--text", "Thứ Bảy 7:30 hỗ trợ cài VNeID tại nhà văn hoá", "--at", at,
		"--button", "Cài VNeID=install_vneid", "--audience", "lang:vi", "--dry-run")
	if code != 0 || !strings.Contains(out, "would reach 2 of 3 matched (no consent 1") {
		t.Fatalf("dry run: %d %q %q", code, out, errs)
	}
	code, out, errs = run("create", "--text", "Thứ Bảy 7:30 hỗ trợ cài VNeID tại nhà văn hoá", "--at", at,
		"--button", "Cài VNeID=install_vneid", "--audience", "lang:vi")
	if code != 0 || !strings.Contains(out, "broadcast #1 at "+at) || !strings.Contains(out, "reaches now: 2 of 3") {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	if code, out, _ := run("list"); code != 0 || !strings.Contains(out, "SENT/TOTAL") || !strings.Contains(out, "at "+at) || !strings.Contains(out, "active") {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, _ := run("show", "1"); code != 0 || !strings.Contains(out, "button: Cài VNeID → install_vneid") || !strings.Contains(out, "not started yet") {
		t.Fatalf("show: %d %q", code, out)
	}
	for _, step := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pause", "1"}, 0, "broadcast #1 is paused"},
		{[]string{"pause", "1"}, 1, "broadcast #1 is paused"},
		{[]string{"resume", "#1"}, 0, "broadcast #1 is active"},
		{[]string{"cancel", "1"}, 0, "broadcast #1 is cancelled"},
		{[]string{"resume", "1"}, 1, "is cancelled"},
		{[]string{"show", "99"}, 1, "not found"},
		{[]string{"show"}, 2, "usage"},
		{[]string{"cancel", "x"}, 2, "usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"create", "--text", "x"}, 1, "exactly one of at, cron and now"},
		{[]string{"create", "--text", "x", "--now", "--audience", "aera:1"}, 1, "unknown term"},
		{[]string{"create", "--text", "x", "--now", "--button", "Sai=nowhere"}, 1, `no flow "nowhere"`},
		{[]string{"create", "--text", "x", "--cron", "mỗi thứ Bảy"}, 1, "cron:"},
		{[]string{"create", "--text", "x", "--now", "extra"}, 1, "unexpected"},
		{[]string{"create", "--bogus"}, 2, "flag provided but not defined"},
	} {
		code, out, errs := run(step.args...)
		if code != step.code || !strings.Contains(out+errs, step.want) {
			t.Errorf("broadcast %v: exit %d, %q %q; want %d with %q", step.args, code, out, errs, step.code, step.want)
		}
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestBroadcastWizard: an organizer writes a broadcast in a private chat:
// /broadcast, the text, a button opening a guide, the audience with its
// exact count, "now", a preview of the very message, the confirmation. The
// subscribers get it, the organizer's progress message turns into the
// report, a confirmation delivered twice makes one broadcast, and someone
// who is not an organizer is refused.
func TestBroadcastWizard(t *testing.T) {
	api := telegramtest.New(t)
	org := newChatID()
	h := startBroadcasts(t, api, withEnv("GOCUA_ADMINS", "telegram:"+strconv.FormatInt(org, 10)))
	subs := h.residents(7, bot.ConsentYes)
	h.residents(3, bot.ConsentNo)
	set := h.main.Flows
	last := func() telegramtest.SentMessage {
		t.Helper()
		msgs := h.sentTo(org)
		if len(msgs) == 0 {
			t.Fatal("the organizer got nothing")
		}
		return msgs[len(msgs)-1]
	}
	find := func(prefix string) string {
		t.Helper()
		for _, row := range last().Keyboard {
			for _, b := range row {
				if strings.HasPrefix(b.CallbackData, prefix) {
					return b.CallbackData
				}
			}
		}
		t.Fatalf("no button %q under %q", prefix, last().Plain)
		return ""
	}
	step := func(u map[string]any, want string) {
		t.Helper()
		before := len(h.sentTo(org))
		h.send(u)
		h.settle()
		got := h.sentTo(org)[before:]
		if !containsText(got, want) {
			t.Fatalf("after the step: %q; want %q", texts(got), plain(want))
		}
	}
	step(textUpdate(nextUpdateID(), org, "/broadcast"), set.Text("vi", "bc_ask_text", nil))
	step(textUpdate(nextUpdateID(), org, "Thứ Bảy 7:30, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hoá khu phố 3"),
		set.Text("vi", "bc_ask_buttons", map[string]string{"max": "3"}))
	step(buttonUpdate(nextUpdateID(), org, "bcw:b:install_vneid"), "1/3")
	step(buttonUpdate(nextUpdateID(), org, "bcw:b:"), set.Text("vi", "bc_ask_audience", nil))
	step(buttonUpdate(nextUpdateID(), org, "bcw:a:expr"), "area:19771")
	step(textUpdate(nextUpdateID(), org, "aera:1"), "unknown term")
	step(textUpdate(nextUpdateID(), org, "all"), "Sẽ gửi cho 7 người (10 người phù hợp; 3 chưa đồng ý")
	step(buttonUpdate(nextUpdateID(), org, "bcw:w:now"), "Gửi thông báo này cho 7 người")
	// the preview is the very message, with its button opening the guide
	msgs := h.sentTo(org)
	preview := msgs[len(msgs)-2]
	if preview.Plain != "Thứ Bảy 7:30, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hoá khu phố 3" ||
		len(preview.Keyboard) != 2 || preview.Keyboard[0][0].CallbackData != flows.DataOpen("install_vneid") {
		t.Fatalf("preview %q %+v", preview.Plain, preview.Keyboard)
	}
	ok := nextUpdateID()
	step(buttonUpdate(ok, org, find("bcw:ok")), "Đã lên lịch thông báo #")
	h.send(buttonUpdate(ok, org, "bcw:ok")) // Telegram delivers it again
	list, err := h.main.DB.Broadcasts().Broadcasts(context.Background(), 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("broadcasts %d, %v; want 1", len(list), err)
	}
	b := list[0]
	if b.CreatedBy != "telegram:"+strconv.FormatInt(org, 10) || b.ProgressChat != key(org) || len(b.Buttons) != 1 {
		t.Fatalf("broadcast %+v", b)
	}
	rep := h.report(b.ID, 20*time.Second)
	if rep.Delivered != 7 || rep.Skipped[broadcast.ReasonNoConsent] != 3 {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range subs {
		if bulkTo(api)[strconv.FormatInt(c, 10)] != 1 {
			t.Fatalf("subscriber %d", c)
		}
	}
	waitUntil(t, 10*time.Second, "the final report", func() bool {
		return containsText(h.sentTo(org), "đã gửi xong (10 người)")
	})
	// a second /broadcast with a photo: a caption is needed; dropped; a
	// stale button afterwards
	step(textUpdate(nextUpdateID(), org, "/broadcast"), set.Text("vi", "bc_ask_text", nil))
	step(photoUpdate(nextUpdateID(), org, ""), set.Text("vi", "bc_photo_needs_caption", nil))
	step(photoUpdate(nextUpdateID(), org, "Ngày hội cài VNeID"), set.Text("vi", "bc_ask_buttons", map[string]string{"max": "3"}))
	conv, _, err := h.main.Redis.Load(context.Background(), key(org), "")
	if err != nil || conv.Draft == nil || conv.Draft.Image != "telegram:AgACph0to" || conv.Draft.Text != "Ngày hội cài VNeID" {
		t.Fatalf("draft %+v, %v", conv.Draft, err)
	}
	step(buttonUpdate(nextUpdateID(), org, "bcw:no"), set.Text("vi", "bc_dropped", nil))
	step(buttonUpdate(nextUpdateID(), org, "bcw:a:all"), set.Text("vi", "bc_stale", nil))
	// a resident is not an organizer
	stranger := newChatID()
	h.send(textUpdate(nextUpdateID(), stranger, "/broadcast"))
	h.settle()
	if !containsText(h.sentTo(stranger), set.Text("vi", "bc_not_organizer", nil)) {
		t.Fatalf("a resident's /broadcast: %q", texts(h.sentTo(stranger)))
	}
}

// TestBroadcastReachesWebChat: a web chat visitor who said yes finds the
// broadcast in their chat (live or at their next visit); one who did not
// answer does not.
func TestBroadcastReachesWebChat(t *testing.T) {
	h := startBroadcasts(t, nil)
	yes, silent := newWebResident(t), newWebResident(t)
	for _, w := range []*webResident{yes, silent} {
		w.open(h.url)
		if code := w.send(h.url, "msg-0001", 1, "xin chào"); code != 200 {
			t.Fatalf("send: %d", code)
		}
	}
	waitUntil(t, 5*time.Second, "the consent question", func() bool {
		return slices.ContainsFunc(yes.botMessages(h.url), func(m historyMsg) bool {
			return strings.Contains(m.Text, plain(h.main.Flows.Text("vi", "consent_ask", nil)))
		})
	})
	if code := yes.tap(h.url, "msg-0002", 2, flows.DataSubscribe, "Có"); code != 200 {
		t.Fatalf("tap: %d", code)
	}
	waitUntil(t, 5*time.Second, "the consent", func() bool {
		n, err := h.main.DB.Broadcasts().CountAudience(context.Background(), mustAudience(t, "channel:web"), broadcastRules(h.main.Config), time.Now())
		return err == nil && n.Recipients == 1 && n.Matched == 2
	})
	text := "Chủ nhật tổ công nghệ số trực ở nhà văn hoá từ 7:30"
	b := h.create(broadcast.Draft{Text: text, Now: true, Audience: "channel:web"})
	rep := h.report(b.ID, 20*time.Second)
	if rep.Delivered != 1 || rep.Skipped[broadcast.ReasonNoConsent] != 1 {
		t.Fatalf("report %+v", rep)
	}
	has := func(w *webResident) bool {
		return slices.ContainsFunc(w.botMessages(h.url), func(m historyMsg) bool { return m.Text == text })
	}
	if !has(yes) || has(silent) {
		t.Fatalf("the subscriber has it: %v; the silent one: %v", has(yes), has(silent))
	}
}

func mustAudience(t *testing.T, src string) broadcast.Audience {
	a, err := broadcast.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestReminderFiresOnceAndResumes: a resident asks a guide step to remind
// them tomorrow morning; the reminder arrives once, at 07:30 in the
// deployment's timezone (the runner's clock is moved there), and its button
// takes them back to that step. A reminder they cancel, and one left when
// they send /stop, never arrive.
func TestReminderFiresOnceAndResumes(t *testing.T) {
	api := telegramtest.New(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	h := startBroadcasts(t, api, withEnv("GOCUA_TIMEZONE", "Asia/Ho_Chi_Minh"), withMain(func(m *Main) {
		m.BroadcastTune = func(c *broadcast.Config) { c.Now, c.Poll = now, 50*time.Millisecond }
	}))
	set := h.main.Flows
	chat := newChatID()
	tapLabel := func(label string) {
		t.Helper()
		msgs := h.sentTo(chat)
		for i := len(msgs) - 1; i >= 0; i-- {
			for _, row := range msgs[i].Keyboard {
				for _, b := range row {
					if plain(b.Text) == plain(label) {
						h.send(buttonUpdate(nextUpdateID(), chat, b.CallbackData))
						h.settle()
						return
					}
				}
			}
		}
		t.Fatalf("no button %q in %q", label, texts(msgs))
	}
	ask := func() string { // open the step, ask for tomorrow morning; returns the cancel button's data
		t.Helper()
		h.send(buttonUpdate(nextUpdateID(), chat, flows.DataOpen("level2#wait_sms")))
		h.settle()
		tapLabel("⏰ Nhắc tôi sau")
		if !containsText(h.sentTo(chat)[len(h.sentTo(chat))-1:], set.Text("vi", "remind_when", nil)) {
			t.Fatalf("no when question: %q", texts(h.sentTo(chat)))
		}
		tapLabel(set.Text("vi", "remind_tomorrow", nil))
		last := h.sentTo(chat)[len(h.sentTo(chat))-1]
		if !strings.Contains(last.Plain, "07:30") {
			t.Fatalf("confirmation %q", last.Plain)
		}
		return last.Keyboard[0][0].CallbackData
	}
	hcm := mustLoc(t, "Asia/Ho_Chi_Minh")
	y, m, d := time.Now().In(hcm).Date()
	due := time.Date(y, m, d+1, 7, 30, 0, 0, hcm)
	ask()
	title := set.Text("vi", "remind_message", map[string]string{"title": "x"})[:20]
	reminders := func() []telegramtest.SentMessage {
		var out []telegramtest.SentMessage
		for _, msg := range h.sentTo(chat) {
			if strings.HasPrefix(plain(msg.Text), plain(title)) {
				out = append(out, msg)
			}
		}
		return out
	}
	clock.Store(due.Add(-time.Minute).UnixNano())
	time.Sleep(300 * time.Millisecond)
	if n := len(reminders()); n != 0 {
		t.Fatalf("%d reminders before their time", n)
	}
	clock.Store(due.Add(time.Second).UnixNano())
	waitUntil(t, 10*time.Second, "the reminder", func() bool { return len(reminders()) == 1 })
	time.Sleep(300 * time.Millisecond) // several ticks: it comes once
	rs := reminders()
	if len(rs) != 1 {
		t.Fatalf("%d reminders, want 1", len(rs))
	}
	h.send(buttonUpdate(nextUpdateID(), chat, rs[0].Keyboard[0][0].CallbackData))
	h.settle()
	conv, _, err := h.main.Redis.Load(context.Background(), key(chat), "")
	if err != nil || conv.Flow.Flow != "level2" || conv.Flow.Step != "wait_sms" {
		t.Fatalf("after the reminder's button: %s/%s, %v", conv.Flow.Flow, conv.Flow.Step, err)
	}
	// cancelled, and cancelled by /stop: neither comes
	clock.Store(time.Now().UnixNano())
	cancel := ask()
	h.send(buttonUpdate(nextUpdateID(), chat, cancel))
	h.settle()
	if !containsText(h.sentTo(chat), set.Text("vi", "remind_cancelled", nil)) {
		t.Fatal("no confirmation of the cancel")
	}
	h.send(buttonUpdate(nextUpdateID(), chat, cancel)) // again: already cancelled
	h.settle()
	if !containsText(h.sentTo(chat), set.Text("vi", "remind_gone", nil)) {
		t.Fatal("a second cancel is not told it is gone")
	}
	ask()
	h.send(textUpdate(nextUpdateID(), chat, "/stop"))
	h.settle()
	clock.Store(due.Add(2 * time.Minute).UnixNano())
	time.Sleep(500 * time.Millisecond)
	if n := len(reminders()); n != 1 {
		t.Fatalf("%d reminders after a cancel and a /stop, want still 1", n)
	}
}

// TestBroadcastImage: gocua broadcast create --image FILE keeps the photo
// in the durable store; Telegram gets it uploaded once and then by the
// file_id it gave, with the text as its caption.
func TestBroadcastImage(t *testing.T) {
	api := telegramtest.New(t)
	h := startBroadcasts(t, api)
	subs := h.residents(3, bot.ConsentYes)
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 200)...)
	file := filepath.Join(t.TempDir(), "ngay-hoi.png")
	if err := os.WriteFile(file, png, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GOCUA_DATABASE_URL": h.db, "GOCUA_TIMEZONE": "Asia/Ho_Chi_Minh"}
	code, out, errs := runCLI(t, env, "broadcast", "create", "--text", "Ngày hội cài VNeID", "--image", file, "--now")
	if code != 0 {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, env, "broadcast", "create", "--text", "x", "--image", filepath.Join(t.TempDir(), "none.png"), "--now"); code != 1 || !strings.Contains(errs, "--image") {
		t.Fatalf("a missing image: %d %q", code, errs)
	}
	text := filepath.Join(t.TempDir(), "note.txt")
	_ = os.WriteFile(text, []byte("not a photo"), 0o600)
	if code, _, errs := runCLI(t, env, "broadcast", "create", "--text", "x", "--image", text, "--now"); code != 1 || !strings.Contains(errs, "not a JPEG, PNG or WebP") {
		t.Fatalf("a text file as image: %d %q", code, errs)
	}
	h.main.Broadcasts.Wake()
	list, _ := h.main.DB.Broadcasts().Broadcasts(context.Background(), 1)
	rep := h.report(list[0].ID, 20*time.Second)
	if rep.Delivered != 3 {
		t.Fatalf("report %+v", rep)
	}
	media := api.MediaSent()
	uploads := 0
	for _, m := range media {
		if m.File.Uploaded {
			uploads++
		}
		if m.Method != "sendPhoto" || m.Plain != "Ngày hội cài VNeID" {
			t.Fatalf("sent %s %q", m.Method, m.Plain)
		}
	}
	if len(media) != len(subs) || uploads != 1 {
		t.Fatalf("%d photos, %d uploaded; want %d and 1", len(media), uploads, len(subs))
	}
}

// photoUpdate is a private-chat photo message with a caption.
func photoUpdate(id, chat int64, caption string) map[string]any {
	u := textUpdate(id, chat, "")
	msg := u["message"].(map[string]any)
	delete(msg, "text")
	msg["photo"] = []map[string]any{{"file_id": "AgACph0to", "file_unique_id": "u1", "width": 90, "height": 90, "file_size": 1200}}
	if caption != "" {
		msg["caption"] = caption
	}
	return u
}
