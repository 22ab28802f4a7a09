package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
	"weak"
)

// fakeDeliverer records deliveries and fails as told.
type fakeDeliverer struct {
	mu    sync.Mutex
	sent  []Outbound
	at    []time.Time
	fail  map[string][]error // by Outbound.ID: errors to return before succeeding
	delay time.Duration
}

func (f *fakeDeliverer) Deliver(ctx context.Context, o Outbound) error {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if errs := f.fail[o.ID]; len(errs) > 0 {
		f.fail[o.ID] = errs[1:]
		return errs[0]
	}
	f.sent = append(f.sent, o)
	f.at = append(f.at, time.Now())
	return nil
}

// sentCount counts the sends of message id, and of its pieces.
func (f *fakeDeliverer) sentCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, o := range f.sent {
		if o.ID == id || strings.HasPrefix(o.ID, id+"#") {
			n++
		}
	}
	return n
}

func (f *fakeDeliverer) snapshot() ([]Outbound, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Outbound(nil), f.sent...), append([]time.Time(nil), f.at...)
}

// memOutbox is an in-memory Outbox port for sender unit tests: per
// conversation lists, leases (owner "me" unless another holds them), and an
// index for Stale. The Redis implementation has its own contract tests.
type memOutbox struct {
	mu      sync.Mutex
	lists   map[ConvKey][]Outbound
	holder  map[ConvKey]string // lease owner; "me" is the sender under test
	mark    map[ConvKey]int64
	done    []string
	claims  int
	renewed [][]ConvKey
	freed   []ConvKey
	// failDone makes Done of a message id fail this many times
	failDone map[string]int
}

func newMemOutbox(pending ...Outbound) *memOutbox {
	m := &memOutbox{lists: map[ConvKey][]Outbound{}, holder: map[ConvKey]string{}, mark: map[ConvKey]int64{}}
	for _, o := range pending {
		m.add(o)
	}
	return m
}

// add appends o as a commit by the sender under test would.
func (m *memOutbox) add(o Outbound) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lists[o.Key] = append(m.lists[o.Key], o)
	m.mark[o.Key] = time.Now().Add(-time.Hour).UnixMilli()
}

func (m *memOutbox) Claim(_ context.Context, key ConvKey) ([]Outbound, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims++
	if len(m.lists[key]) == 0 {
		return nil, false, nil
	}
	if h := m.holder[key]; h != "" && h != "me" {
		return nil, true, nil
	}
	m.holder[key] = "me"
	return append([]Outbound(nil), m.lists[key]...), false, nil
}

func (m *memOutbox) Done(_ context.Context, key ConvKey, id string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failDone[id] > 0 {
		m.failDone[id]--
		return 0, errors.New("redis: connection refused")
	}
	m.done = append(m.done, id)
	l := m.lists[key]
	for i, o := range l {
		if o.ID == id {
			m.lists[key] = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	return len(m.lists[key]), nil
}

func (m *memOutbox) TakeStale(_ context.Context, ch Channel, before time.Time, limit int) ([]Outbound, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var msgs []Outbound
	listed := 0
	for k, mark := range m.mark {
		if k.Channel != ch || mark >= before.UnixMilli() || listed == limit {
			continue
		}
		listed++
		switch h := m.holder[k]; {
		case len(m.lists[k]) == 0:
			delete(m.mark, k)
		case h != "" && h != "me":
			m.mark[k] = time.Now().UnixMilli()
		default:
			m.holder[k] = "me"
			msgs = append(msgs, m.lists[k]...)
			m.mark[k] = time.Now().UnixMilli()
		}
	}
	return msgs, listed, nil
}

func (m *memOutbox) Renew(_ context.Context, keys []ConvKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.renewed = append(m.renewed, keys)
	return nil
}

func (m *memOutbox) Release(_ context.Context, keys []ConvKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freed = append(m.freed, keys...)
	return nil
}

func (m *memOutbox) doneIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.done...)
}

type unreach struct {
	mu   sync.Mutex
	keys []ConvKey
}

func (u *unreach) SetReachable(_ context.Context, k ConvKey, r bool, _ time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !r {
		u.keys = append(u.keys, k)
	}
	return nil
}

