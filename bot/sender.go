package bot

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// SenderConfig tunes one channel's sender.
type SenderConfig struct {
	Channel  Channel // for metrics
	Metrics  Metrics // defaults to NopMetrics
	Limits   Limits
	Rate     float64       // messages per second over the whole channel (Telegram ≈ 30; default 25)
	PerChat  float64       // messages per second to one chat (Telegram: 1)
	Burst    int           // messages a chat may receive back to back before pacing (default 1)
	Workers  int           // concurrent sends (default 16)
	Timeout  time.Duration // one delivery attempt (default 15 s)
	MaxTries int           // attempts for transient failures before giving up (default 8)
}

// Unreachables is told when a platform says a resident blocked the bot.
type Unreachables interface {
	SetReachable(ctx context.Context, key ConvKey, reachable bool, at time.Time) error
}

// Sender delivers committed Outbound messages for one channel: it splits long
// texts, paces sends per chat and overall, lets replies overtake bulk traffic,
// honours retry_after, retries transient failures with backoff and removes each
// message from the durable outbox once delivered. Run owns its goroutines.
type Sender struct {
	cfg    SenderConfig
	d      Deliverer
	outbox Outbox
	unr    Unreachables
	log    *slog.Logger
	global *rate.Limiter

	mu     sync.Mutex
	queued int // messages held (queued or being sent)
	chats  map[ConvKey]*outChat
	ready  [2]chatHeap // per lane: chats with queued messages of that lane, by next send time
	wake   chan struct{}
	closed bool
}

type outChat struct {
	key     ConvKey
	queue   [2][]outItem // per lane
	nextAt  time.Time
	tokens  float64
	busy    bool
	index   [2]int // position in ready heaps, -1 if absent
	stamped time.Time
}

type outItem struct {
	out   Outbound
	parts []Outbound // split pieces still to send; Done is called after the last
	tries int
}

// NewSender builds a sender; call Run to start it.
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
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxTries <= 0 {
		cfg.MaxTries = 8
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	burst := int(cfg.Rate)
	if burst < 1 {
		burst = 1
	}
	return &Sender{
		cfg: cfg, d: d, outbox: outbox, unr: unr, log: log,
		global: rate.NewLimiter(rate.Limit(cfg.Rate), burst),
		chats:  make(map[ConvKey]*outChat),
		ready:  [2]chatHeap{{lane: 0}, {lane: 1}},
		wake:   make(chan struct{}),
	}
}

// Enqueue queues committed messages for delivery, in order.
func (s *Sender) Enqueue(outs ...Outbound) {
	if len(outs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outs {
		c := s.chats[o.Key]
		if c == nil {
			c = &outChat{key: o.Key, index: [2]int{-1, -1}, tokens: float64(s.cfg.Burst)}
			s.chats[o.Key] = c
		}
		lane := laneIndex(o.Lane)
		c.queue[lane] = append(c.queue[lane], outItem{out: o, parts: s.split(o)})
		s.pushLocked(c)
	}
	s.queued += len(outs)
	s.cfg.Metrics.Queue(s.cfg.Channel, s.queued)
	s.broadcastLocked()
}

func laneIndex(l Lane) int {
	if l == LaneBulk {
		return 1
	}
	return 0
}

// split cuts an Outbound whose text is over the channel's limit into several,
// keeping the buttons on the last piece.
func (s *Sender) split(o Outbound) []Outbound {
	pieces := SplitText(o.Text, s.cfg.Limits.MaxText)
	parts := make([]Outbound, len(pieces))
	for i, p := range pieces {
		parts[i] = o
		parts[i].Text = p
		if len(pieces) > 1 {
			parts[i].ID = o.ID + "#" + strconv.Itoa(i)
		}
		if i < len(pieces)-1 {
			parts[i].Buttons = nil
		}
	}
	return parts
}

// Run resumes what the outbox still holds, then delivers until ctx ends. It
// returns after every worker has stopped; an interrupted message stays in the
// outbox and is sent again by the next Run.
func (s *Sender) Run(ctx context.Context) error {
	if s.outbox != nil {
		if err := s.outbox.Pending(ctx, func(o Outbound) error { s.Enqueue(o); return nil }); err != nil {
			s.log.Error("resume outbox", "err", err)
		}
	}
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	s.broadcastLocked()
	s.mu.Unlock()
	wg.Wait()
	return nil
}

// Idle reports whether nothing is queued or being sent (for tests and shutdown).
func (s *Sender) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.chats {
		if c.busy || len(c.queue[0])+len(c.queue[1]) > 0 {
			return false
		}
	}
	return true
}

