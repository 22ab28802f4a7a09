package bot

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// SenderConfig tunes one channel's sender.
type SenderConfig struct {
	Channel Channel // the channel it delivers for; messages of any other are refused
	Metrics Metrics // defaults to NopMetrics
	Limits  Limits
	Rate    float64 // messages per second over the whole channel (Telegram ≈ 30; default 25)
	PerChat float64 // messages per second to one chat (Telegram: 1)
	Burst   int     // messages a chat may receive back to back before pacing (default 1)
	// Pacer, when set, keeps Rate, PerChat and Burst together with every
	// other replica (and with broadcasts); without it (or while it fails)
	// this process paces alone.
	Pacer Pacer
	// ReplyBurst is how many replies may go back to back beyond Rate
	// (default Rate/5, at least 3): in any second at most Rate+ReplyBurst
	// messages leave. Bulk messages run ahead by less, so replies go first.
	ReplyBurst int
	Workers    int           // concurrent sends (default 16)
	Timeout    time.Duration // one delivery attempt (default 15 s)
	MaxTries   int           // attempts for transient failures before giving up (default 8)

	// SweepEvery is how often the sender forgets idle chats and looks in the
	// outbox for messages no live sender is delivering (default 5 s).
	SweepEvery time.Duration
	// StaleAfter is how old an outbox entry must be before a sweep takes it
	// (default 15 s): younger ones are still being handed over by the
	// process that committed them.
	StaleAfter time.Duration
	// RenewEvery is how often the leases of the conversations the sender
	// holds messages for are renewed (default 10 s; keep it well under the
	// store's lease TTL).
	RenewEvery time.Duration
	// Remember is how long a delivered message's id is remembered, so that a
	// late copy of it (a sweep or a duplicate update racing the delivery) is
	// not sent again, and a sweep that finds it still in the outbox (its
	// removal failed) removes it instead of sending it again. Such an entry
	// is taken by the first sweep after it turns StaleAfter old, so
	// Remember must be longer than StaleAfter plus a sweep or two; the
	// default is StaleAfter plus three sweeps, at least 30 s. Every
	// remembered id is held in memory: 30 s at 1,250 messages a second is
	// 37,500 of them.
	Remember time.Duration
}

// Unreachables is told when a platform says a resident blocked the bot.
type Unreachables interface {
	SetReachable(ctx context.Context, key ConvKey, reachable bool, at time.Time) error
}

// Sender delivers committed Outbound messages for one channel: it splits long
// texts, paces sends per chat and overall, lets replies overtake bulk traffic,
// honours retry_after, retries transient failures with backoff, gives up at
// once on messages the platform rejects, and removes each message from the
// durable outbox once it needs no more sending. It holds each message id
// once, however often it is offered. Its sweeps take over outbox entries no
// live sender is delivering (another process crashed, or a commit's reply was
// lost) and forget idle chats, so its memory is bounded by the chats active
// in the last few seconds. Run owns its goroutines.
type Sender struct {
	cfg    SenderConfig
	d      Deliverer
	outbox Outbox
	unr    Unreachables
	log    *slog.Logger
	global *rate.Limiter

	mu       sync.Mutex
	queued   int // messages held: queued, being sent, or being removed from the outbox
	chats    map[ConvKey]*outChat
	retrying int // chats whose next message waits out a backoff
	// ids: messages held (0) and recently finished ones (when: see
	// finishedAt)
	ids       map[msgKey]uint32
	epoch     time.Time
	seeds     [2]maphash.Seed // of msgKeys
	peakChats int             // largest len(chats) since the map was last rebuilt
	peakIDs   int
	ready     [2]chatHeap // per lane: chats with queued messages of that lane, by next send time
	idle      int         // workers waiting for a message that may go
	// waiters are the idle workers' wake channels (one slot each), the
	// latest last; timed is the one of them whose timer waits for the
	// earliest message not due yet (nil: none), due at timedAt. A change to
	// the queues wakes one worker, not all of them (see notifyLocked).
	waiters []chan struct{}
	timed   chan struct{}
	timedAt time.Time
	closed  bool

	// removals of delivered messages waiting for removeDelivered (see
	// sender_done.go); removing: it runs
	dmu      sync.Mutex
	dq       []finished
	dsig     chan struct{}
	removing bool
}