func startSender(t *testing.T, cfg SenderConfig, d Deliverer, ob Outbox, u Unreachables) *Sender {
	t.Helper()
	if cfg.Limits.MaxText == 0 {
		cfg.Limits = Limits{MaxText: 4096, MaxCallbackData: 64}
	}
	if cfg.Channel == "" {
		cfg.Channel = ChannelTelegram
	}
	s := NewSender(cfg, d, ob, u, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func msg(chat string, id string, text string) Outbound {
	return Outbound{ID: id, Key: ConvKey{ChannelTelegram, chat}, Text: text}
}

func TestSenderPacesPerChatAndKeepsOrder(t *testing.T) {
	d := &fakeDeliverer{}
	ob := newMemOutbox()
	s := startSender(t, SenderConfig{Rate: 1000, PerChat: 20}, d, ob, nil)
	for i := range 5 {
		s.Enqueue(msg("a", fmt.Sprintf("u/%d", i), "a"), msg("b", fmt.Sprintf("v/%d", i), "b"))
	}
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 10 })
	sent, at := d.snapshot()
	var last time.Time
	n := 0
	for i, o := range sent {
		if o.Key.ChatID != "a" {
			continue
		}
		if want := fmt.Sprintf("u/%d", n); o.ID != want {
			t.Fatalf("chat a message %d is %s, want %s", n, o.ID, want)
		}
		if n > 0 && at[i].Sub(last) < 40*time.Millisecond { // 20/s ⇒ ≥ 50 ms apart (slack for timers)
			t.Errorf("chat a messages %d and %d only %v apart", n-1, n, at[i].Sub(last))
		}
		last = at[i]
		n++
	}
	waitFor(t, time.Second, func() bool { return len(ob.doneIDs()) == 10 })
}

func TestSenderHonoursRetryAfter(t *testing.T) {
	d := &fakeDeliverer{fail: map[string][]error{"u/0": {&RetryAfterError{After: 2 * time.Second, Err: errors.New("429")}}}}
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, nil, nil)
	start := time.Now()
	s.Enqueue(msg("a", "u/0", "hello"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 1 })
	if _, at := d.snapshot(); at[0].Sub(start) < 2*time.Second {
		t.Fatalf("retried after %v, want ≥ 2s", at[0].Sub(start))
	}
}

func TestSenderUnreachableDropsAndMarks(t *testing.T) {
	d := &fakeDeliverer{fail: map[string][]error{"u/0": {fmt.Errorf("%w: blocked", ErrUnreachable)}}}
	ob := newMemOutbox()
	u := &unreach{}
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, ob, u)
	s.Enqueue(msg("a", "u/0", "x"), msg("a", "u/1", "y"))
	waitFor(t, 2*time.Second, func() bool { u.mu.Lock(); defer u.mu.Unlock(); return len(u.keys) == 1 })
	waitFor(t, 2*time.Second, func() bool { return len(ob.doneIDs()) == 2 })
	if sent, _ := d.snapshot(); len(sent) != 0 {
		t.Fatalf("sent %d messages to a resident who blocked the bot", len(sent))
	}
}

func TestSenderRetriesTransientFailures(t *testing.T) {
	d := &fakeDeliverer{fail: map[string][]error{"u/0": {errors.New("500")}}}
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, nil, nil)
	s.Enqueue(msg("a", "u/0", "x"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 1 })
}

func TestSenderSplitsLongText(t *testing.T) {
	d := &fakeDeliverer{}
	ob := newMemOutbox()
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100, Limits: Limits{MaxText: 2000}}, d, ob, nil)
	o := msg("a", "u/0", strings.Repeat("Bác bấm nút. ", 400))
	o.Buttons = [][]Button{{{Text: "Menu", Data: "nav:menu"}}}
	s.Enqueue(o)
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 3 })
	sent, _ := d.snapshot()
	for i, p := range sent {
		if TextLen(p.Text) > 2000 {
			t.Errorf("part %d too long", i)
		}
		if (len(p.Buttons) > 0) != (i == len(sent)-1) {
			t.Errorf("part %d buttons = %v; buttons belong on the last part only", i, p.Buttons)
		}
	}
	waitFor(t, time.Second, func() bool { d := ob.doneIDs(); return len(d) == 1 && d[0] == "u/0" })
}

