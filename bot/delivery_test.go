package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/flows"
)

// Regression tests for the delivery defects found in review: each failed
// before the fix it names.

// A sender refuses another channel's messages without touching the
// resident or the outbox (a restart used to hand every channel's outbox to
// every sender; the web sender marked Telegram residents unreachable and
// deleted their replies).
func TestSenderRefusesAnotherChannelsMessages(t *testing.T) {
	d := &fakeDeliverer{}
	tg := msg("123", "u/0", "xin chào") // a Telegram reply
	ob := newMemOutbox(tg)
	u := &unreach{}
	s := startSender(t, SenderConfig{Channel: ChannelWeb, Rate: 100, PerChat: 100}, d, ob, u)
	s.Enqueue(tg)
	s.Resume(context.Background(), tg.Key)
	time.Sleep(50 * time.Millisecond)
	if sent, _ := d.snapshot(); len(sent) != 0 {
		t.Fatalf("the web sender delivered a Telegram message: %+v", sent)
	}
	if len(u.keys) != 0 {
		t.Fatalf("the web sender marked %v unreachable", u.keys)
	}
	if done := ob.doneIDs(); len(done) != 0 {
		t.Fatalf("the web sender removed %v from the outbox", done)
	}
	if !s.Idle() {
		t.Fatal("the refused message is held")
	}
}

// Each message id is held once, and remembered a while after delivery, so a
// resume racing the service's own Enqueue cannot send a reply twice.
func TestSenderHoldsEachMessageOnce(t *testing.T) {
	d := &fakeDeliverer{delay: 20 * time.Millisecond}
	m := msg("a", "u/0", "một lần thôi")
	ob := newMemOutbox()
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, ob, nil)
	s.Enqueue(m)
	s.Enqueue(m) // the service's Enqueue and a resume of the same commit
	ob.add(m)
	s.Resume(context.Background(), m.Key)
	waitFor(t, 2*time.Second, s.Idle)
	s.Enqueue(m) // a late copy, just after delivery
	time.Sleep(50 * time.Millisecond)
	waitFor(t, 2*time.Second, s.Idle)
	if sent, _ := d.snapshot(); len(sent) != 1 {
		t.Fatalf("delivered %d times, want once", len(sent))
	}
}

// A message the platform rejects is dropped at once: the chat's next
// message does not wait behind retries (it used to take 8 tries, minutes).
func TestSenderDropsRejectedMessagesAtOnce(t *testing.T) {
	d := &fakeDeliverer{fail: map[string][]error{"u/0": {
		fmt.Errorf("telegram: %w: can't parse entities", ErrRejected),
		errors.New("a second attempt was made"),
	}}}
	ob := newMemOutbox()
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, ob, nil)
	s.Enqueue(msg("a", "u/0", "<b>"), msg("a", "u/1", "câu tiếp theo"))
	waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 1 })
	// a transient error's first retry comes after 1–2 s: past that, the
	// rejected message must still be untried and the next one delivered
	time.Sleep(2500 * time.Millisecond)
	if sent, _ := d.snapshot(); len(sent) != 1 || sent[0].ID != "u/1" {
		t.Fatalf("delivered %v, want only the next message", sent)
	}
	d.mu.Lock()
	left := len(d.fail["u/0"])
	d.mu.Unlock()
	if left != 1 {
		t.Fatal("the rejected message was tried again")
	}
	waitFor(t, time.Second, func() bool { return len(ob.doneIDs()) == 2 })
}

// Chats are forgotten once idle: memory does not grow with every resident
// ever answered.
func TestSenderForgetsIdleChats(t *testing.T) {
	d := &fakeDeliverer{}
	s := startSender(t, SenderConfig{Rate: 1e6, PerChat: 1000, Burst: 10, Workers: 16,
		SweepEvery: 20 * time.Millisecond, Remember: 20 * time.Millisecond}, d, newMemOutbox(), nil)
	const chats = 5000
	for i := range chats {
		s.Enqueue(msg(strconv.Itoa(i), "u"+strconv.Itoa(i)+"/0", "x"))
	}
	waitFor(t, 10*time.Second, s.Idle)
	remembered := func() (chats, ids int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.chats), len(s.ids)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		chats, ids := remembered()
		if chats == 0 && ids == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d chats and %d message ids still remembered", chats, ids)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blockingUnreach holds SetReachable until released.
type blockingUnreach struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingUnreach) SetReachable(context.Context, ConvKey, bool, time.Time) error {
	b.entered <- struct{}{}
	<-b.release
	return nil
}