// msgKey names a message the sender holds or delivered: its conversation
// and its id within it. Ids are unique per conversation only (a web chat
// visitor chooses its own), so two conversations' messages never stand for
// each other. It is a 96-bit hash of the two, so that a remembered message
// takes 16 bytes of the map, with the time it finished, and keeps none of
// its strings alive: a busy channel remembers every message of the last
// 30 s (Remember), 37,500 at 1,000 updates a second. Two messages share a
// key with probability 2⁻⁹⁶, and the seeds are drawn for each process, so
// no one can pick ids that do.
type msgKey [3]uint32

// msgKey hashes the conversation and id, with each seed, as a map keyed by
// the pair would.
func (s *Sender) msgKey(k ConvKey, id string) msgKey {
	m := struct {
		k  ConvKey
		id string
	}{k, id}
	a, b := maphash.Comparable(s.seeds[0], m), maphash.Comparable(s.seeds[1], m)
	return msgKey{uint32(a), uint32(a >> 32), uint32(b)}
}

// idTick is the clock of the finished messages in ids.
const idTick = 10 * time.Millisecond

// finishedAt is what ids holds for a message finished at now: idTicks since
// epoch, never 0 (0 is a message held). It wraps after 497 days, which does
// no harm: an age is the difference modulo 2³², and sweeps forget each id
// long before it could be 248 days old.
func (s *Sender) finishedAt(now time.Time) uint32 {
	return max(uint32(now.Sub(s.epoch)/idTick), 1)
}

// forgettable reports whether a message ids holds at at was finished at
// least Remember before the tick now (finishedAt). A message finished
// after now (a removal that read the clock later but took the lock first)
// is not.
func (s *Sender) forgettable(at, now uint32) bool {
	age := int32(now - at) // modulo 2³², in ticks
	return at != 0 && age > 0 && time.Duration(age-1)*idTick >= s.cfg.Remember
}

type outChat struct {
	key     ConvKey
	queue   [2][]outItem // per lane
	nextAt  time.Time
	tokens  float64
	busy    bool
	index   [2]int // position in ready heaps, -1 if absent
	stamped time.Time
	// retrying: its next message waits out a backoff after a transient
	// failure (counted in Sender.retrying)
	retrying bool
	// paid names the queued message whose first send's pacing budget its
	// commit spent, at paidAt (EnqueuePaid): admit lets it go without
	// asking the Pacer, if it comes up within paidFor.
	paid   string
	paidAt time.Time
	// unremoved counts its messages taken off the queues (pop) whose
	// removal from the outbox is still to be made (removeNow).
	unremoved int
}

// paidFor is how long a budget spent in a commit stays good for its
// message. Past it (the message waited behind others, or for a worker),
// the message is paced again: the budget was then spent early, which only
// slows sending down.
const paidFor = 100 * time.Millisecond

func (c *outChat) empty() bool { return len(c.queue[0])+len(c.queue[1]) == 0 }

// pop removes the head of lane, which the caller then finishes. The array
// behind the queue lives as long as the chat does (until the sweep forgets
// it), so the popped item is cleared and an emptied queue lets go of its
// array: a chat that writes again and again would otherwise keep its sent
// messages, their buttons and pieces.
func (c *outChat) pop(lane int) {
	c.unremoved++
	q := c.queue[lane]
	q[0] = outItem{}
	if len(q) == 1 {
		c.queue[lane] = nil
		return
	}
	c.queue[lane] = q[1:]
}

type outItem struct {
	out   Outbound
	parts []Outbound // split pieces still to send; Done is called after the last
	tries int
}

