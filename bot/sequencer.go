package bot

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
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
//
// Where one Seq counts every update of a channel (Telegram's update_id, so a
// chat's next update is almost never the direct successor of its last), the
// sequencer also keeps which Seqs of the channel have arrived (a seqSpace):
// an update runs at once when every Seq between the chat's last one and its
// own has arrived — for other chats — since then no lower-numbered update of
// its chat can still be on its way. Only a gap (an update not yet arrived, or
// one this replica will never see) makes it wait, at most window as before.
type sequencer struct {
	window time.Duration
	// idle is how long a finished conversation's last Seq is remembered
	// when its Seqs are its own. One in a channel's global space is
	// forgotten once idle for longer than window (if that is shorter): the
	// next arrival then moves the space's low past its last Seq (which
	// arrived more than a window ago), and closed(last, seq) is
	// closed(0, seq), so the last Seq no longer shortens any wait.
	// Telegram's chats are most of a busy replica's, and remembering each
	// for a minute cost about 140 bytes a chat.
	idle time.Duration

	mu     sync.Mutex
	chats  map[ConvKey]*chatSeq
	spaces map[Channel]*seqSpace
	ops    int
	// peakChats is the largest len(chats) since the map was last rebuilt
	// (a map never gives back its buckets)
	peakChats int
}

// seqSpace is what has arrived of a channel's global Seqs: every Seq up to
// low (once known), and the arrivals above it, sorted. A gap below an
// arrival that is older than the window counts as closed — whatever was
// missing then has had its window — so low moves past updates this replica
// never sees (another replica's, a skipped id) and arrivals stay bounded by
// what arrives in one window.
type seqSpace struct {
	known   bool
	low     int64
	above   []arrival
	waiting map[ConvKey]*chatSeq // chats whose head waits for a gap of this space
}

type arrival struct {
	seq int64
	at  time.Time
}

// arrive records seq's arrival at now.
func (sp *seqSpace) arrive(seq int64, now time.Time) {
	if sp.known && seq <= sp.low {
		return
	}
	i := sort.Search(len(sp.above), func(i int) bool { return sp.above[i].seq >= seq })
	if i < len(sp.above) && sp.above[i].seq == seq {
		return
	}
	sp.above = slices.Insert(sp.above, i, arrival{seq, now})
}

// advance moves low over arrivals that close the range below them, and
// over gaps older than window.
func (sp *seqSpace) advance(now time.Time, window time.Duration) {
	cutoff := now.Add(-window)
	aged := -1
	for i, a := range sp.above {
		if !a.at.After(cutoff) {
			aged = i
		}
	}
	if aged >= 0 {
		sp.known, sp.low = true, sp.above[aged].seq
		sp.above = slices.Delete(sp.above, 0, aged+1)
	}
	if !sp.known {
		return
	}
	n := 0
	for n < len(sp.above) && sp.above[n].seq == sp.low+1 {
		sp.low++
		n++
	}
	sp.above = slices.Delete(sp.above, 0, n)
}

// closed reports whether every Seq strictly between last (0: none known)
// and seq has arrived or aged out.
func (sp *seqSpace) closed(last, seq int64) bool {
	from := last
	switch {
	case sp.known && sp.low > from:
		from = sp.low
	case last == 0:
		return false // nothing known below seq
	}
	if seq-from <= 1 {
		return true
	}
	lo := sort.Search(len(sp.above), func(i int) bool { return sp.above[i].seq > from })
	hi := sort.Search(len(sp.above), func(i int) bool { return sp.above[i].seq >= seq })
	return int64(hi-lo) == seq-from-1
}

type chatSeq struct {
	space   *seqSpace // nil: Seqs count this conversation's updates only
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
	return &sequencer{window: window, idle: time.Minute, chats: make(map[ConvKey]*chatSeq), spaces: make(map[Channel]*seqSpace)}
}

// Do runs fn for the update (key, seq, id) in order. global says that seq
// counts every update of key's channel (Inbound.GlobalSeq). It returns fn's
// error, or ctx's error if ctx ends while the update is still waiting for its
// turn.
func (s *sequencer) Do(ctx context.Context, key ConvKey, seq int64, id string, global bool, fn func() error) error {
	s.mu.Lock()
	s.sweepLocked()
	c := s.chats[key]
	if c == nil {
		c = &chatSeq{}
		s.chats[key] = c
		s.peakChats = max(s.peakChats, len(s.chats))
	}
	if global && c.space == nil {
		c.space = s.spaces[key.Channel]
		if c.space == nil {
			c.space = &seqSpace{waiting: map[ConvKey]*chatSeq{}}
			s.spaces[key.Channel] = c.space
		}
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
	if sp := c.space; sp != nil {
		sp.arrive(seq, j.arrived)
		sp.advance(j.arrived, s.window)
		// an arrival may close another chat's gap
		for k, w := range sp.waiting {
			if w != c {
				s.scheduleLocked(k, w)
			}
		}
	}
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
	// slices.Delete clears the slot it frees: the chat outlives its jobs
	// (it is forgotten once idle, see idle), and a finished job must not
	// stay reachable through its array.
	if i := slices.Index(c.pending, j); i >= 0 {
		c.pending = slices.Delete(c.pending, i, i+1)
	}
}

// scheduleLocked gives the turn to the head of c's queue when it may run, or
// arms a timer for when its window ends.
func (s *sequencer) scheduleLocked(key ConvKey, c *chatSeq) {
	if c.busy || len(c.pending) == 0 {
		if c.space != nil {
			delete(c.space.waiting, key)
		}
		return
	}
	head := c.pending[0]
	wait := time.Duration(0)
	if (c.lastSeq == 0 || head.seq != c.lastSeq+1) && (c.space == nil || !c.space.closed(c.lastSeq, head.seq)) {
		oldest := head.arrived
		for _, p := range c.pending[1:] {
			if p.arrived.Before(oldest) {
				oldest = p.arrived
			}
		}
		wait = s.window - time.Since(oldest)
	}
	if wait > 0 {
		if c.space != nil {
			c.space.waiting[key] = c
		}
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
	if c.space != nil {
		delete(c.space.waiting, key)
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.busy = true
	close(head.turn)
}

// sweepLocked forgets conversations idle for longer than s.idle (those of
// a global space: the shorter of s.idle and s.window), every few hundred
// calls, so memory stays bounded by the number of recent chats.
func (s *sequencer) sweepLocked() {
	s.ops++
	if s.ops%512 != 0 {
		return
	}
	now := time.Now()
	for k, c := range s.chats {
		idle := s.idle
		if c.space != nil {
			idle = min(idle, s.window)
		}
		if !c.busy && len(c.pending) == 0 && c.timer == nil && now.Sub(c.lastAt) > idle {
			delete(s.chats, k)
		}
	}
	if s.peakChats >= 1024 && len(s.chats) < s.peakChats/4 {
		s.chats = shrink(s.chats)
		s.peakChats = len(s.chats)
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