// A message queued while the sender records that a resident blocked the bot
// is still tried (it used to wait for the chat's next message).
func TestSenderTriesMessageQueuedWhileMarkingUnreachable(t *testing.T) {
	d := &fakeDeliverer{fail: map[string][]error{"u/0": {fmt.Errorf("%w: blocked", ErrUnreachable)}}}
	u := &blockingUnreach{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, newMemOutbox(), u)
	s.Enqueue(msg("a", "u/0", "x"))
	<-u.entered
	s.Enqueue(msg("a", "u/1", "the resident unblocked the bot and wrote again"))
	close(u.release)
	waitFor(t, 2*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 1 })
}

// The periodic sweep takes outbox entries nobody delivers (a commit whose
// answer was lost; a crashed replica), but not those another live process
// holds; at shutdown the sender releases the leases of what it still holds.
func TestSenderSweepTakesOverStaleEntries(t *testing.T) {
	d := &fakeDeliverer{}
	orphan := msg("a", "u/0", "nobody sent me")
	other := msg("b", "v/0", "another replica holds me")
	ob := newMemOutbox(orphan, other)
	ob.holder[other.Key] = "replica-2"
	s := NewSender(SenderConfig{Channel: ChannelTelegram, Rate: 100, PerChat: 100, SweepEvery: 20 * time.Millisecond},
		d, ob, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }() // no Recover: the sweep alone
	waitFor(t, 2*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 1 })
	time.Sleep(60 * time.Millisecond)
	if sent, _ := d.snapshot(); len(sent) != 1 || sent[0].ID != "u/0" {
		t.Fatalf("sent %v, want only the orphan", sent)
	}
	d.mu.Lock()
	d.fail = map[string][]error{"w/0": {errors.New("500"), errors.New("500"), errors.New("500")}}
	d.mu.Unlock()
	s.Enqueue(msg("c", "w/0", "still retrying at shutdown"))
	time.Sleep(30 * time.Millisecond)
	cancel()
	<-done
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if len(ob.freed) != 1 || ob.freed[0] != (ConvKey{ChannelTelegram, "c"}) {
		t.Fatalf("released %v at shutdown, want the chat still held", ob.freed)
	}
}

// The lease holder delivers what other processes committed meanwhile: when
// its own queue for a chat runs dry but the outbox still holds messages.
func TestSenderDrainsWhatOthersCommittedWhileItHeldTheLease(t *testing.T) {
	d := &fakeDeliverer{delay: 30 * time.Millisecond}
	mine := msg("a", "u/0", "mine")
	ob := newMemOutbox()
	s := startSender(t, SenderConfig{Rate: 100, PerChat: 100}, d, ob, nil)
	ob.add(mine)
	s.Enqueue(mine)
	ob.add(msg("a", "v/0", "committed by another replica, which saw my lease"))
	waitFor(t, 2*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 2 })
	if sent, _ := d.snapshot(); sent[1].ID != "v/0" {
		t.Fatalf("sent %v", sent)
	}
}

// recEnqueuer records what the core hands to the sender.
type recEnqueuer struct {
	mu      sync.Mutex
	queued  []Outbound
	resumed []ConvKey
}

func (r *recEnqueuer) Enqueue(outs ...Outbound) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queued = append(r.queued, outs...)
}

func (r *recEnqueuer) Resume(_ context.Context, key ConvKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resumed = append(r.resumed, key)
}

// lostReplyConvs commits, then reports a duplicate: what go-redis sees when
// the commit's answer is lost and it sends the script again.
type lostReplyConvs struct{ *memConvs }

func (l lostReplyConvs) Commit(ctx context.Context, c Conversation, id string, out []Outbound) (Committed, error) {
	if _, err := l.memConvs.Commit(ctx, c, id, out); err != nil {
		return Committed{}, err
	}
	return Committed{}, fmt.Errorf("store: commit: %w", ErrDuplicate)
}