// NewSender builds a sender; call Recover, then Run.
func NewSender(cfg SenderConfig, d Deliverer, outbox Outbox, unr Unreachables, log *slog.Logger) *Sender {
	if cfg.Rate <= 0 {
		cfg.Rate = 25
	}
	if cfg.PerChat <= 0 {
		cfg.PerChat = 1
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 1
	}
	if cfg.ReplyBurst <= 0 {
		cfg.ReplyBurst = max(3, int(cfg.Rate/5))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxTries <= 0 {
		cfg.MaxTries = 8
	}
	cfg.SweepEvery = cmp.Or(cfg.SweepEvery, 5*time.Second)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, 15*time.Second)
	cfg.RenewEvery = cmp.Or(cfg.RenewEvery, 10*time.Second)
	if cfg.Remember <= 0 {
		cfg.Remember = max(30*time.Second, cfg.StaleAfter+3*cfg.SweepEvery)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	return &Sender{
		cfg: cfg, d: d, outbox: outbox, unr: unr, log: log,
		global: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.ReplyBurst),
		chats:  make(map[ConvKey]*outChat),
		ids:    make(map[msgKey]uint32),
		epoch:  time.Now(),
		seeds:  [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		ready:  [2]chatHeap{{lane: 0}, {lane: 1}},
		dsig:   make(chan struct{}, 1),
	}
}

// Enqueue queues committed messages for delivery, in order. A message of
// another channel is refused (logged, left in the outbox for its own
// sender); a message the sender already holds, or delivered moments ago, is
// skipped.
func (s *Sender) Enqueue(outs ...Outbound) { s.enqueue(time.Time{}, outs) }

// EnqueuePaid is Enqueue for messages whose first one's pacing budget its
// commit spent at paidAt (bot.PacedCommitter): that message goes without
// asking the Pacer again if it is sent within paidFor. See PaceFor.
func (s *Sender) EnqueuePaid(paidAt time.Time, outs ...Outbound) { s.enqueue(paidAt, outs) }

// PaceFor returns the pacing check admit would make for a reply to key
// now, and false when a reply to key would not go at once: the sender
// paces locally only, or every worker is busy (the message would wait its
// turn, past paidFor, and its budget would be spent twice), or it holds
// messages for key, or key must wait (its own budget, a backoff, a
// retry_after).
func (s *Sender) PaceFor(key ConvKey) (Pace, bool) {
	if s.cfg.Pacer == nil || key.Channel != s.cfg.Channel {
		return Pace{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle == 0 {
		return Pace{}, false
	}
	if c := s.chats[key]; c != nil && (c.busy || !c.empty() || c.retrying || c.nextAt.After(time.Now())) {
		return Pace{}, false
	}
	return s.pace(key, LaneReply), true
}

// pace is the Pacer's check for one send of lane to key.
func (s *Sender) pace(key ConvKey, lane Lane) Pace {
	burst := s.cfg.ReplyBurst
	if lane == LaneBulk {
		burst = 2 // less than replies: they go first
	}
	return Pace{
		Channel: s.cfg.Channel, Lane: lane, Rate: s.cfg.Rate, Burst: burst,
		Chat: key.ChatID, PerChat: s.cfg.PerChat, ChatBurst: s.cfg.Burst,
	}
}

func (s *Sender) enqueue(paidAt time.Time, outs []Outbound) {
	if len(outs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	added := 0
	for _, o := range outs {
		if o.Key.Channel != s.cfg.Channel {
			s.log.Error("message for another channel refused; it stays in the outbox for that channel's sender",
				"msg", o.ID, "chat", o.Key.String())
			continue
		}
		id := s.msgKey(o.Key, o.ID)
		if _, known := s.ids[id]; known {
			continue
		}
		s.ids[id] = 0
		c := s.chats[o.Key]
		if c == nil {
			c = &outChat{key: o.Key, index: [2]int{-1, -1}, tokens: float64(s.cfg.Burst)}
			s.chats[o.Key] = c
		}
		lane := laneIndex(o.Lane)
		if o.ID == outs[0].ID && !paidAt.IsZero() && c.empty() && !c.busy {
			c.paid, c.paidAt = o.ID, paidAt
		}
		c.queue[lane] = append(c.queue[lane], outItem{out: o, parts: s.split(o)})
		s.pushLocked(c)
		added++
	}
	if added == 0 {
		return
	}
	s.queued += added
	s.peakChats = max(s.peakChats, len(s.chats))
	s.peakIDs = max(s.peakIDs, len(s.ids))
	s.cfg.Metrics.Queue(s.cfg.Channel, s.queued)
	s.notifyLocked()
}

// Resume takes key's outbox (unless another live sender holds its lease) and
// queues the messages this sender does not hold yet, in order. The core
// calls it when an update turns out to be a duplicate — its replies may have
// been committed by an attempt whose answer was lost — and when a commit
// finds older messages nobody was delivering.
func (s *Sender) Resume(ctx context.Context, key ConvKey) {
	if s.outbox == nil || key.Channel != s.cfg.Channel {
		return
	}
	msgs, held, err := s.outbox.Claim(ctx, key)
	switch {
	case err != nil:
		s.log.Error("outbox claim", "chat", key.String(), "err", err)
	case !held:
		s.Enqueue(msgs...)
	}
}

// Recover takes over, before the process accepts traffic, every outbox entry
// of this channel that no live sender holds: what this process (or one that
// crashed) committed and did not deliver. Entries still leased by a live
// process are left to it; the periodic sweep retries them once their lease
// lapses.
func (s *Sender) Recover(ctx context.Context) error {
	if s.outbox == nil {
		return nil
	}
	return s.sweepOutbox(ctx, time.Now())
}

func laneIndex(l Lane) int {
	if l == LaneBulk {
		return 1
	}
	return 0
}

// split cuts an Outbound whose text is over the channel's limit into several,
// keeping the buttons on the last piece. A photo or a file goes first with
// as much of the text as its caption may hold; the rest follows as text.
func (s *Sender) split(o Outbound) []Outbound {
	var parts []Outbound
	rest := o.Text
	if o.Media != nil {
		limit := cmp.Or(s.cfg.Limits.MaxCaption, s.cfg.Limits.MaxText)
		first := SplitText(rest, limit)
		head := o
		head.Text, head.Buttons = "", nil
		if len(first) > 0 {
			head.Text = first[0]
		}
		rest = strings.Join(first[min(1, len(first)):], "\n")
		if rest == "" {
			head.Buttons = o.Buttons
			return []Outbound{head}
		}
		parts = append(parts, head)
		o.Media = nil
	}
	for _, p := range SplitText(rest, s.cfg.Limits.MaxText) {
		part := o
		part.Text, part.Buttons = p, nil
		parts = append(parts, part)
	}
	if len(parts) > 0 {
		parts[len(parts)-1].Buttons = o.Buttons
	}
	if len(parts) > 1 {
		for i := range parts {
			parts[i].ID = o.ID + "#" + strconv.Itoa(i)
		}
	}
	return parts
}

// Run delivers until ctx ends, sweeping and renewing leases meanwhile. It
// returns after every worker has stopped; what was not delivered stays in
// the outbox with its lease released, for the next Recover or sweep of any
// process.
func (s *Sender) Run(ctx context.Context) error {
	s.dmu.Lock()
	s.removing = true
	s.dmu.Unlock()
	stopRemoving, removed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(removed)
		s.removeDelivered(stopRemoving)
	}()
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	wg.Go(func() { s.housekeep(ctx) })
	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	s.broadcastLocked()
	s.mu.Unlock()
	wg.Wait()
	// what was delivered leaves the outbox before the leases are let go
	close(stopRemoving)
	<-removed
	if s.outbox != nil {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.outbox.Release(bg, s.heldChats()); err != nil {
			s.log.Warn("outbox leases not released; they lapse on their own", "err", err)
		}
	}
	return nil
}

// Idle reports whether nothing is queued or being sent (for tests and shutdown).
func (s *Sender) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued == 0
}

// Chats reports how many chats the sender remembers (for tests and benchmarks).
func (s *Sender) Chats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chats)
}