// A photo with a long caption goes first with what its caption may hold;
// the rest follows as text, with the buttons on the last part.
func TestSenderSplitsLongCaption(t *testing.T) {
	d := &fakeDeliverer{}
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100, Limits: Limits{MaxText: 2000, MaxCaption: 1024}}, d, nil, nil)
	o := msg("a", "u/0", strings.Repeat("Làm như hình. ", 200)) // 2,800 characters
	o.Media = &Media{Kind: MediaPhoto, Ref: "telegram:AgAC"}
	o.Buttons = [][]Button{{{Text: "Menu", Data: "nav:menu"}}}
	s.Enqueue(o)
	short := msg("a", "u/1", "ảnh")
	short.Media = &Media{Kind: MediaPhoto, Ref: "telegram:AgAD"}
	s.Enqueue(short)
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 3 })
	sent, _ := d.snapshot()
	if sent[0].Media == nil || TextLen(sent[0].Text) > 1024 || sent[0].Buttons != nil {
		t.Fatalf("first part = media %v, %d characters, buttons %v", sent[0].Media, TextLen(sent[0].Text), sent[0].Buttons)
	}
	if sent[1].Media != nil || sent[1].Buttons == nil || TextLen(sent[1].Text) > 2000 {
		t.Fatalf("second part = media %v, buttons %v", sent[1].Media, sent[1].Buttons)
	}
	if sent[0].ID == sent[1].ID || !strings.HasPrefix(sent[0].ID, "u/0#") {
		t.Fatalf("part ids %q %q", sent[0].ID, sent[1].ID)
	}
	if got := TextLen(sent[0].Text) + TextLen(sent[1].Text); got < 2700 {
		t.Fatalf("%d characters of 2,800 delivered", got)
	}
	if sent[2].ID != "u/1" || sent[2].Media == nil || sent[2].Text != "ảnh" {
		t.Fatalf("a short caption was split: %+v", sent[2])
	}
}

func TestSenderRepliesOvertakeBulk(t *testing.T) {
	d := &fakeDeliverer{delay: 2 * time.Millisecond}
	s := startSender(t, SenderConfig{Rate: 50, PerChat: 1000, Workers: 1}, d, nil, nil)
	for i := range 40 {
		o := msg(fmt.Sprintf("bulk%d", i), fmt.Sprintf("b/%d", i), "news")
		o.Lane = LaneBulk
		s.Enqueue(o)
	}
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) >= 5 })
	before, _ := d.snapshot()
	s.Enqueue(msg("resident", "r/0", "reply"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 41 })
	sent, _ := d.snapshot()
	for i, o := range sent {
		if o.ID == "r/0" {
			// at most the bulk message in flight when the reply arrived (plus
			// one the worker had already picked) may go before it
			if i > len(before)+2 {
				t.Fatalf("reply sent %dth although only %d bulk messages had gone: it waited behind bulk traffic", i, len(before))
			}
			return
		}
	}
}

func TestSenderResumesOutbox(t *testing.T) {
	d := &fakeDeliverer{}
	ob := newMemOutbox(msg("a", "u/0", "x"), msg("a", "u/1", "y"))
	startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, ob, nil)
	waitFor(t, 2*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 2 })
	if sent, _ := d.snapshot(); sent[0].ID != "u/0" || sent[1].ID != "u/1" {
		t.Fatalf("resumed out of order: %v", sent)
	}
}

type chanDeliverer struct{ got chan Outbound }

func (c chanDeliverer) Deliver(_ context.Context, o Outbound) error {
	time.Sleep(500 * time.Microsecond) // a fast platform
	c.got <- o
	return nil
}

