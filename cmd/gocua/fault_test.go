package main

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store"
	"github.com/gocua/gocua/store/storetest"
)

// The fault suite: gocua child processes on private Redis and PostgreSQL
// servers, driven through the webhook as Telegram drives it, while a
// process, Redis, PostgreSQL or the Bot API fails. What docs/architecture.md
// promises ("Delivery guarantee") is checked from the outside: every
// acknowledged update's reply reaches the fake Bot API, once (a duplicate
// only for a message in flight at a crash), in the conversation's order.
// Each resident's messages are "tin <n>" in the echo flow, whose reply
// repeats them.

// enterAll brings residents into the echo flow, one after the other.
func enterAll(t *testing.T, tl *tally, residents []*resident, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range residents {
		wg.Go(func() { r.enter(t, ctx, tl, base) })
	}
	wg.Wait()
}

func newResidents(n int) []*resident {
	rs := make([]*resident, n)
	for i := range rs {
		rs[i] = newResident()
	}
	return rs
}

func to(urls ...string) func(*resident, int) []string {
	return func(*resident, int) []string { return urls }
}

// kill -9 under load: 300 updates a second for 10 s, SIGKILL at 5 s, the
// same replica started again at once. Updates without a 2xx are re-sent
// until they get one (to the restarted process); every acknowledged one's
// reply arrives, duplicates at most the messages in flight at the kill.
func TestFaultKillUnderLoad(t *testing.T) {
	rg := newRig(t, storetest.RedisOptions{})
	p := rg.replica("replica-1", nil)
	// Telegram sends a chat's next update only after the last got its 2xx:
	// 300 a second need many chats at once
	residents := newResidents(150)
	tl := &tally{}
	enterAll(t, tl, residents, p.url)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	began := time.Now()
	wg.Go(func() { load(ctx, tl, residents, 300, 0, to(p.url)) })
	time.Sleep(5 * time.Second)
	p.kill()
	killed := time.Now()
	time.Sleep(200 * time.Millisecond) // sends already on the wire reach the fake Bot API
	flight := inFlight(t, rg.api, rg.redis.URL(0))
	p.start()
	t.Logf("killed at %v, running again %v later; %d replies in flight at the kill", killed.Sub(began).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), flight)
	wg.Wait()
	// the messages cut off at 10 s: delivered until acknowledged, as Telegram would
	finish(t, tl, residents, p.url)
	sent := 0
	for _, r := range residents {
		sent += r.next
	}
	ok, failed, none := tl.counts()
	t.Logf("%d updates in %v (%.0f/s): %d attempts answered 2xx, %d non-2xx, %d unanswered", sent, 10*time.Second, float64(sent)/10, ok, failed, none)

	waitDelivered(t, rg.api, residents, 60*time.Second)
	a := check(rg.api, residents)
	t.Logf("%d acknowledged, %d replies, %d duplicates (in flight at the kill: %d), %d lost", a.acked, a.replies, a.duplicates, flight, a.lost)
	if a.lost > 0 || a.unacked > 0 {
		t.Errorf("%d acknowledged updates lost their reply; %d updates never acknowledged", a.lost, a.unacked)
	}
	if a.duplicates > flight {
		t.Errorf("%d duplicate replies, more than the %d in flight at the kill", a.duplicates, flight)
	}
	if len(a.outOfOrder) > 0 {
		t.Errorf("replies out of order: %v", a.outOfOrder[:min(10, len(a.outOfOrder))])
	}
	if sent < 1000 {
		t.Errorf("only %d updates sent under load: the test proves little", sent)
	}
	if missing := unrecorded(t, rg.pg.URL(), residents); len(missing) > 0 {
		t.Errorf("%d acknowledged updates have no durable record: %v", len(missing), missing[:min(10, len(missing))])
	}
}