// heldChats lists the chats the sender holds messages for.
func (s *Sender) heldChats() []ConvKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []ConvKey
	for k, c := range s.chats {
		if c.busy || !c.empty() {
			keys = append(keys, k)
		}
	}
	return keys
}

// housekeep runs the sweeps and lease renewals until ctx ends.
func (s *Sender) housekeep(ctx context.Context) {
	sweep := time.NewTicker(s.cfg.SweepEvery)
	defer sweep.Stop()
	renew := time.NewTicker(s.cfg.RenewEvery)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-sweep.C:
			s.sweepMemory(now)
			if s.outbox != nil {
				if err := s.sweepOutbox(ctx, now.Add(-s.cfg.StaleAfter)); err != nil && ctx.Err() == nil {
					s.log.Warn("outbox sweep", "err", err)
				}
			}
		case <-renew.C:
			if s.outbox != nil {
				if err := s.outbox.Renew(ctx, s.heldChats()); err != nil && ctx.Err() == nil {
					s.log.Warn("outbox lease renewal", "err", err)
				}
			}
		}
	}
}

// Sweep sizes: a sweep looks at up to sweepPages pages of sweepBatch
// outbox index entries (3 Redis round trips a page).
const (
	sweepBatch = 1024
	sweepPages = 8
)