// BenchmarkSenderLatency offers 2,000 messages/s over 64 chats and reports
// the time from Enqueue to delivery.
func BenchmarkSenderLatency(b *testing.B) {
	d := chanDeliverer{got: make(chan Outbound, b.N)}
	s := NewSender(SenderConfig{Channel: ChannelTelegram, Rate: 1e6, PerChat: 1000, Burst: 100}, d, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	at := make([]time.Time, b.N)
	lat := make([]time.Duration, 0, b.N)
	done := make(chan struct{})
	go func() {
		for o := range d.got {
			i, _ := strconv.Atoi(o.ID)
			lat = append(lat, time.Since(at[i]))
			if len(lat) == b.N {
				close(done)
				return
			}
		}
	}()
	b.ResetTimer()
	for i := range b.N {
		at[i] = time.Now()
		s.Enqueue(Outbound{ID: strconv.Itoa(i), Key: ConvKey{ChannelTelegram, strconv.Itoa(i % 64)}, Text: "x"})
		time.Sleep(500 * time.Microsecond)
	}
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSenderManyChats answers N distinct chats once each (a broadcast's
// shape) and reports the heap the sender holds at the peak and after its
// sweep has forgotten the idle chats: the second must not grow with N.
func BenchmarkSenderManyChats(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				benchmarkSenderManyChats(b, n)
			}
		})
	}
}

type nopDeliverer struct{}

func (nopDeliverer) Deliver(context.Context, Outbound) error { return nil }

func heapMB() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

func benchmarkSenderManyChats(b *testing.B, n int) {
	before := heapMB()
	s := NewSender(SenderConfig{Channel: ChannelTelegram, Rate: 1e7, PerChat: 1, Burst: 1, Workers: 16,
		SweepEvery: 50 * time.Millisecond, Remember: 100 * time.Millisecond},
		nopDeliverer{}, nil, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	for i := range n {
		s.Enqueue(Outbound{ID: "u" + strconv.Itoa(i) + "/0", Key: ConvKey{ChannelTelegram, strconv.Itoa(1_000_000 + i)}, Text: "Thứ Bảy 7:30, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hoá."})
	}
	for !s.Idle() {
		time.Sleep(time.Millisecond)
	}
	peak := heapMB() - before
	peakChats := s.Chats()
	for s.Chats() > 0 { // idle chats are forgotten once their pacing no longer matters (1 s)
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // and the finished ids after Remember
	after := heapMB() - before
	cancel()
	<-done
	b.ReportMetric(peak, "peak-heap-MB")
	b.ReportMetric(float64(peakChats), "peak-chats")
	b.ReportMetric(after, "swept-heap-MB")
	b.ReportMetric(float64(s.Chats()), "swept-chats")
}

// fakePacer makes the first calls for a chat wait, then lets them go; it
// records every call, and fails while broken.
type fakePacer struct {
	mu     sync.Mutex
	waits  map[string][]time.Duration // by chat: waits to answer before 0
	calls  []Pace
	paused []time.Duration
	broken bool
}

func (p *fakePacer) Pace(_ context.Context, pc Pace) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, pc)
	if p.broken {
		return 0, errors.New("redis down")
	}
	if w := p.waits[pc.Chat]; len(w) > 0 {
		p.waits[pc.Chat] = w[1:]
		return w[0], nil
	}
	return 0, nil
}

func (p *fakePacer) PauseBulk(_ context.Context, _ Channel, d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = append(p.paused, d)
	return nil
}

