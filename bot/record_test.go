package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gocua/gocua/flows"
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

// flakyRecords is an idempotent Records (the first write of an update
// wins, as PostgreSQL's keys make it) that fails at random: before it
// writes, or after (the write is in, its answer lost).
type flakyRecords struct {
	mu   sync.Mutex
	rnd  *rand.Rand
	recs map[string]UpdateRecord
}

func (f *flakyRecords) Record(_ context.Context, u UpdateRecord) (RecordResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch x := f.rnd.Float64(); {
	case x < 0.15:
		return RecordResult{}, errors.New("postgres: connection refused")
	case x < 0.25:
		if _, ok := f.recs[u.Key.String()+"/"+u.UpdateID]; !ok {
			f.recs[u.Key.String()+"/"+u.UpdateID] = u
		}
		return RecordResult{}, errors.New("postgres: connection reset after commit")
	}
	if _, ok := f.recs[u.Key.String()+"/"+u.UpdateID]; !ok {
		f.recs[u.Key.String()+"/"+u.UpdateID] = u
	}
	return RecordResult{}, nil
}
func (f *flakyRecords) SetReachable(context.Context, ConvKey, bool, time.Time) error { return nil }
func (f *flakyRecords) CancelTicket(context.Context, int64, time.Time) error         { return nil }

// flakyConvs is a memConvs whose commits fail at random: before they
// write, or after (committed, the answer lost), or report a duplicate
// after writing (go-redis sent the script again after a lost answer).
type flakyConvs struct {
	*memConvs
	mu  sync.Mutex
	rnd *rand.Rand
}

func (f *flakyConvs) roll() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rnd.Float64()
}

func (f *flakyConvs) Commit(ctx context.Context, c Conversation, id string, out []Outbound) (Committed, error) {
	x := f.roll()
	if x < 0.1 {
		return Committed{}, errors.New("redis: i/o timeout")
	}
	res, err := f.memConvs.Commit(ctx, c, id, out)
	switch {
	case err == nil && x < 0.2:
		return Committed{}, errors.New("redis: i/o timeout reading the reply")
	case err == nil && x < 0.3:
		return Committed{}, fmt.Errorf("store: commit: %w", ErrDuplicate)
	}
	return res, err
}

// Every acknowledged update has its durable record, whatever fails: two
// replicas share the stores; commits fail before writing or lose their
// answer; records fail before writing or after; an update is re-delivered
// until it is acknowledged, now to one replica, now to both at once.
// (The fakes are in memory: what fails, and where, is what the test
// chooses; the fault suite does the same with real processes.)
func TestRecordsSurviveFailures(t *testing.T) {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()), fstest.MapFS{"echo.yaml": {Data: []byte(`id: echo_test
title: {vi: "Thử"}
keywords: {vi: ["thu tu"]}
start: ask
steps:
  - id: ask
    ask:
      text: {vi: "Bác vừa nói: {said}"}
      type: text
      save: said
    next: ask
`)}})
	if err != nil {
		t.Fatal(err)
	}
	convs := &flakyConvs{memConvs: &memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, rnd: rand.New(rand.NewPCG(1, 2))}
	recs := &flakyRecords{rnd: rand.New(rand.NewPCG(3, 4)), recs: map[string]UpdateRecord{}}
	var replicas []*Service
	for range 2 {
		svc := NewService(Config{}, set, convs, recs, map[Channel]Enqueuer{ChannelTelegram: &recEnqueuer{}},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		t.Cleanup(svc.Close)
		replicas = append(replicas, svc)
	}
	const chats, updates = 20, 30
	var (
		wg       sync.WaitGroup
		attempts atomic.Int64
		acked    = make([][]string, chats)
	)
	for c := range chats {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(c), 5))
			key := ConvKey{ChannelTelegram, strconv.Itoa(1000 + c)}
			for n := range updates {
				in := Inbound{Key: key, UpdateID: strconv.Itoa(c*updates + n + 1), Seq: int64(n + 1), Kind: InText, Text: "tin " + strconv.Itoa(n)}
				if n == 0 {
					in.Text = "thu tu"
				}
				for try := 0; ; try++ {
					if try == 100 {
						t.Errorf("update %s not acknowledged in 100 tries", in.UpdateID)
						return
					}
					attempts.Add(1)
					var ok atomic.Bool
					if rnd.Float64() < 0.2 { // to both replicas at once
						var both sync.WaitGroup
						for _, svc := range replicas {
							both.Go(func() {
								if svc.Handle(context.Background(), in) == nil {
									ok.Store(true)
								}
							})
						}
						both.Wait()
					} else if replicas[rnd.IntN(2)].Handle(context.Background(), in) == nil {
						ok.Store(true)
					}
					if ok.Load() {
						acked[c] = append(acked[c], in.UpdateID)
						break
					}
				}
			}
		})
	}
	wg.Wait()
	missing := 0
	for c, ids := range acked {
		key := ConvKey{ChannelTelegram, strconv.Itoa(1000 + c)}
		if len(ids) != updates {
			t.Errorf("chat %s: %d of %d updates acknowledged", key, len(ids), updates)
		}
		for _, id := range ids {
			r, ok := recs.recs[key.String()+"/"+id]
			if !ok || !slices.ContainsFunc(r.Events, func(e flows.Event) bool { return e.Kind == flows.EventStepEntered }) {
				missing++
				t.Errorf("%s update %s acknowledged; its record %+v (kept: %v)", key, id, r, ok)
			}
		}
	}
	t.Logf("%d updates acknowledged after %d deliveries; %d without their record", chats*updates, attempts.Load(), missing)
}
