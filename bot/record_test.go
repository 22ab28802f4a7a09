package bot

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

// gateRecords is a Records whose Record waits for gate (when set) and
// fails while fail is set, keeping what it was asked to write.
type gateRecords struct {
	recRecords
	gate chan struct{}
	mu   sync.Mutex
	fail error
}

func (g *gateRecords) Record(ctx context.Context, u UpdateRecord) (RecordResult, error) {
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return RecordResult{}, ctx.Err()
		}
	}
	g.mu.Lock()
	err := g.fail
	g.mu.Unlock()
	if err != nil {
		return RecordResult{}, err
	}
	return g.recRecords.Record(ctx, u)
}

func (g *gateRecords) setFail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = err
}

func (r *recEnqueuer) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queued)
}

// intoAGuide handles /start for key and returns the update that taps the
// main menu's first entry: it enters a guide, so its record has events.
func intoAGuide(t *testing.T, svc *Service, snd *recEnqueuer, key ConvKey) Inbound {
	t.Helper()
	if err := svc.Handle(context.Background(), Inbound{Key: key, UpdateID: "u0", Kind: InCommand, Command: "start"}); err != nil {
		t.Fatal(err)
	}
	snd.mu.Lock()
	defer snd.mu.Unlock()
	for _, o := range snd.queued {
		if len(o.Buttons) > 0 && len(o.Buttons[0]) > 0 {
			return Inbound{Key: key, UpdateID: "u1", Kind: InButton, Data: o.Buttons[0][0].Data, Name: "Lan"}
		}
	}
	t.Fatal("/start answered without a menu")
	return Inbound{}
}

// An ordinary update's replies reach the sender before its durable record
// is written, and the update is acknowledged only once the record is in.
func TestRepliesDoNotWaitForTheRecord(t *testing.T) {
	recs := &gateRecords{}
	snd := &recEnqueuer{}
	svc := newTestService(t, &memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, recs, snd)
	in := intoAGuide(t, svc, snd, ConvKey{ChannelTelegram, "1"})
	before := snd.count()
	recs.recs, recs.gate = nil, make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- svc.Handle(context.Background(), in) }()
	deadline := time.Now().Add(5 * time.Second)
	for snd.count() == before {
		if time.Now().After(deadline) {
			t.Fatal("the replies waited for the record")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("acknowledged (%v) before the record was written", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(recs.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(recs.recs) != 1 || len(recs.recs[0].Events) == 0 {
		t.Fatalf("records %+v: want the update's, with its events", recs.recs)
	}
}

// A record that fails after the commit (PostgreSQL away, or the process
// stopped in between) leaves the update unacknowledged; its re-delivery is
// a duplicate that writes the record its commit kept, and sends nothing
// twice. A re-delivery that cannot write it is not acknowledged either.
func TestRecordFailedAfterCommitIsWrittenByTheRedelivery(t *testing.T) {
	recs := &gateRecords{}
	snd := &recEnqueuer{}
	convs := &memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}
	key := ConvKey{ChannelTelegram, "1"}
	svc := newTestService(t, convs, recs, snd)
	in := intoAGuide(t, svc, snd, key)
	recs.recs = nil
	before := snd.count()
	down := errors.New("postgres: connection refused")
	recs.setFail(down)
	if err := svc.Handle(context.Background(), in); !errors.Is(err, down) {
		t.Fatalf("Handle = %v, want the record's failure", err)
	}
	replies := snd.count()
	if replies == before {
		t.Fatal("the committed replies did not reach the sender")
	}
	if _, seen, _ := convs.Load(context.Background(), key, "u1"); !seen {
		t.Fatal("the commit did not stand")
	}
	if err := svc.Handle(context.Background(), in); !errors.Is(err, down) {
		t.Fatalf("re-delivery while the record still fails = %v, want the failure", err)
	}

	// the process restarts with PostgreSQL back
	recs.setFail(nil)
	svc = newTestService(t, convs, recs, snd)
	if err := svc.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(recs.recs) != 1 {
		t.Fatalf("records %+v: want the committed update's, once", recs.recs)
	}
	got := recs.recs[0]
	if got.Key != key || got.UpdateID != "u1" || got.Name != "Lan" || len(got.Events) == 0 || got.Rerun {
		t.Fatalf("record written by the re-delivery: %+v", got)
	}
	if n := snd.count(); n != replies {
		t.Fatalf("%d replies handed to the sender, want %d: the re-delivery sent again", n, replies)
	}
	// and once it is in, a further copy still writes it (the store skips it)
	if err := svc.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(recs.recs) != 2 || !reflect.DeepEqual(recs.recs[0], recs.recs[1]) {
		t.Fatalf("records %+v: want the same record again", recs.recs)
	}
}

// A commit that finds its update committed by another attempt (go-redis
// re-sent a commit whose answer was lost; the same update reached two
// replicas) still writes the record: the attempt that committed may never
// get to its own.
func TestDuplicateCommitStillRecords(t *testing.T) {
	recs := &recRecords{}
	snd := &recEnqueuer{}
	mem := &memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}
	in := intoAGuide(t, newTestService(t, mem, recs, snd), snd, ConvKey{ChannelTelegram, "1"})
	recs.recs = nil
	svc := newTestService(t, lostReplyConvs{mem}, recs, snd)
	if err := svc.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(recs.recs) != 1 || recs.recs[0].UpdateID != "u1" || len(recs.recs[0].Events) == 0 {
		t.Fatalf("records %+v: want the update's", recs.recs)
	}
}