// TestSenderSharedPacing: with a shared Pacer, a chat the pacer holds back
// waits as long as it says while other chats go; replies and bulk ask with
// their own bursts; a 429 pauses the bulk lane everywhere; a pacer that
// fails falls back to this process's own pacing instead of stopping.
func TestSenderSharedPacing(t *testing.T) {
	d := &fakeDeliverer{fail: map[string][]error{"c/0": {&RetryAfterError{After: 300 * time.Millisecond, Err: errors.New("429")}}}}
	p := &fakePacer{waits: map[string][]time.Duration{"a": {400 * time.Millisecond}}}
	s := startSender(t, SenderConfig{Rate: 25, PerChat: 100, Pacer: p}, d, nil, nil)
	start := time.Now()
	s.Enqueue(msg("a", "a/0", "held"), msg("b", "b/0", "free"))
	bulk := msg("b", "b/1", "bulk")
	bulk.Lane = LaneBulk
	s.Enqueue(bulk, msg("c", "c/0", "limited"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 4 })
	sent, at := d.snapshot()
	for i, o := range sent {
		switch o.ID {
		case "a/0":
			if at[i].Sub(start) < 400*time.Millisecond {
				t.Errorf("chat a went after %v; the pacer said 400 ms", at[i].Sub(start))
			}
		case "b/0":
			if at[i].Sub(start) > 300*time.Millisecond {
				t.Errorf("chat b waited %v for chat a", at[i].Sub(start))
			}
		}
	}
	p.mu.Lock()
	for _, c := range p.calls {
		if c.Channel != ChannelTelegram || c.Rate != 25 || c.PerChat != 100 || c.Chat == "" {
			t.Errorf("pace call %+v", c)
		}
		if want := map[Lane]int{LaneReply: 5, LaneBulk: 2}[c.Lane]; c.Burst != want {
			t.Errorf("lane %d asked with burst %d, want %d", c.Lane, c.Burst, want)
		}
	}
	if len(p.paused) != 1 || p.paused[0] != 300*time.Millisecond {
		t.Errorf("bulk pauses %v, want one of 300ms after the 429", p.paused)
	}
	p.broken = true
	p.mu.Unlock()
	s.Enqueue(msg("d", "d/0", "pacer down"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 5 })
}

// TestSenderTellsConversationsApart: message ids are unique per
// conversation only (a web chat visitor chooses its own update ids; an id
// may come back in another test run, another channel account), so a
// message of one chat never stands for another chat's with the same id —
// neither while held nor once delivered.
func TestSenderTellsConversationsApart(t *testing.T) {
	d := &fakeDeliverer{}
	ob := newMemOutbox()
	s := startSender(t, SenderConfig{Rate: 1000, PerChat: 100}, d, ob, nil)
	s.Enqueue(msg("a", "lost-1/0", "for a"), msg("b", "lost-1/0", "for b")) // both held at once
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 2 })
	s.Enqueue(msg("c", "lost-1/0", "for c")) // a's and b's are remembered as delivered now
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 3 })
	s.Enqueue(msg("a", "lost-1/0", "for a")) // a's own duplicate is still skipped
	time.Sleep(100 * time.Millisecond)
	if sent, _ := d.snapshot(); len(sent) != 3 {
		t.Fatalf("sent %d, want a, b and c once each", len(sent))
	}
	// the same characters split differently between chat and id
	s.Enqueue(msg("12", "3/0", "for 12"), msg("1", "23/0", "for 1"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 5 })
}

// After the platform comes back, the chats backing off after its outage
// are sent at once, not when their backoffs (up to a minute) end: the
// first success wakes them.
func TestSenderWakesBackoffsWhenThePlatformAnswersAgain(t *testing.T) {
	down := errors.New("500")
	d := &fakeDeliverer{fail: map[string][]error{"a/0": {down, down}, "b/0": {down, down}}}
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100, MaxTries: 8}, d, nil, nil)
	s.Enqueue(msg("a", "a/0", "x"), msg("b", "b/0", "y"))
	// both fail twice: their next tries wait 2–4 s (backoff(2))
	waitFor(t, 10*time.Second, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.fail["a/0"]) == 0 && len(d.fail["b/0"]) == 0
	})
	failed := time.Now()
	s.Enqueue(msg("c", "c/0", "z")) // the platform answers again
	waitFor(t, 10*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 3 })
	sent, at := d.snapshot()
	for i, o := range sent {
		if o.ID != "c/0" && at[i].Sub(failed) >= 2*time.Second {
			t.Errorf("%s waited %v after the platform answered again: its backoff, not woken", o.ID, at[i].Sub(failed))
		}
	}
}