func newTestService(t *testing.T, convs Conversations, recs Records, snd Enqueuer) *Service {
	t.Helper()
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(Config{}, set, convs, recs, map[Channel]Enqueuer{ChannelTelegram: snd},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(svc.Close)
	return svc
}

// A duplicate hands the conversation's outbox to the sender: a commit whose
// answer was lost, and a re-delivery after a 503, used to leave the replies
// in the outbox until the next start.
func TestDuplicateHandsOutboxToSender(t *testing.T) {
	key := ConvKey{ChannelTelegram, "1"}
	for _, tc := range []struct {
		name  string
		convs Conversations
	}{
		{"commit answer lost", lostReplyConvs{&memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}}},
		{"re-delivered", &memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{"telegram:1/u1": true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snd := &recEnqueuer{}
			svc := newTestService(t, tc.convs, &recRecords{}, snd)
			in := Inbound{Key: key, UpdateID: "u1", Seq: 1, Kind: InCommand, Command: "start"}
			if err := svc.Handle(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			if len(snd.resumed) != 1 || snd.resumed[0] != key {
				t.Fatalf("sender resumed %v, want %v", snd.resumed, key)
			}
		})
	}
}

// panicRecords panics on its first Record.
type panicRecords struct {
	recRecords
	once sync.Once
}

func (p *panicRecords) Record(ctx context.Context, u UpdateRecord) (RecordResult, error) {
	p.once.Do(func() { panic("boom") })
	return p.recRecords.Record(ctx, u)
}

// A panic in the core becomes an error and the chat goes on (its next
// update used to wait for its context, 25 s, and fail).
func TestPanicInCoreDoesNotBlockTheChat(t *testing.T) {
	svc := newTestService(t, &memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, &panicRecords{}, &recEnqueuer{})
	key := ConvKey{ChannelTelegram, "1"}
	err := svc.Handle(context.Background(), Inbound{Key: key, UpdateID: "u1", Seq: 1, Kind: InText, Text: "menu"})
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PanicError", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i, id := range []string{"u1", "u2"} { // the re-delivery, then the next message
		if err := svc.Handle(ctx, Inbound{Key: key, UpdateID: id, Seq: 1 + int64(i), Kind: InText, Text: "menu"}); err != nil {
			t.Fatalf("update %s after the panic: %v", id, err)
		}
	}
}

// Reachability changes are stamped with when the platform says they
// happened, so a late re-delivery of an old "blocked" cannot win over a
// newer "unblocked".
func TestReachabilityStampedWithPlatformTime(t *testing.T) {
	recs := &reachRecords{}
	svc := newTestService(t, &memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, recs, &recEnqueuer{})
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	in := Inbound{Key: ConvKey{ChannelTelegram, "1"}, UpdateID: "u1", Seq: 1, Kind: InBlocked, At: at}
	if err := svc.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(recs.at) != 1 || !recs.at[0].Equal(at) {
		t.Fatalf("SetReachable at %v, want %v", recs.at, at)
	}
}

type reachRecords struct {
	recRecords
	at []time.Time
}

func (r *reachRecords) SetReachable(_ context.Context, _ ConvKey, _ bool, at time.Time) error {
	r.at = append(r.at, at)
	return nil
}

// conflictOnceConvs loses the first commit of every update to a concurrent
// writer.
type conflictOnceConvs struct {
	*memConvs
	lost map[string]bool
}

func (c *conflictOnceConvs) Commit(ctx context.Context, conv Conversation, id string, out []Outbound) (Committed, error) {
	if !c.lost[id] {
		c.lost[id] = true
		return Committed{}, ErrConflict
	}
	return c.memConvs.Commit(ctx, conv, id, out)
}

// The retry after a lost commit tells the store to replace what the first
// attempt recorded. An update recorded after its commit (UpdateRecord.AfterCommit) has
// recorded nothing when its commit is lost: only the rerun records. One
// that opens a ticket is recorded before its commit, so the rerun replaces
// that.
func TestRetryAfterConflictReplacesEarlierRecord(t *testing.T) {
	recs := &recRecords{}
	convs := &conflictOnceConvs{&memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, map[string]bool{}}
	svc := newTestService(t, convs, recs, &recEnqueuer{})
	key := ConvKey{ChannelTelegram, "1"}
	steps := []Inbound{
		{Kind: InCommand, Command: "start"},
		{Kind: InButton, Data: "nav:human"},
		{Kind: InButton, Data: "in:t:vneid"},
		{Kind: InButton, Data: "in:skip"},
		{Kind: InText, Text: "Tôi không nhận được mã OTP"},
	}
	handoff := false
	for i, in := range steps {
		in.Key, in.UpdateID, in.Seq = key, "u"+strconv.Itoa(i+1), int64(i+1)
		recs.recs = nil
		if err := svc.Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if len(recs.recs) > 0 && recs.recs[0].Handoff != nil {
			handoff = true
			if len(recs.recs) != 2 || recs.recs[0].Rerun || !recs.recs[1].Rerun {
				t.Fatalf("%s: records %+v: want a first attempt, then a rerun", in.UpdateID, recs.recs)
			}
			continue
		}
		if len(recs.recs) != 1 || !recs.recs[0].Rerun || recs.recs[0].UpdateID != in.UpdateID {
			t.Fatalf("%s: records %+v: want the rerun's only", in.UpdateID, recs.recs)
		}
	}
	if !handoff {
		t.Fatal("no update opened a ticket")
	}
}

