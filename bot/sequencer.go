package bot

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// sequencer runs each conversation's updates one at a time, in Seq order,
// while different conversations run in parallel.
//
// Telegram delivers one chat's updates in sequence, but a retry, a proxy or a
// second replica can still hand us two of them at once. An update whose Seq is
// the direct successor of the last one handled runs at once; any other waits at
// most window for lower-numbered updates of the same conversation to arrive, so
// updates that arrive together are handled in order. The same update arriving
// twice while the first copy is still queued or running shares its result.
type sequencer struct {
	window time.Duration
	idle   time.Duration // how long a finished conversation's last Seq is remembered

	mu    sync.Mutex
	chats map[ConvKey]*chatSeq
	ops   int
}

type chatSeq struct {
	pending []*seqJob // sorted by seq
	busy    bool
	lastSeq int64
	lastAt  time.Time
	timer   *time.Timer
}

type seqJob struct {
	seq     int64
	id      string
	arrived time.Time
	turn    chan struct{} // closed when the job may run
	done    chan struct{} // closed when the job has finished
	err     error
}

func newSequencer(window time.Duration) *sequencer {
	return &sequencer{window: window, idle: time.Minute, chats: make(map[ConvKey]*chatSeq)}
}

// Do runs fn for the update (key, seq, id) in order. It returns fn's error, or
// ctx's error if ctx ends while the update is still waiting for its turn.
func (s *sequencer) Do(ctx context.Context, key ConvKey, seq int64, id string, fn func() error) error {
	s.mu.Lock()
	s.sweepLocked()
	c := s.chats[key]
	if c == nil {
		c = &chatSeq{}
		s.chats[key] = c
	}
	for _, j := range c.pending {
		if j.id == id { // the same update is already queued or running
			s.mu.Unlock()
			return waitDone(ctx, j)
		}
	}
	j := &seqJob{seq: seq, id: id, arrived: time.Now(), turn: make(chan struct{}), done: make(chan struct{})}
	i := sort.Search(len(c.pending), func(i int) bool { return c.pending[i].seq > seq })
	// a running job stays at index 0: never insert in front of it.
	if c.busy && i == 0 {
		i = 1
	}
	c.pending = append(c.pending, nil)
	copy(c.pending[i+1:], c.pending[i:])
	c.pending[i] = j
	s.scheduleLocked(key, c)
	s.mu.Unlock()

	select {
	case <-j.turn:
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-j.turn: // got the turn while cancelling: give it back
			s.finishLocked(key, c, j, ctx.Err())
		default:
			s.removeLocked(c, j)
			j.err = ctx.Err()
			close(j.done)
			s.scheduleLocked(key, c)
		}
		s.mu.Unlock()
		return ctx.Err()
	}

	err := guard(fn)
	s.mu.Lock()
	s.finishLocked(key, c, j, err)
	s.mu.Unlock()
	return err
}

// PanicError is what a panic in the core becomes: the update gets an error
// (the platform delivers it again) and its conversation goes on.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("bot: panic: %v", e.Value) }

// guard runs fn, turning a panic into a *PanicError so that the job is
// always finished and the conversation's next update gets its turn.
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return fn()
}

func waitDone(ctx context.Context, j *seqJob) error {
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *sequencer) finishLocked(key ConvKey, c *chatSeq, j *seqJob, err error) {
	j.err = err
	close(j.done)
	s.removeLocked(c, j)
	c.busy = false
	if err == nil && j.seq > c.lastSeq {
		c.lastSeq = j.seq
	}
	c.lastAt = time.Now()
	s.scheduleLocked(key, c)
}

func (s *sequencer) removeLocked(c *chatSeq, j *seqJob) {
	for i, p := range c.pending {
		if p == j {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return
		}
	}
}

// scheduleLocked gives the turn to the head of c's queue when it may run, or
// arms a timer for when its window ends.
func (s *sequencer) scheduleLocked(key ConvKey, c *chatSeq) {
	if c.busy || len(c.pending) == 0 {
		return
	}
	head := c.pending[0]
	wait := time.Duration(0)
	if c.lastSeq == 0 || head.seq != c.lastSeq+1 {
		oldest := head.arrived
		for _, p := range c.pending[1:] {
			if p.arrived.Before(oldest) {
				oldest = p.arrived
			}
		}
		wait = s.window - time.Since(oldest)
	}
	if wait > 0 {
		if c.timer == nil {
			c.timer = time.AfterFunc(wait, func() {
				s.mu.Lock()
				c.timer = nil
				s.scheduleLocked(key, c)
				s.mu.Unlock()
			})
		}
		return
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.busy = true
	close(head.turn)
}

// sweepLocked forgets conversations idle for longer than s.idle, every few
// hundred calls, so memory stays bounded by the number of recent chats.
func (s *sequencer) sweepLocked() {
	s.ops++
	if s.ops%512 != 0 {
		return
	}
	now := time.Now()
	for k, c := range s.chats {
		if !c.busy && len(c.pending) == 0 && c.timer == nil && now.Sub(c.lastAt) > s.idle {
			delete(s.chats, k)
		}
	}
}

// stop cancels pending timers (the jobs themselves end with their contexts).
func (s *sequencer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.chats {
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
	}
}