// TestSenderPaidMessages: a reply whose commit spent its pacing budget
// (EnqueuePaid) goes without asking the Pacer; only its first send is
// paid (the next message, and a split message's further pieces, ask); a
// budget spent longer than paidFor ago is asked again; and PaceFor offers
// no check for a chat that holds messages or must wait.
func TestSenderPaidMessages(t *testing.T) {
	d := &fakeDeliverer{}
	p := &fakePacer{}
	s := startSender(t, SenderConfig{Rate: 25, PerChat: 100, Burst: 10, Pacer: p, Limits: Limits{MaxText: 10}}, d, nil, nil)
	calls := func() []string {
		p.mu.Lock()
		defer p.mu.Unlock()
		var chats []string
		for _, c := range p.calls {
			chats = append(chats, c.Chat)
		}
		return chats
	}

	waitFor(t, 5*time.Second, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.idle > 0 })
	pace, ok := s.PaceFor(ConvKey{Channel: ChannelTelegram, ChatID: "a"})
	if !ok || pace != s.pace(ConvKey{Channel: ChannelTelegram, ChatID: "a"}, LaneReply) || pace.Chat != "a" || pace.Lane != LaneReply {
		t.Fatalf("PaceFor an idle chat = %+v, %v; want the reply lane's check", pace, ok)
	}
	if _, ok := s.PaceFor(ConvKey{Channel: ChannelZaloBot, ChatID: "a"}); ok {
		t.Error("PaceFor another channel's chat offered a check")
	}
	s.EnqueuePaid(time.Now(), msg("a", "a/0", "paid"), msg("a", "a/1", "next"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 2 })
	if got := calls(); len(got) != 1 || got[0] != "a" {
		t.Errorf("pacer asked for %v, want once, for a/1 only", got)
	}

	s.EnqueuePaid(time.Now(), msg("b", "b/0", "a text of three pieces"))
	waitFor(t, 5*time.Second, func() bool { return d.sentCount("b/0") == 3 })
	if got := calls(); len(got) != 3 {
		t.Errorf("pacer asked %v; want a/1 and two of b/0's three pieces", got)
	}

	s.EnqueuePaid(time.Now().Add(-2*paidFor), msg("c", "c/0", "stale"))
	waitFor(t, 5*time.Second, func() bool { return d.sentCount("c/0") == 1 })
	if got := calls(); len(got) != 4 || got[3] != "c" {
		t.Errorf("pacer asked %v; want c/0's stale budget asked again", got)
	}

	p.mu.Lock()
	p.waits = map[string][]time.Duration{"e": {time.Hour}}
	p.mu.Unlock()
	s.Enqueue(msg("e", "e/0", "held back"))
	waitFor(t, 5*time.Second, func() bool { return len(calls()) == 5 })
	if _, ok := s.PaceFor(ConvKey{Channel: ChannelTelegram, ChatID: "e"}); ok {
		t.Error("PaceFor a chat holding a message offered a check")
	}
	// a paid message behind another is not paid: it is asked for
	s.EnqueuePaid(time.Now(), msg("e", "e/1", "behind"))
	s.mu.Lock()
	paid := s.chats[ConvKey{Channel: ChannelTelegram, ChatID: "e"}].paid
	s.mu.Unlock()
	if paid != "" {
		t.Errorf("a message queued behind another was marked paid (%q)", paid)
	}

	// with every worker busy, a paid message would wait its turn: no check
	// is offered
	slow := &fakeDeliverer{delay: 300 * time.Millisecond}
	one := startSender(t, SenderConfig{Rate: 25, PerChat: 100, Pacer: &fakePacer{}, Workers: 1}, slow, nil, nil)
	one.Enqueue(msg("x", "x/0", "slow"))
	waitFor(t, 5*time.Second, func() bool { one.mu.Lock(); defer one.mu.Unlock(); return one.idle == 0 && one.queued == 1 })
	if _, ok := one.PaceFor(ConvKey{Channel: ChannelTelegram, ChatID: "y"}); ok {
		t.Error("PaceFor with every worker busy offered a check")
	}
}

// countDeliverer keeps nothing of what it delivers, so that only the sender
// can keep a message alive; it fails the ids in fail with their error.
type countDeliverer struct {
	n    atomic.Int64
	fail map[string]error
}

func (d *countDeliverer) Deliver(_ context.Context, o Outbound) error {
	d.n.Add(1)
	return d.fail[o.ID]
}

// longID is a message id too long for the runtime's tiny allocator, which
// packs small strings together: one of them would live as long as any other
// in its block, and a weak pointer to it says nothing about the sender.
func longID(i int) string { return "update-" + strconv.Itoa(1_000_000_000+i) + "/0" }