// leaseConvs reports a fixed lease outcome for every commit.
type leaseConvs struct {
	*memConvs
	res Committed
}

func (l leaseConvs) Commit(ctx context.Context, c Conversation, id string, out []Outbound) (Committed, error) {
	r, err := l.memConvs.Commit(ctx, c, id, out)
	if err != nil {
		return r, err
	}
	l.res.Version = r.Version
	return l.res, nil
}

// What the core hands the sender follows the commit's lease: its own
// replies when it holds the lease, the whole outbox when it took over a
// backlog (so older replies go first), nothing when another live process
// holds it.
func TestCommitLeaseDecidesWhatTheSenderGets(t *testing.T) {
	key := ConvKey{ChannelTelegram, "1"}
	for _, tc := range []struct {
		name            string
		res             Committed
		queued, resumed bool
	}{
		{"leased", Committed{Leased: true}, true, false},
		{"backlog", Committed{Leased: true, Backlog: true}, false, true},
		{"held elsewhere", Committed{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snd := &recEnqueuer{}
			svc := newTestService(t, leaseConvs{&memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, tc.res}, &recRecords{}, snd)
			if err := svc.Handle(context.Background(), Inbound{Key: key, UpdateID: "u1", Seq: 1, Kind: InCommand, Command: "start"}); err != nil {
				t.Fatal(err)
			}
			if got := len(snd.queued) > 0; got != tc.queued {
				t.Errorf("queued %d messages, want queued=%v", len(snd.queued), tc.queued)
			}
			if got := len(snd.resumed) > 0; got != tc.resumed {
				t.Errorf("resumed %v, want resumed=%v", snd.resumed, tc.resumed)
			}
		})
	}
}

// A delivered message whose removal from the outbox fails (Redis away) is
// removed by a later sweep, not sent again.
func TestSenderSweepRemovesDeliveredMessageInsteadOfResending(t *testing.T) {
	d := &fakeDeliverer{}
	m := msg("a", "u/0", "một lần thôi")
	ob := newMemOutbox(m)
	ob.failDone = map[string]int{"u/0": 3} // every try of the first removal
	startSender(t, SenderConfig{Rate: 100, PerChat: 100, SweepEvery: 30 * time.Millisecond, StaleAfter: time.Millisecond}, d, ob, nil)
	waitFor(t, 5*time.Second, func() bool { return len(ob.doneIDs()) == 1 })
	time.Sleep(100 * time.Millisecond) // more sweeps
	if sent, _ := d.snapshot(); len(sent) != 1 {
		t.Fatalf("delivered %d times, want once", len(sent))
	}
}

// A delivered message whose removal failed is taken by the first sweep after
// it turns StaleAfter old; the sender must still remember it then, or that
// sweep sends it again. The default Remember outlasts StaleAfter by three
// sweeps, and is at least 30 s.
func TestSenderRemembersLongerThanASweepTakes(t *testing.T) {
	for _, tc := range []struct {
		cfg  SenderConfig
		want time.Duration
	}{
		{SenderConfig{}, 30 * time.Second},
		{SenderConfig{StaleAfter: time.Minute}, 75 * time.Second},
		{SenderConfig{StaleAfter: time.Second, SweepEvery: 20 * time.Second}, 61 * time.Second},
		{SenderConfig{StaleAfter: 200 * time.Millisecond, SweepEvery: 50 * time.Millisecond}, 30 * time.Second},
		{SenderConfig{Remember: time.Hour}, time.Hour},
	} {
		s := NewSender(tc.cfg, &fakeDeliverer{}, nil, nil, slog.New(slog.DiscardHandler))
		if s.cfg.Remember != tc.want {
			t.Errorf("StaleAfter %v, SweepEvery %v, Remember %v: remembers for %v, want %v",
				tc.cfg.StaleAfter, tc.cfg.SweepEvery, tc.cfg.Remember, s.cfg.Remember, tc.want)
		}
		if s.cfg.Remember < s.cfg.StaleAfter+2*s.cfg.SweepEvery {
			t.Errorf("%+v: remembers for %v, less than StaleAfter and two sweeps", tc.cfg, s.cfg.Remember)
		}
	}
}