// sweepOutbox claims the channel's outbox entries last appended to before
// before that no live sender holds, page by page.
func (s *Sender) sweepOutbox(ctx context.Context, before time.Time) error {
	taken := 0
	for range sweepPages {
		msgs, listed, err := s.outbox.TakeStale(ctx, s.cfg.Channel, before, sweepBatch)
		if err != nil {
			return err
		}
		var fresh, delivered []Outbound
		s.mu.Lock()
		for _, m := range msgs {
			switch at, known := s.ids[s.msgKey(m.Key, m.ID)]; {
			case !known:
				fresh = append(fresh, m)
			case at != 0: // delivered, but its removal from the outbox failed
				delivered = append(delivered, m)
			}
		}
		s.mu.Unlock()
		for _, m := range delivered {
			if _, err := s.outbox.Done(ctx, m.Key, m.ID); err != nil {
				return err
			}
		}
		taken += len(fresh)
		s.Enqueue(fresh...)
		if listed < sweepBatch {
			break
		}
	}
	if taken > 0 {
		s.log.Info("outbox: took over undelivered messages", "messages", taken)
	}
	return nil
}

// sweepMemory forgets chats that hold nothing and whose pacing no longer
// matters, and message ids finished longer ago than Remember; maps that
// shrank a lot are rebuilt so their memory is returned.
func (s *Sender) sweepMemory(now time.Time) {
	refill := time.Duration(float64(s.cfg.Burst) / s.cfg.PerChat * float64(time.Second))
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.chats {
		if !c.busy && c.empty() && c.unremoved == 0 && now.After(c.nextAt) && now.Sub(c.stamped) >= refill {
			s.setRetryingLocked(c, false)
			delete(s.chats, k)
		}
	}
	tick := s.finishedAt(now)
	for id, at := range s.ids {
		if s.forgettable(at, tick) {
			delete(s.ids, id)
		}
	}
	// (a map never gives back its buckets, and maps.Clone keeps their
	// number: copy into a new one)
	if s.peakChats >= 1024 && len(s.chats) < s.peakChats/4 {
		s.chats = shrink(s.chats)
		s.peakChats = len(s.chats)
	}
	if s.peakIDs >= 1024 && len(s.ids) < s.peakIDs/4 {
		s.ids = shrink(s.ids)
		s.peakIDs = len(s.ids)
	}
	for l := range s.ready {
		if h := &s.ready[l]; cap(h.cs) >= 1024 && len(h.cs) < cap(h.cs)/4 {
			h.cs = slices.Clip(slices.Clone(h.cs))
		}
	}
}

// shrink copies m into a map sized for what it holds now.
func shrink[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	maps.Copy(out, m)
	return out
}