// A chat stays in the sender between its messages (until a sweep finds it
// idle), but what was sent, rejected or given up on must not stay with it:
// a resident writing all day would otherwise keep every message's buttons
// and pieces in memory, and the ids the sender remembers (for half a minute, so
// that a late copy is not sent again) must not keep their strings. Weak
// pointers to each message's buttons and id must be cleared by the
// collector while the sender still holds the chat and remembers the ids.
func TestSenderLetsGoOfSentMessages(t *testing.T) {
	d := &countDeliverer{fail: map[string]error{
		longID(3): ErrRejected,
		longID(4): errors.New("platform down"),
	}}
	s := startSender(t, SenderConfig{Rate: 1e6, PerChat: 1e6, Burst: 100, MaxTries: 1,
		SweepEvery: time.Hour, Remember: time.Hour}, d, nil, nil)
	var held []weak.Pointer[Button]
	var ids []weak.Pointer[byte]
	for i, lane := range []Lane{LaneReply, LaneReply, LaneBulk, LaneReply, LaneReply} {
		o := msg("42", longID(i), strings.Repeat("Bác bấm vào nút bên dưới. ", 1+i*200))
		o.Lane = lane
		o.Buttons = [][]Button{{{Text: "Gặp tình nguyện viên", Data: "handoff"}}, {{Text: "Menu chính", Data: "menu"}}}
		held = append(held, weak.Make(&o.Buttons[1][0]))
		ids = append(ids, weak.Make(unsafe.StringData(o.ID)))
		s.Enqueue(o)
	}
	waitFor(t, 5*time.Second, s.Idle)
	if s.Chats() != 1 {
		t.Fatalf("the sender holds %d chats, want the one it just wrote to", s.Chats())
	}
	// (a few collections: a worker's stack that was mid-instruction when one
	// started is scanned conservatively and can keep the last item a moment)
	gone := func() bool {
		for i := range held {
			if held[i].Value() != nil || ids[i].Value() != nil {
				return false
			}
		}
		return true
	}
	for range 20 {
		if runtime.GC(); gone() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range held {
		if held[i].Value() != nil {
			t.Errorf("message %s is still in memory after it left the sender", longID(i))
		}
		if ids[i].Value() != nil {
			t.Errorf("message %s: its id is still in memory; remembering a message must not keep its strings", longID(i))
		}
	}
	// it still remembers them: late copies are not sent again
	sent := d.n.Load()
	for i := range held {
		s.Enqueue(msg("42", longID(i), "again"))
	}
	time.Sleep(50 * time.Millisecond)
	if n := d.n.Load(); n != sent {
		t.Errorf("%d deliveries after late copies of finished messages, want %d as before", n, sent)
	}
}

// A finished message's time in the sender's memory is a 4-byte tick count
// that wraps; it is still remembered for Remember across the wrap, no
// shorter (a late copy within Remember is skipped), and forgotten after.
func TestSenderRemembersAcrossTheClockWrap(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sinceEpoch time.Duration // of the message's finish
	}{
		{"at start", 0},
		{"a day in", 24 * time.Hour},
		{"just before the wrap", (1<<32 - 3) * idTick},
		{"at the wrap", (1 << 32) * idTick},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSender(SenderConfig{Remember: 30 * time.Second}, &fakeDeliverer{}, nil, nil, slog.New(slog.DiscardHandler))
			done := s.epoch.Add(tc.sinceEpoch)
			key := s.msgKey(ConvKey{ChannelTelegram, "42"}, "7/0")
			s.ids[key] = s.finishedAt(done)
			for _, step := range []struct {
				after time.Duration
				kept  bool
			}{
				{-time.Second, true}, // stamped after the sweep read the clock
				{0, true},
				{idTick, true},
				{29 * time.Second, true},
				{30*time.Second - idTick, true},
				{30*time.Second + 2*idTick, false}, // at most two ticks more
			} {
				s.sweepMemory(done.Add(step.after))
				if _, kept := s.ids[key]; kept != step.kept {
					t.Fatalf("%v after it finished: remembered %v, want %v", step.after, kept, step.kept)
				}
			}
		})
	}
}
