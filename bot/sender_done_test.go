package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"
)

// batchOutbox is a memOutbox that also removes many messages at once, and
// counts how it was asked.
type batchOutbox struct {
	*memOutbox
	bmu     sync.Mutex
	batches []int // sizes of the DoneAll calls
	failAll int   // DoneAll fails this many times
	delay   time.Duration
}

func (b *batchOutbox) DoneAll(ctx context.Context, msgs []Delivered) ([]int, error) {
	b.bmu.Lock()
	if b.failAll > 0 {
		b.failAll--
		b.bmu.Unlock()
		return nil, errors.New("redis: i/o timeout")
	}
	b.batches = append(b.batches, len(msgs))
	b.bmu.Unlock()
	time.Sleep(b.delay)
	out := make([]int, len(msgs))
	for i, m := range msgs {
		n, err := b.Done(ctx, m.Key, m.ID)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func (b *batchOutbox) sizes() []int {
	b.bmu.Lock()
	defer b.bmu.Unlock()
	return append([]int(nil), b.batches...)
}

// Messages delivered within a moment of each other leave the outbox
// together (fewer round trips than messages), every one of them, and the
// sender is idle only once they have.
func TestSenderGathersRemovals(t *testing.T) {
	d := &fakeDeliverer{}
	ob := &batchOutbox{memOutbox: newMemOutbox()}
	s := startSender(t, SenderConfig{Rate: 1e6, PerChat: 1000, Burst: 100, Workers: 32}, d, ob, nil)
	const n = 200
	for i := range n {
		m := msg("c"+strconv.Itoa(i%50), "u"+strconv.Itoa(i)+"/0", "Bác bấm Tiếp tục")
		ob.add(m)
		s.Enqueue(m)
	}
	waitFor(t, 5*time.Second, func() bool { return s.Idle() })
	if got := len(ob.doneIDs()); got != n {
		t.Fatalf("%d of %d delivered messages left the outbox once idle", got, n)
	}
	for k, l := range ob.lists {
		if len(l) > 0 {
			t.Fatalf("%s still holds %d messages", k, len(l))
		}
	}
	calls, most := 0, 0
	for _, b := range ob.sizes() {
		calls++
		most = max(most, b)
	}
	singles := n - sumInts(ob.sizes()) // removed one by one (a batch of one uses Done)
	if rts := calls + singles; rts >= n/2 || most < 2 {
		t.Fatalf("%d messages left in %d round trips (largest batch %d); want them gathered", n, rts, most)
	}
	t.Logf("%d messages removed in %d batched round trips (largest %d) and %d single ones", n, calls, most, singles)
}

func sumInts(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// A removal that fails is tried again; one that keeps failing is left to
// a later sweep, and the sender does not wait on it forever.
func TestSenderRemovalFailures(t *testing.T) {
	d := &fakeDeliverer{}
	ob := &batchOutbox{memOutbox: newMemOutbox(), failAll: 1}
	s := startSender(t, SenderConfig{Rate: 1e6, PerChat: 1000, Burst: 100, Workers: 8}, d, ob, nil)
	for i := range 6 {
		m := msg("c"+strconv.Itoa(i), "u"+strconv.Itoa(i)+"/0", "x")
		ob.add(m)
		s.Enqueue(m)
	}
	waitFor(t, 5*time.Second, func() bool { return s.Idle() })
	if got := len(ob.doneIDs()); got != 6 {
		t.Fatalf("after one failed DoneAll: %d of 6 removed", got)
	}

	// a removal that never succeeds: given up after its tries, counted done
	ob2 := newMemOutbox()
	ob2.failDone = map[string]int{"v/0": 1 << 30}
	s2 := startSender(t, SenderConfig{Rate: 1e6, PerChat: 1000, Burst: 100}, d, ob2, nil)
	m := msg("z", "v/0", "y")
	ob2.add(m)
	s2.Enqueue(m)
	waitFor(t, 5*time.Second, func() bool { return s2.Idle() })
	if len(ob2.lists[m.Key]) != 1 {
		t.Fatalf("a removal that always fails: outbox %v; want the message left for a sweep", ob2.lists[m.Key])
	}
}

// A sender that stops makes the removals it gathered before it returns
// from Run, then releases its leases: nothing it delivered is sent again
// by the next process.
func TestSenderStopRemovesWhatItDelivered(t *testing.T) {
	for round := range 20 {
		d := &fakeDeliverer{}
		ob := &batchOutbox{memOutbox: newMemOutbox(), delay: 20 * time.Millisecond} // a slow Redis
		s := NewSender(SenderConfig{Channel: ChannelTelegram, Limits: Limits{MaxText: 4096}, Rate: 1e6, PerChat: 1000, Burst: 100},
			d, ob, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = s.Run(ctx); close(done) }()
		for i := range 10 {
			m := msg("s"+strconv.Itoa(i), "u"+strconv.Itoa(i)+"/0", "x")
			ob.add(m)
			s.Enqueue(m)
		}
		waitFor(t, 5*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 10 })
		cancel() // removals queued or in flight
		<-done
		sent, _ := d.snapshot()
		removed := map[string]bool{}
		for _, id := range ob.doneIDs() {
			removed[id] = true
		}
		for _, o := range sent {
			if !removed[o.ID] {
				t.Fatalf("round %d: %s was delivered but left in the outbox at shutdown", round, o.ID)
			}
		}
	}
}

// After a chat's last removal the sender claims what its outbox still
// holds (another process committed to the chat while this one held the
// lease), but not its own sent messages still waiting for their removal:
// those cost a Claim round trip for nothing. Here 20 chats get three
// messages each, removed together or apart; then one chat's outbox also
// holds a message this sender was never given, which must go out at once,
// not after a sweep.
func TestSenderClaimsOnlyOthersMessages(t *testing.T) {
	d := &fakeDeliverer{}
	ob := &batchOutbox{memOutbox: newMemOutbox()}
	s := startSender(t, SenderConfig{Rate: 1e6, PerChat: 1000, Burst: 100, Workers: 8,
		SweepEvery: time.Hour, StaleAfter: time.Hour}, d, ob, nil)
	for i := range 60 {
		m := msg("c"+strconv.Itoa(i%20), "u"+strconv.Itoa(i)+"/0", "Bác bấm Tiếp tục")
		ob.add(m)
		s.Enqueue(m)
	}
	waitFor(t, 5*time.Second, s.Idle)
	ob.mu.Lock()
	claims := ob.claims
	ob.mu.Unlock()
	if claims != 0 {
		t.Errorf("%d claims after sending only its own messages, want 0", claims)
	}

	mine, theirs := msg("x", "v1/0", "Của tôi"), msg("x", "v2/0", "Của tiến trình khác")
	ob.add(mine)
	ob.add(theirs)
	s.Enqueue(mine)
	waitFor(t, 2*time.Second, func() bool { return d.sentCount("v2/0") == 1 })
	waitFor(t, 2*time.Second, s.Idle)
	if n := d.sentCount("v1/0"); n != 1 {
		t.Errorf("its own message sent %d times, want once", n)
	}
}
