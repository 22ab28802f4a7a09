package bot

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSequencerOrdersConcurrentArrivals(t *testing.T) {
	s := newSequencer(200 * time.Millisecond)
	key := ConvKey{ChannelTelegram, "1"}
	ids := rand.Perm(50)
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for _, i := range ids {
		wg.Go(func() {
			err := s.Do(context.Background(), key, int64(i+1), strconv.Itoa(i+1), false, func() error {
				mu.Lock()
				got = append(got, i+1)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("handled out of order: %v", got)
		}
	}
}

func TestSequencerSuccessorRunsWithoutWaiting(t *testing.T) {
	s := newSequencer(time.Hour) // a non-successor would wait an hour
	key := ConvKey{ChannelTelegram, "1"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// first update of an unknown chat waits the window; use a short-window sequencer state
	s.chats[key] = &chatSeq{lastSeq: 41}
	for seq := int64(42); seq < 45; seq++ {
		if err := s.Do(ctx, key, seq, strconv.FormatInt(seq, 10), false, func() error { return nil }); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
	}
}

func TestSequencerDuplicateSharesResult(t *testing.T) {
	s := newSequencer(0)
	key := ConvKey{ChannelTelegram, "1"}
	var runs atomic.Int32
	release := make(chan struct{})
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			errs[i] = s.Do(context.Background(), key, 7, "7", false, func() error {
				runs.Add(1)
				<-release
				return boom
			})
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("ran %d times, want 1", runs.Load())
	}
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Errorf("caller %d got %v, want the shared result", i, err)
		}
	}
}

func TestSequencerChatsRunInParallel(t *testing.T) {
	s := newSequencer(0)
	var wg sync.WaitGroup
	var inside, peak atomic.Int32
	for i := range 20 {
		wg.Go(func() {
			_ = s.Do(context.Background(), ConvKey{ChannelTelegram, strconv.Itoa(i)}, 1, "1", false, func() error {
				n := inside.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(30 * time.Millisecond)
				inside.Add(-1)
				return nil
			})
		})
	}
	wg.Wait()
	if peak.Load() < 5 {
		t.Fatalf("at most %d chats ran at once; want parallel", peak.Load())
	}
}

func TestSequencerCancelledWaiterLeavesQueue(t *testing.T) {
	s := newSequencer(0)
	key := ConvKey{ChannelTelegram, "1"}
	release := make(chan struct{})
	go func() {
		_ = s.Do(context.Background(), key, 1, "1", false, func() error { <-release; return nil })
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := s.Do(ctx, key, 2, "2", false, func() error { t.Error("cancelled job ran"); return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	close(release)
	done := make(chan error, 1)
	go func() { done <- s.Do(context.Background(), key, 3, "3", false, func() error { return nil }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("queue stuck after a cancelled waiter")
	}
}

// With global Seqs (Telegram's update ids count every chat's updates), the
// same concurrent arrivals are still handled in order.
func TestSequencerOrdersConcurrentArrivalsGlobal(t *testing.T) {
	s := newSequencer(200 * time.Millisecond)
	keys := []ConvKey{{ChannelTelegram, "1"}, {ChannelTelegram, "2"}}
	var mu sync.Mutex
	got := map[ConvKey][]int64{}
	var wg sync.WaitGroup
	for _, i := range rand.Perm(100) {
		key, seq := keys[i%2], int64(1000+i)
		wg.Go(func() {
			err := s.Do(context.Background(), key, seq, strconv.FormatInt(seq, 10), true, func() error {
				mu.Lock()
				got[key] = append(got[key], seq)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, key := range keys {
		if len(got[key]) != 50 || !slices.IsSorted(got[key]) {
			t.Errorf("chat %s handled %v", key.ChatID, got[key])
		}
	}
}

// primed returns a sequencer whose Telegram space has seen every update up
// to low, with a window no test would wait out.
func primed(low int64) *sequencer {
	s := newSequencer(time.Hour)
	s.spaces[ChannelTelegram] = &seqSpace{known: true, low: low, waiting: map[ConvKey]*chatSeq{}}
	return s
}

// When every update id between a chat's last update and its next has
// arrived (for other chats), the next one runs at once: Telegram's ids are
// global, so a chat's next update is almost never the direct successor.
func TestSequencerGlobalSeqWithoutGapRunsAtOnce(t *testing.T) {
	s := primed(99)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var order []int64
	for seq := int64(100); seq < 130; seq++ {
		key := ConvKey{ChannelTelegram, strconv.FormatInt(seq%3, 10)} // three chats, interleaved
		if err := s.Do(ctx, key, seq, strconv.FormatInt(seq, 10), true, func() error {
			order = append(order, seq)
			return nil
		}); err != nil {
			t.Fatalf("update %d waited: %v", seq, err)
		}
	}
	if len(order) != 30 {
		t.Fatalf("ran %v", order)
	}
	if sp := s.spaces[ChannelTelegram]; sp.low != 129 || len(sp.above) != 0 {
		t.Errorf("space low %d, %d above; want 129, 0", sp.low, len(sp.above))
	}
}

// An update waits while an id below it has not arrived; the missing one,
// once it arrives, runs first if it is the same chat's, and releases the
// waiting one at once if it is another chat's.
func TestSequencerGlobalSeqWaitsForGap(t *testing.T) {
	s := primed(99)
	a, b := ConvKey{ChannelTelegram, "a"}, ConvKey{ChannelTelegram, "b"}
	var mu sync.Mutex
	var order []int64
	run := func(key ConvKey, seq int64) chan error {
		done := make(chan error, 1)
		go func() {
			done <- s.Do(context.Background(), key, seq, strconv.FormatInt(seq, 10), true, func() error {
				mu.Lock()
				order = append(order, seq)
				mu.Unlock()
				return nil
			})
		}()
		return done
	}
	wait := func(what string, done chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not run", what)
		}
	}
	waiting := func(key ConvKey) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.spaces[ChannelTelegram].waiting[key]
		return ok
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}

	// 102 (a) arrives before 100 (a) and 101 (b): it waits; so does 101,
	// for 100. 100 then runs at once (nothing is missing below it), 101
	// with it (another chat's arrival closed its gap), and a's 102 after
	// a's 100.
	a102 := run(a, 102)
	until("102 does not wait for the gap below it", func() bool { return waiting(a) })
	b101 := run(b, 101)
	until("101 does not wait for the gap below it", func() bool { return waiting(b) })
	a100 := run(a, 100)
	wait("100", a100)
	wait("101", b101)
	wait("102", a102)
	mu.Lock()
	defer mu.Unlock()
	if i, j := slices.Index(order, 100), slices.Index(order, 102); i < 0 || j < i || len(order) != 3 {
		t.Fatalf("order %v", order)
	}
}

// seqSpace's bookkeeping, on a clock of its own: a gap older than the
// window closes (an id this replica never sees: another replica's, or one
// Telegram skipped), and what is kept stays within one window of arrivals
// even when half the ids never come.
func TestSeqSpace(t *testing.T) {
	const window = 5 * time.Millisecond
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var sp seqSpace
	sp.arrive(10, t0)
	sp.advance(t0, window)
	if sp.closed(0, 10) {
		t.Fatal("the first arrival cannot know what is below it")
	}
	sp.arrive(12, t0.Add(time.Millisecond))
	sp.advance(t0.Add(time.Millisecond), window)
	if !sp.closed(10, 11) || sp.closed(10, 12) {
		t.Fatal("11 is missing below 12 and nothing below 11")
	}
	// the window passes: 10 and 12 arrived long enough ago to close what is below them
	now := t0.Add(time.Millisecond + window)
	sp.arrive(14, now)
	sp.advance(now, window)
	if !sp.known || sp.low != 12 || !sp.closed(0, 13) || sp.closed(0, 15) || sp.closed(12, 14) {
		t.Fatalf("after the window: %+v", sp)
	}
	// only odd ids arrive, one per millisecond, for 10 s
	for i := range 10_000 {
		now = now.Add(time.Millisecond)
		sp.arrive(int64(15+2*i), now)
		sp.advance(now, window)
		if len(sp.above) > int(window/time.Millisecond)+1 {
			t.Fatalf("%d arrivals kept at id %d", len(sp.above), 15+2*i)
		}
	}
	// a duplicate and an id long closed change nothing
	n := len(sp.above)
	sp.arrive(sp.above[0].seq, now)
	sp.arrive(3, now)
	if len(sp.above) != n {
		t.Fatalf("a duplicate was kept twice: %d, want %d", len(sp.above), n)
	}
}

// A chat's state (one counting its own Seqs) outlives its jobs by a
// minute; a finished job must not stay reachable through the array behind
// its queue.
func TestSequencerLetsGoOfFinishedJobs(t *testing.T) {
	s := newSequencer(0)
	key := ConvKey{ChannelTelegram, "1"}
	for seq := int64(1); seq <= 3; seq++ {
		if err := s.Do(context.Background(), key, seq, strconv.FormatInt(seq, 10), false, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[key]
	if c == nil || len(c.pending) != 0 {
		t.Fatalf("chat state %+v, want it kept with nothing pending", c)
	}
	for i, j := range c.pending[:cap(c.pending)] {
		if j != nil {
			t.Errorf("slot %d still holds finished job %q", i, j.id)
		}
	}
}

// A chat of a global space is forgotten once it has been idle for longer
// than the window (its last Seq shortens no wait after that), so a busy
// Telegram replica keeps only its last moments' chats; a chat counting its
// own Seqs is kept for s.idle. The map is rebuilt when it shrinks a lot. A
// forgotten chat's next update runs at once when nothing is missing below
// it, and still waits for a gap.
func TestSequencerForgetsIdleChatsOfAGlobalSpace(t *testing.T) {
	s := primed(0) // a window of an hour: an update that waits for nothing hangs the test
	s.idle = 3 * time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq := int64(0)
	do := func(key ConvKey, seq int64, global bool) error {
		return s.Do(ctx, key, seq, strconv.FormatInt(seq, 10), global, func() error { return nil })
	}
	next := func(key ConvKey, global bool) {
		t.Helper()
		seq++
		if err := do(key, seq, global); err != nil {
			t.Fatalf("update %d of %s: %v", seq, key, err)
		}
	}
	own := ConvKey{ChannelWeb, "visitor"}
	s.chats[own] = &chatSeq{lastSeq: 6}
	if err := do(own, 7, false); err != nil { // its own successor: at once
		t.Fatal(err)
	}
	for i := range 4096 {
		next(ConvKey{ChannelTelegram, strconv.Itoa(i)}, true)
	}
	s.mu.Lock()
	for _, c := range s.chats { // the window and a bit pass, not s.idle
		c.lastAt = c.lastAt.Add(-s.window - time.Minute)
	}
	s.mu.Unlock()
	for i := range 512 { // the 512th call sweeps
		next(ConvKey{ChannelTelegram, "late-" + strconv.Itoa(i)}, true)
	}
	s.mu.Lock()
	n, peak, kept := len(s.chats), s.peakChats, s.chats[own] != nil
	_, seven := s.chats[ConvKey{ChannelTelegram, "7"}]
	s.mu.Unlock()
	if n > 512+1 || seven {
		t.Errorf("%d chats remembered after the sweep (chat 7 among them: %v), want at most the 513 of the last moments", n, seven)
	}
	if !kept {
		t.Error("a chat counting its own Seqs was forgotten before s.idle")
	}
	if peak > 1024 {
		t.Errorf("peak %d after the sweep: the map was not rebuilt", peak)
	}
	next(ConvKey{ChannelTelegram, "7"}, true) // forgotten, nothing missing below: at once

	// an id goes missing: chat 8's next update waits for it, and runs when
	// it comes (for another chat)
	seq++
	missing := seq
	eight := ConvKey{ChannelTelegram, "8"}
	ran := make(chan error, 1)
	go func() { ran <- do(eight, missing+1, true) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		_, waiting := s.spaces[ChannelTelegram].waiting[eight]
		s.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a forgotten chat's update above a missing id did not wait for it")
		}
	}
	if err := do(ConvKey{ChannelTelegram, "9"}, missing, true); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("the update above the gap: %v", err)
	}
}