func (s *Sender) work(ctx context.Context) {
	w := waiter{wake: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	for {
		c, item, ok := s.next(ctx, w)
		if !ok {
			return
		}
		if s.admit(ctx, c, item) {
			s.deliver(ctx, c, item)
		}
	}
}

// admit waits for the budget of c's next message. With the shared Pacer, a
// message that must wait puts its chat back, due when the pacer says, and
// the worker moves on; the local limiter waits in place.
func (s *Sender) admit(ctx context.Context, c *outChat, item outItem) bool {
	if s.cfg.Pacer != nil {
		s.mu.Lock()
		paid := c.paid != "" && c.paid == item.out.ID && time.Since(c.paidAt) < paidFor
		c.paid = "" // good for one send, the message's first
		s.mu.Unlock()
		if paid {
			return true
		}
		wait, err := s.cfg.Pacer.Pace(ctx, s.pace(c.key, item.out.Lane))
		switch {
		case err == nil && wait <= 0:
			return true
		case err == nil:
			s.mu.Lock()
			c.nextAt = time.Now().Add(wait)
			s.mu.Unlock()
			s.release(c)
			return false
		case ctx.Err() != nil:
			s.release(c)
			return false
		}
		s.log.Warn("shared pacing failed; this send is paced by this process alone", "err", err)
	}
	if err := s.global.Wait(ctx); err != nil {
		s.release(c)
		return false
	}
	return true
}

// waiter is one worker's means of waiting in next: its wake channel and
// its timer, made once.
type waiter struct {
	wake  chan struct{}
	timer *time.Timer
}

// next waits for a chat whose next message may be sent now and marks it busy.
func (s *Sender) next(ctx context.Context, w waiter) (*outChat, outItem, bool) {
	for {
		s.mu.Lock()
		if s.closed || ctx.Err() != nil {
			s.mu.Unlock()
			return nil, outItem{}, false
		}
		now := time.Now()
		var wait time.Duration = -1
		for lane := range 2 {
			h := &s.ready[lane]
			if h.Len() == 0 {
				continue
			}
			c := h.cs[0]
			if d := c.nextAt.Sub(now); d > 0 {
				if wait < 0 || d < wait {
					wait = d
				}
				continue
			}
			heap.Pop(h)
			s.removeFromOtherLaneLocked(c)
			c.busy = true
			l := lane
			if len(c.queue[0]) > 0 { // a reply queued for this chat goes first
				l = 0
			}
			item := c.queue[l][0]
			s.notifyLocked() // more due, or nobody watching for the next: one more worker
			s.mu.Unlock()
			return c, item, true
		}
		s.waiters = append(s.waiters, w.wake)
		timed := wait >= 0 && (s.timed == nil || now.Add(wait).Before(s.timedAt))
		if timed {
			s.timed, s.timedAt = w.wake, now.Add(wait)
			w.timer.Reset(wait)
		}
		s.idle++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-w.timer.C:
		}
		if timed {
			w.timer.Stop()
		}
		s.mu.Lock()
		s.idle--
		if i := slices.Index(s.waiters, w.wake); i >= 0 {
			s.waiters = slices.Delete(s.waiters, i, i+1)
		}
		if s.timed == w.wake {
			s.timed, s.timedAt = nil, time.Time{}
		}
		select { // a wake that came with the timer is spent too
		case <-w.wake:
		default:
		}
		s.mu.Unlock()
	}
}