// finish delivers each resident's message that was cut off when the load
// ended (said, not acknowledged) until it is acknowledged.
func finish(t *testing.T, tl *tally, residents []*resident, targets ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range residents {
		r.mu.Lock()
		var cut []int
		for n := range r.next {
			if !r.acks[n] {
				cut = append(cut, n)
			}
		}
		r.mu.Unlock()
		wg.Go(func() {
			for _, n := range cut {
				r.mu.Lock()
				id := r.ids[n]
				r.mu.Unlock()
				if deliver(ctx, tl, targets, textUpdate(id, r.chat, "tin "+strconv.Itoa(n))) {
					r.mu.Lock()
					r.acks[n] = true
					r.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("updates still not acknowledged after 60 s")
	}
}

// Two replicas on the same stores. One chat's messages alternate between
// them (each sent once the last got its 2xx, as Telegram sends): the
// replies stay in order, each once. Then every update goes to both at
// once: one reply each, in order.
func TestFaultTwoReplicas(t *testing.T) {
	rg := newRig(t, storetest.RedisOptions{})
	a := rg.replica("replica-a", nil)
	b := rg.replica("replica-b", nil)
	tl := &tally{}

	split := newResidents(40)
	enterAll(t, tl, split, a.url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	load(ctx, tl, split, 200, 15, func(_ *resident, n int) []string {
		if n%2 == 0 {
			return []string{a.url}
		}
		return []string{b.url}
	})

	both := newResidents(20)
	enterAll(t, tl, both, b.url)
	var wg sync.WaitGroup
	for _, r := range both {
		wg.Go(func() {
			for range 10 {
				if !r.sayEach(ctx, tl, []string{a.url}, []string{b.url}) {
					return
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("updates not acknowledged within 60 s")
	}

	all := append(split, both...)
	waitDelivered(t, rg.api, all, 30*time.Second)
	for name, rs := range map[string][]*resident{"split across replicas": split, "sent to both": both} {
		a := check(rg.api, rs)
		t.Logf("%s: %d acknowledged, %d replies, %d duplicates, %d lost", name, a.acked, a.replies, a.duplicates, a.lost)
		if a.lost > 0 || a.duplicates > 0 || a.unacked > 0 {
			t.Errorf("%s: %d replies lost, %d duplicated, %d updates never acknowledged; want each reply once", name, a.lost, a.duplicates, a.unacked)
		}
		if len(a.outOfOrder) > 0 {
			t.Errorf("%s: replies out of order: %v", name, a.outOfOrder[:min(10, len(a.outOfOrder))])
		}
	}
	if missing := unrecorded(t, rg.pg.URL(), all); len(missing) > 0 {
		t.Errorf("%d acknowledged updates have no durable record: %v", len(missing), missing[:min(10, len(missing))])
	}
}

// Redis killed mid-load and started again 3 s later, with its data on disk
// (AOF, fsync always: what Redis acknowledged survives) and without
// persistence (it comes back empty). While it is gone every webhook
// answers non-2xx (the residents re-send, as Telegram would) and gocua
// keeps running; it serves again soon after Redis is back. With AOF no
// acknowledged reply is lost; without, the residents whose conversation
// state was lost are answered as at the start — the main menu, with the
// not-understood apology for the text they sent — and can carry on.
func TestFaultRedisRestart(t *testing.T) {
	for _, aof := range []bool{true, false} {
		name := "volatile"
		if aof {
			name = "aof"
		}
		t.Run(name, func(t *testing.T) { testRedisRestart(t, aof) })
	}
}

func testRedisRestart(t *testing.T, aof bool) {
	rg := newRig(t, storetest.RedisOptions{AOF: aof})
	p := rg.replica("replica-1", nil)
	pid := p.pid()
	residents := newResidents(30)
	tl := &tally{}
	enterAll(t, tl, residents, p.url)
	// and one resident two steps into a bundled guide, about to tap the next step
	walker, step := newChatID(), ""
	sendTo := func(u map[string]any) {
		t.Helper()
		if !deliver(context.Background(), tl, []string{p.url}, u) {
			t.Fatal("update not acknowledged")
		}
	}
	lastTo := func(chat int64, after int) telegramtest.SentMessage {
		t.Helper()
		waitUntil(t, 10*time.Second, "a reply", func() bool { return len(sentTo(rg.api, chat)) > after })
		p.waitIdle(t)
		msgs := sentTo(rg.api, chat)
		return msgs[len(msgs)-1]
	}
	sendTo(textUpdate(nextUpdateID(), walker, "/start"))
	step = firstFlowButton(t, lastTo(walker, 0))
	for range 2 {
		n := len(sentTo(rg.api, walker))
		sendTo(buttonUpdate(nextUpdateID(), walker, step))
		step = firstFlowButton(t, lastTo(walker, n))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { load(ctx, tl, residents, 100, 0, to(p.url)) })
	time.Sleep(3 * time.Second)
	rg.redis.Kill()
	down := time.Now()
	later := make(map[*resident]int, len(residents)) // from this number on, said after the kill
	for _, r := range residents {
		r.mu.Lock()
		later[r] = r.next
		r.mu.Unlock()
	}
	time.Sleep(3 * time.Second)
	up := time.Now()
	rg.redis.Start()
	var back time.Time
	waitUntil(t, 30*time.Second, "a webhook answered 2xx after Redis came back", func() bool {
		var ok bool
		back, ok = tl.firstOKAfter(up)
		return ok
	})
	t.Logf("Redis down for %v; the first update after its return was acknowledged %v after it", up.Sub(down).Round(time.Millisecond), back.Sub(up).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // load goes on
	cancel()
	wg.Wait()
	finish(t, tl, residents, p.url)

	var ok, failed, none int
	for _, a := range tl.within(down, up) {
		switch {
		case a.code == 0:
			none++
		case a.code < 300:
			ok++
		default:
			failed++
		}
	}
	t.Logf("while Redis was down: %d webhook answers non-2xx, %d none, %d 2xx", failed, none, ok)
	if ok > 0 || failed == 0 {
		t.Errorf("while Redis was down %d updates were acknowledged and %d refused; want none acknowledged, some refused", ok, failed)
	}
	if !p.alive() || p.pid() != pid {
		t.Fatal("gocua did not survive Redis going away")
	}
	if code := p.status("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d after Redis came back, want 200", code)
	}

	if aof {
		waitDelivered(t, rg.api, residents, 60*time.Second)
		a := check(rg.api, residents)
		t.Logf("%d acknowledged, %d replies, %d duplicates, %d lost", a.acked, a.replies, a.duplicates, a.lost)
		if a.lost > 0 || a.unacked > 0 {
			t.Errorf("%d acknowledged updates lost their reply; %d never acknowledged", a.lost, a.unacked)
		}
		// at most the messages handed to the Bot API while Redis went away
		if a.duplicates > 16 {
			t.Errorf("%d duplicate replies, more than one per send worker", a.duplicates)
		}
		if len(a.outOfOrder) > 0 {
			t.Errorf("replies out of order: %v", a.outOfOrder[:min(10, len(a.outOfOrder))])
		}
		// the walker's place in the guide survived: its tap goes on, no apology
		fl, err := loadFlows(rg.env["GOCUA_FLOWS_DIR"])
		if err != nil {
			t.Fatal(err)
		}
		n := len(sentTo(rg.api, walker))
		sendTo(buttonUpdate(nextUpdateID(), walker, step))
		lastTo(walker, n)
		if got := sentTo(rg.api, walker)[n:]; containsText(got, fl.Text("vi", "restart", nil)) || containsText(got, fl.Text("vi", "stale_button", nil)) {
			t.Errorf("with AOF, a tap in the guide after the Redis restart got %q: the conversation was lost", texts(got))
		}
		return
	}

	// without persistence: each resident's first message after the outage
	// finds no conversation and is answered with the menu
	fl, err := loadFlows(rg.env["GOCUA_FLOWS_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	menu, sorry := plain(fl.Text("vi", "menu", nil)), plain(fl.Text("vi", "not_understood", nil))
	waitUntil(t, 30*time.Second, "every resident's menu", func() bool {
		for _, r := range residents {
			if _, other := echoes(rg.api, r.chat); countPlain(other, menu) == 0 {
				return false
			}
		}
		return true
	})
	for _, r := range residents {
		nums, other := echoes(rg.api, r.chat)
		if countPlain(other, sorry) == 0 {
			t.Errorf("chat %d: after losing its state, no apology in %q", r.chat, other)
		}
		for _, n := range nums {
			if n >= later[r] {
				t.Errorf("chat %d: message %d, said after Redis lost the conversation, was echoed: the flow state survived?", r.chat, n)
			}
		}
	}
	a := check(rg.api, residents)
	t.Logf("without persistence: %d of %d acknowledged messages got no echo (state or outbox lost with Redis, or answered with the menu)", a.lost, a.acked)
	// the walker's tap of a step of a guide it is no longer in: the apology for the lost conversation, then the menu
	n := len(sentTo(rg.api, walker))
	sendTo(buttonUpdate(nextUpdateID(), walker, step))
	lastTo(walker, n)
	if got := sentTo(rg.api, walker)[n:]; !containsText(got, fl.Text("vi", "restart", nil)) || !containsText(got, fl.Text("vi", "menu", nil)) {
		t.Errorf("a tap in a guide whose state Redis lost got %q, want the restart apology and the menu", texts(got))
	}
	// and they carry on: back into the flow, and their words echo again
	enterAll(t, tl, residents, p.url)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	for _, r := range residents {
		from := r.next
		load(ctx2, tl, []*resident{r}, 1000, from+1, to(p.url))
		waitUntil(t, 30*time.Second, "the echo after re-entering", func() bool {
			nums, _ := echoes(rg.api, r.chat)
			return slices.Contains(nums, from)
		})
	}
}

// countPlain counts the texts that contain want.
func countPlain(texts []string, want string) int {
	n := 0
	for _, s := range texts {
		if strings.Contains(s, want) {
			n++
		}
	}
	return n
}

// PostgreSQL crashes (pg_ctl -m immediate) under load and stays down for
// 30 s. Meanwhile every webhook answers non-2xx and /readyz says not
// ready; a resident's message in a guide that came as it went is still
// answered (committed, its record left to the re-delivery); afterwards /readyz is ready again, every acknowledged update's
// reply arrives once, in order, and the tickets and broadcast made before
// the crash are as they were.
func TestFaultPostgresDown(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the others
	rg := newRig(t, storetest.RedisOptions{})
	p := rg.replica("replica-1", nil)
	bg := context.Background()
	tl := &tally{}

	// before: three residents waiting for a volunteer, and a broadcast for tomorrow
	askers := newResidents(3)
	for _, r := range askers {
		for _, u := range []map[string]any{
			textUpdate(nextUpdateID(), r.chat, "/start"),
			buttonUpdate(nextUpdateID(), r.chat, "nav:human"),
			buttonUpdate(nextUpdateID(), r.chat, "in:t:vneid"),
			buttonUpdate(nextUpdateID(), r.chat, "in:skip"),
			textUpdate(nextUpdateID(), r.chat, "Tôi không nhận được mã OTP"),
		} {
			if !deliver(bg, tl, []string{p.url}, u) {
				t.Fatal("handoff not acknowledged")
			}
		}
	}
	db, err := store.OpenPostgres(bg, rg.pg.URL(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rdb, err := store.OpenRedis(bg, rg.redis.URL(0), store.RedisOptions{Owner: "inspector"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	type ticketSnap struct {
		t    store.Ticket
		msgs int
	}
	tickets := func() map[int64]ticketSnap {
		out := map[int64]ticketSnap{}
		for _, r := range askers {
			c, _, err := rdb.Load(bg, key(r.chat), "")
			if err != nil || c.Ticket == 0 {
				t.Fatalf("chat %d has no ticket: %v", r.chat, err)
			}
			tk, err := db.Ticket(bg, c.Ticket)
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := db.TicketMessages(bg, c.Ticket)
			if err != nil {
				t.Fatal(err)
			}
			out[c.Ticket] = ticketSnap{tk, len(msgs)}
		}
		return out
	}
	ticketsBefore := tickets()
	bc := broadcast.Broadcast{Text: "Chủ nhật tổ công nghệ số trực ở nhà văn hoá", Audience: "all",
		At: time.Now().Add(24 * time.Hour).Truncate(time.Second), State: broadcast.Active, CreatedBy: "test"}
	if bc.ID, err = db.Broadcasts().CreateBroadcast(bg, bc); err != nil {
		t.Fatal(err)
	}
	bcBefore, err := db.Broadcasts().Broadcast(bg, bc.ID)
	if err != nil {
		t.Fatal(err)
	}

	residents := newResidents(20)
	enterAll(t, tl, residents, p.url)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { load(ctx, tl, residents, 40, 0, to(p.url)) })
	time.Sleep(2 * time.Second)
	sentDown := len(rg.api.Sent())
	rg.pg.Crash()
	down := time.Now()
	notReady := 0
	for time.Since(down) < 30*time.Second {
		if p.status("/readyz") == http.StatusServiceUnavailable {
			notReady++
		}
		time.Sleep(time.Second)
	}
	sentWhileDown := len(rg.api.Sent()) - sentDown
	up := time.Now()
	rg.pg.Start()
	waitUntil(t, 30*time.Second, "/readyz after PostgreSQL came back", func() bool { return p.status("/readyz") == http.StatusOK })
	ready := time.Since(up)
	var back time.Time
	waitUntil(t, 30*time.Second, "a webhook answered 2xx after PostgreSQL came back", func() bool {
		var ok bool
		back, ok = tl.firstOKAfter(up)
		return ok
	})
	t.Logf("PostgreSQL down %v; /readyz not ready in %d of 30 looks; ready %v and the first update acknowledged %v after its return",
		up.Sub(down).Round(time.Millisecond), notReady, ready.Round(time.Millisecond), back.Sub(up).Round(time.Millisecond))
	if notReady < 25 {
		t.Errorf("/readyz said not ready in only %d of 30 looks while PostgreSQL was down", notReady)
	}
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	finish(t, tl, residents, p.url)

	var ok, failed, none int
	for _, a := range tl.within(down, up) {
		switch {
		case a.code == 0:
			none++
		case a.code < 300:
			ok++
		default:
			failed++
		}
	}
	t.Logf("while PostgreSQL was down: %d webhook answers non-2xx, %d none, %d 2xx; %d replies sent", failed, none, ok, sentWhileDown)
	// each resident's message that came as PostgreSQL went is committed and
	// answered; it is acknowledged, and the resident's next sent, only once
	// its record is in
	if sentWhileDown < len(residents)/2 {
		t.Errorf("while PostgreSQL was down %d replies were sent to %d residents in a guide; want most of them answered once", sentWhileDown, len(residents))
	}
	if ok > 0 || failed == 0 {
		t.Errorf("while PostgreSQL was down %d updates were acknowledged and %d refused; want none acknowledged, some refused", ok, failed)
	}
	waitDelivered(t, rg.api, residents, 60*time.Second)
	a := check(rg.api, residents)
	t.Logf("%d acknowledged, %d replies, %d duplicates, %d lost", a.acked, a.replies, a.duplicates, a.lost)
	if a.lost > 0 || a.duplicates > 0 || a.unacked > 0 {
		t.Errorf("%d replies lost, %d duplicated, %d updates never acknowledged; want each once", a.lost, a.duplicates, a.unacked)
	}
	if len(a.outOfOrder) > 0 {
		t.Errorf("replies out of order: %v", a.outOfOrder[:min(10, len(a.outOfOrder))])
	}
	if missing := unrecorded(t, rg.pg.URL(), residents); len(missing) > 0 {
		t.Errorf("%d acknowledged updates have no durable record: %v", len(missing), missing[:min(10, len(missing))])
	}
	if after := tickets(); !reflect.DeepEqual(after, ticketsBefore) {
		t.Errorf("tickets changed across the outage:\nbefore %+v\nafter  %+v", ticketsBefore, after)
	}
	if bcAfter, err := db.Broadcasts().Broadcast(bg, bc.ID); err != nil || !reflect.DeepEqual(bcAfter, bcBefore) {
		t.Errorf("broadcast across the outage: %+v, %v; want %+v", bcAfter, err, bcBefore)
	}
}

// memoryWatch samples a replica's resident memory and its Telegram send
// queue every 200 ms until stopped, keeping the peaks.
type memoryWatch struct {
	stop      chan struct{}
	done      chan struct{}
	base      int64
	peakRSS   int64
	peakQueue float64
}

func watchMemory(t *testing.T, p *replica) *memoryWatch {
	t.Helper()
	base, err := p.rss()
	if err != nil {
		t.Fatal(err)
	}
	w := &memoryWatch{stop: make(chan struct{}), done: make(chan struct{}), base: base, peakRSS: base}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			if rss, err := p.rss(); err == nil {
				w.peakRSS = max(w.peakRSS, rss)
			}
			if q, err := p.metric(`gocua_send_queue{channel="telegram"}`); err == nil {
				w.peakQueue = max(w.peakQueue, q)
			}
		}
	}()
	return w
}

// end stops the sampling (the peaks may be read after it).
func (w *memoryWatch) end() {
	close(w.stop)
	<-w.done
}

// A Bot API that answers every call in 5 s, then one that answers 500 to
// every call for a minute: replies pile up in the sender, whose memory
// stays bounded, and all go out, once each and in order, when the Bot API
// recovers.
func TestFaultSlowBotAPI(t *testing.T) {
	rg := newRig(t, storetest.RedisOptions{})
	p := rg.replica("replica-1", nil)
	tl := &tally{}
	residents := newResidents(50)
	enterAll(t, tl, residents, p.url)
	p.waitIdle(t)
	mem := watchMemory(t, p)
	rg.front.delay.Store(int64(5 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	load(ctx, tl, residents, 100, 20, to(p.url)) // 1,000 updates in about 10 s
	if ctx.Err() != nil {
		t.Fatal("updates not acknowledged within 60 s with a slow Bot API")
	}
	held, err := p.metric(`gocua_send_queue{channel="telegram"}`)
	if err != nil {
		t.Fatal(err)
	}
	rg.front.delay.Store(0)
	waitDelivered(t, rg.api, residents, 60*time.Second)
	mem.end()
	a := check(rg.api, residents)
	t.Logf("slow Bot API: %d replies held when the load ended (peak %.0f; %d calls waited at once); RSS %.1f MiB before, peak %.1f MiB; then %d replies, %d duplicates, %d lost",
		int(held), mem.peakQueue, rg.front.peak.Load(), mib(mem.base), mib(mem.peakRSS), a.replies, a.duplicates, a.lost)
	if held < 500 {
		t.Errorf("only %.0f replies waited for the slow Bot API: the test proves little", held)
	}
	if a.lost > 0 || a.duplicates > 0 || a.unacked > 0 || len(a.outOfOrder) > 0 {
		t.Errorf("%d replies lost, %d duplicated, %d never acknowledged, out of order: %v", a.lost, a.duplicates, a.unacked, a.outOfOrder)
	}
	// 1,000 short replies: well under a MiB of payload. What the process
	// holds beyond that is the race detector's shadow memory and buffers;
	// a queue that copied or leaked per message would grow far past this.
	if grow := mem.peakRSS - mem.base; grow > 256<<20 {
		t.Errorf("RSS grew by %.1f MiB while 1,000 replies waited", mib(grow))
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// A Bot API answering 500 to every call for a minute: the sender retries
// with backoff (its 8 tries span more than a minute and a half, so none
// gives up), memory stays bounded, and once the Bot API answers again
// every reply goes out once, in order.
func TestFaultBotAPIFailsForAMinute(t *testing.T) {
	t.Parallel() // mostly waiting: runs beside the others
	rg := newRig(t, storetest.RedisOptions{})
	p := rg.replica("replica-1", nil)
	tl := &tally{}
	residents := newResidents(30)
	enterAll(t, tl, residents, p.url)
	p.waitIdle(t)
	mem := watchMemory(t, p)
	rg.front.fail.Store(true)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	load(ctx, tl, residents, 50, 10, to(p.url)) // 300 updates in about 6 s
	if ctx.Err() != nil {
		t.Fatal("updates not acknowledged within 50 s while the Bot API failed")
	}
	time.Sleep(time.Minute - time.Since(began))
	held, err := p.metric(`gocua_send_queue{channel="telegram"}`)
	if err != nil {
		t.Fatal(err)
	}
	rg.front.fail.Store(false)
	recovered := time.Now()
	sentBefore := len(rg.api.Sent()) // each resident's entry reply, and what got through
	// the longest backoff before a retry is 64 s
	waitDelivered(t, rg.api, residents, 100*time.Second)
	drained := time.Since(recovered)
	mem.end()
	a := check(rg.api, residents)
	t.Logf("Bot API failing for %v: %d calls answered 500, %d replies held at the end (peak %.0f), %d delivered meanwhile; RSS %.1f MiB before, peak %.1f MiB; all delivered %v after it recovered: %d replies, %d duplicates, %d lost",
		recovered.Sub(began).Round(time.Second), rg.front.failed.Load(), int(held), mem.peakQueue, sentBefore-len(residents),
		mib(mem.base), mib(mem.peakRSS), drained.Round(time.Second), a.replies, a.duplicates, a.lost)
	if held < 300 {
		t.Errorf("%.0f replies held after a minute of 500s, want the 300 committed", held)
	}
	if a.lost > 0 || a.duplicates > 0 || a.unacked > 0 || len(a.outOfOrder) > 0 {
		t.Errorf("%d replies lost, %d duplicated, %d never acknowledged, out of order: %v", a.lost, a.duplicates, a.unacked, a.outOfOrder)
	}
	if grow := mem.peakRSS - mem.base; grow > 256<<20 {
		t.Errorf("RSS grew by %.1f MiB while 300 replies waited", mib(grow))
	}
	if strings.Contains(p.logs(), "giving up on message") {
		t.Error("the sender gave up on a message within a minute of 500s")
	}
}

// 1,000 updates, each delivered 10 times — 5 copies at once, then 5 more
// once everything was answered — make 1,000 replies: 0 duplicates.
func TestFaultRedeliveredUpdates(t *testing.T) {
	rg := newRig(t, storetest.RedisOptions{})
	p := rg.replica("replica-1", nil)
	tl := &tally{}
	residents := newResidents(100)
	enterAll(t, tl, residents, p.url)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	copies := [][]string{{p.url}, {p.url}, {p.url}, {p.url}, {p.url}}
	var wg sync.WaitGroup
	for _, r := range residents {
		wg.Go(func() {
			for range 10 {
				if !r.sayEach(ctx, tl, copies...) {
					return
				}
			}
		})
	}
	wg.Wait()
	p.waitIdle(t)
	// later: Telegram delivers each again, 5 times at once
	for _, r := range residents {
		wg.Go(func() {
			for n := range r.next {
				r.mu.Lock()
				u := textUpdate(r.ids[n], r.chat, "tin "+strconv.Itoa(n))
				r.mu.Unlock()
				var cw sync.WaitGroup
				for range 5 {
					cw.Go(func() { deliver(ctx, tl, []string{p.url}, u) })
				}
				cw.Wait()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("re-deliveries not acknowledged within 120 s")
	}
	waitDelivered(t, rg.api, residents, 30*time.Second)
	ok, failed, none := tl.counts()
	a := check(rg.api, residents)
	t.Logf("%d deliveries (%d answered 2xx, %d non-2xx, %d none) of %d updates: %d replies, %d duplicates, %d lost",
		ok+failed+none, ok, failed, none, a.acked, a.replies, a.duplicates, a.lost)
	if a.acked != 1000 || a.replies != 1000 || a.duplicates > 0 || a.lost > 0 || len(a.outOfOrder) > 0 {
		t.Errorf("%d updates acknowledged, %d replies (%d duplicates, %d lost, out of order %v); want 1,000 once each",
			a.acked, a.replies, a.duplicates, a.lost, a.outOfOrder)
	}
}
