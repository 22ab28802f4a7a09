package bot

import (
	"context"
	"errors"
	"math/rand/v2"
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
			err := s.Do(context.Background(), key, int64(i+1), strconv.Itoa(i+1), func() error {
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
		if err := s.Do(ctx, key, seq, strconv.FormatInt(seq, 10), func() error { return nil }); err != nil {
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
			errs[i] = s.Do(context.Background(), key, 7, "7", func() error {
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
			_ = s.Do(context.Background(), ConvKey{ChannelTelegram, strconv.Itoa(i)}, 1, "1", func() error {
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
		_ = s.Do(context.Background(), key, 1, "1", func() error { <-release; return nil })
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := s.Do(ctx, key, 2, "2", func() error { t.Error("cancelled job ran"); return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	close(release)
	done := make(chan error, 1)
	go func() { done <- s.Do(context.Background(), key, 3, "3", func() error { return nil }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("queue stuck after a cancelled waiter")
	}
}