// notifyLocked wakes the one idle worker a change to the queues needs: any
// of them when a message is due now (the worker that takes it wakes the
// next, while more are due), or the timed one when the earliest message not
// due yet is earlier than what it waits for (any one, when none is timed).
func (s *Sender) notifyLocked() {
	if len(s.waiters) == 0 {
		return
	}
	now := time.Now()
	var earliest time.Time
	for lane := range 2 {
		h := &s.ready[lane]
		if h.Len() == 0 {
			continue
		}
		at := h.cs[0].nextAt
		if !at.After(now) {
			s.wakeLocked(len(s.waiters) - 1)
			return
		}
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	switch {
	case earliest.IsZero():
	case s.timed == nil:
		s.wakeLocked(len(s.waiters) - 1)
	case earliest.Before(s.timedAt):
		s.wakeLocked(slices.Index(s.waiters, s.timed))
	}
}

// wakeLocked wakes the idle worker waiters[i].
func (s *Sender) wakeLocked(i int) {
	if i < 0 {
		return
	}
	ch := s.waiters[i]
	s.waiters = slices.Delete(s.waiters, i, i+1)
	if s.timed == ch {
		s.timed, s.timedAt = nil, time.Time{}
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *Sender) deliver(ctx context.Context, c *outChat, item outItem) {
	part := item.parts[0]
	dctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	err := s.d.Deliver(dctx, part)
	cancel()
	log := s.log
	if err != nil { // only failures log; they name the chat and message
		log = s.log.With("chat", c.key.String(), "msg", part.ID)
	}
	bg := context.WithoutCancel(ctx)

	var ra *RetryAfterError
	switch {
	case err == nil:
		s.mu.Lock()
		lane, q := s.headLocked(c, item)
		q[0].parts = q[0].parts[1:]
		q[0].tries = 0
		finished := len(q[0].parts) == 0
		if finished {
			c.pop(lane)
		}
		s.paceLocked(c, time.Now())
		s.setRetryingLocked(c, false)
		if s.retrying > 0 {
			// The platform answers again: the chats backing off after its
			// outage need not wait out their backoffs (up to a minute).
			s.wakeRetryingLocked(time.Now())
		}
		s.mu.Unlock()
		s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "ok")
		if finished {
			s.finish(bg, c, item.out.ID, true)
		}
	case errors.As(err, &ra):
		s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "retry_after")
		log.Warn("rate limited by platform", "retry_after", ra.After)
		if s.cfg.Pacer != nil { // the platform says we are too fast: bulk yields everywhere
			if err := s.cfg.Pacer.PauseBulk(bg, s.cfg.Channel, ra.After); err != nil {
				log.Warn("bulk lane not paused", "err", err)
			}
		}
		s.mu.Lock()
		c.nextAt = time.Now().Add(ra.After)
		s.mu.Unlock()
	case errors.Is(err, ErrUnreachable):
		log.Info("resident unreachable; dropping queued messages", "err", err)
		s.mu.Lock()
		dropped := append(append([]outItem(nil), c.queue[0]...), c.queue[1]...)
		c.queue = [2][]outItem{}
		c.unremoved += len(dropped)
		s.setRetryingLocked(c, false)
		s.mu.Unlock()
		s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "unreachable")
		if s.unr != nil {
			if err := s.unr.SetReachable(bg, c.key, false, time.Now()); err != nil {
				log.Error("mark unreachable", "err", err)
			}
		}
		for i, it := range dropped {
			s.finish(bg, c, it.out.ID, i == len(dropped)-1)
		}
	case errors.Is(err, ErrRejected):
		s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "rejected")
		log.Error("message rejected by the platform; not retried", "err", err)
		s.mu.Lock()
		lane, _ := s.headLocked(c, item)
		c.pop(lane)
		s.setRetryingLocked(c, false)
		s.mu.Unlock()
		s.finish(bg, c, item.out.ID, true)
	default:
		if ctx.Err() != nil { // shutting down: leave it in the outbox for the next run
			break
		}
		s.mu.Lock()
		lane, q := s.headLocked(c, item)
		q[0].tries++
		tries := q[0].tries
		giveUp := tries >= s.cfg.MaxTries
		if giveUp {
			c.pop(lane)
		} else {
			c.nextAt = time.Now().Add(backoff(tries))
		}
		s.setRetryingLocked(c, !giveUp)
		s.mu.Unlock()
		if giveUp {
			s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "gave_up")
			log.Error("giving up on message", "tries", tries, "err", err)
			s.finish(bg, c, item.out.ID, true)
		} else {
			s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "error")
			log.Warn("send failed; will retry", "tries", tries, "err", err)
		}
	}
	s.release(c)
}