func (s *Sender) work(ctx context.Context) {
	for {
		c, item, ok := s.next(ctx)
		if !ok {
			return
		}
		if err := s.global.Wait(ctx); err != nil {
			s.release(c, false)
			return
		}
		s.deliver(ctx, c, item)
	}
}

// next waits for a chat whose next message may be sent now and marks it busy.
func (s *Sender) next(ctx context.Context) (*outChat, outItem, bool) {
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
			s.mu.Unlock()
			return c, item, true
		}
		wake := s.wake
		s.mu.Unlock()
		var t *time.Timer
		var timer <-chan time.Time
		if wait >= 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (s *Sender) deliver(ctx context.Context, c *outChat, item outItem) {
	part := item.parts[0]
	dctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	err := s.d.Deliver(dctx, part)
	cancel()
	log := s.log.With("chat", c.key.String(), "msg", part.ID)

	var ra *RetryAfterError
	switch {
	case err == nil:
		s.mu.Lock()
		lane, q := s.headLocked(c, item)
		q[0].parts = q[0].parts[1:]
		q[0].tries = 0
		finished := len(q[0].parts) == 0
		if finished {
			c.queue[lane] = q[1:]
			s.dequeuedLocked(1)
		}
		s.paceLocked(c, time.Now())
		s.mu.Unlock()
		s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "ok")
		if finished && s.outbox != nil {
			if err := s.outbox.Done(context.WithoutCancel(ctx), c.key, item.out.ID); err != nil {
				log.Error("outbox done", "err", err)
			}
		}
		s.release(c, true)
	case errors.As(err, &ra):
		s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "retry_after")
		log.Warn("rate limited by platform", "retry_after", ra.After)
		s.mu.Lock()
		c.nextAt = time.Now().Add(ra.After)
		s.mu.Unlock()
		s.release(c, true)
	case errors.Is(err, ErrUnreachable):
		log.Info("resident unreachable; dropping queued messages", "err", err)
		s.mu.Lock()
		dropped := append(append([]outItem(nil), c.queue[0]...), c.queue[1]...)
		c.queue = [2][]outItem{}
		s.dequeuedLocked(len(dropped))
		s.mu.Unlock()
		s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "unreachable")
		bg := context.WithoutCancel(ctx)
		if s.unr != nil {
			if err := s.unr.SetReachable(bg, c.key, false, time.Now()); err != nil {
				log.Error("mark unreachable", "err", err)
			}
		}
		if s.outbox != nil {
			for _, it := range dropped {
				if err := s.outbox.Done(bg, c.key, it.out.ID); err != nil {
					log.Error("outbox done", "err", err)
				}
			}
		}
		s.release(c, false)
	default:
		if ctx.Err() != nil { // shutting down: leave it in the outbox for the next run
			s.release(c, false)
			return
		}
		s.mu.Lock()
		lane, q := s.headLocked(c, item)
		q[0].tries++
		tries := q[0].tries
		giveUp := tries >= s.cfg.MaxTries
		if giveUp {
			c.queue[lane] = q[1:]
			s.dequeuedLocked(1)
		} else {
			c.nextAt = time.Now().Add(backoff(tries))
		}
		s.mu.Unlock()
		if giveUp {
			s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "gave_up")
			log.Error("giving up on message", "tries", tries, "err", err)
			if s.outbox != nil {
				if err := s.outbox.Done(context.WithoutCancel(ctx), c.key, item.out.ID); err != nil {
					log.Error("outbox done", "err", err)
				}
			}
		} else {
			s.cfg.Metrics.Send(s.cfg.Channel, part.Lane, "error")
			log.Warn("send failed; will retry", "tries", tries, "err", err)
		}
		s.release(c, true)
	}
}

func (s *Sender) dequeuedLocked(n int) {
	s.queued -= n
	s.cfg.Metrics.Queue(s.cfg.Channel, s.queued)
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

func (s *Sender) release(c *outChat, requeue bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.busy = false
	if requeue {
		s.pushLocked(c)
	}
	if len(c.queue[0])+len(c.queue[1]) == 0 && time.Now().After(c.nextAt) {
		delete(s.chats, c.key)
	}
	s.broadcastLocked()
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

func (s *Sender) broadcastLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
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
	h.cs = h.cs[:len(h.cs)-1]
	c.index[h.lane] = -1
	return c
}