// headLocked finds the lane whose head is item.
func (s *Sender) headLocked(c *outChat, item outItem) (int, []outItem) {
	for l := range 2 {
		if q := c.queue[l]; len(q) > 0 && q[0].out.ID == item.out.ID {
			return l, q
		}
	}
	return 0, c.queue[0]
}

// paceLocked applies the per-chat token bucket after a send at now: tokens
// refill at PerChat per second up to Burst; a send spends one; with less than
// one token left the next send waits until one has refilled.
func (s *Sender) paceLocked(c *outChat, now time.Time) {
	if !c.stamped.IsZero() {
		c.tokens = min(float64(s.cfg.Burst), c.tokens+now.Sub(c.stamped).Seconds()*s.cfg.PerChat)
	}
	c.stamped = now
	c.tokens--
	c.nextAt = now
	if c.tokens < 1 {
		c.nextAt = now.Add(time.Duration((1 - c.tokens) / s.cfg.PerChat * float64(time.Second)))
	}
}

// release ends a worker's turn on c: c may be picked again (if it still has
// messages, including any queued meanwhile). Idle chats are forgotten by
// sweepMemory, once their pacing no longer matters.
// setRetryingLocked marks whether c's next message waits out a backoff.
func (s *Sender) setRetryingLocked(c *outChat, retrying bool) {
	switch {
	case retrying && !c.retrying:
		s.retrying++
	case !retrying && c.retrying:
		s.retrying--
	}
	c.retrying = retrying
}

// wakeRetryingLocked makes every chat backing off after a transient
// failure due now (its tries still count toward MaxTries, and pacing still
// applies when it is sent).
func (s *Sender) wakeRetryingLocked(now time.Time) {
	for _, c := range s.chats {
		if !c.retrying || !c.nextAt.After(now) {
			continue
		}
		c.nextAt = now
		for l := range 2 {
			if c.index[l] >= 0 {
				heap.Fix(&s.ready[l], c.index[l])
			}
		}
	}
	s.broadcastLocked()
}

func (s *Sender) release(c *outChat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.busy = false
	s.pushLocked(c)
	s.notifyLocked()
}

func (s *Sender) pushLocked(c *outChat) {
	if c.busy {
		return
	}
	for l := range 2 {
		if len(c.queue[l]) > 0 && c.index[l] < 0 {
			heap.Push(&s.ready[l], c)
		}
	}
}

func (s *Sender) removeFromOtherLaneLocked(c *outChat) {
	for l := range 2 {
		if c.index[l] >= 0 {
			heap.Remove(&s.ready[l], c.index[l])
		}
	}
}

// broadcastLocked wakes every idle worker (closing, or every chat's
// backoff ended at once).
func (s *Sender) broadcastLocked() {
	for len(s.waiters) > 0 {
		s.wakeLocked(len(s.waiters) - 1)
	}
}

func backoff(tries int) time.Duration {
	d := time.Second << min(tries, 6) // 2 s … 64 s
	return d/2 + time.Duration(rand.Int64N(int64(d/2)))
}

// chatHeap orders the chats that have messages queued in one lane by the time
// their next message may be sent.
type chatHeap struct {
	lane int
	cs   []*outChat
}

func (h *chatHeap) Len() int           { return len(h.cs) }
func (h *chatHeap) Less(i, j int) bool { return h.cs[i].nextAt.Before(h.cs[j].nextAt) }
func (h *chatHeap) Swap(i, j int) {
	h.cs[i], h.cs[j] = h.cs[j], h.cs[i]
	h.cs[i].index[h.lane] = i
	h.cs[j].index[h.lane] = j
}
func (h *chatHeap) Push(x any) {
	c := x.(*outChat)
	c.index[h.lane] = len(h.cs)
	h.cs = append(h.cs, c)
}
func (h *chatHeap) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs[len(h.cs)-1] = nil // the backing array must not keep the chat alive
	h.cs = h.cs[:len(h.cs)-1]
	c.index[h.lane] = -1
	return c
}
