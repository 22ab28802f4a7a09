package webchat

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// hub wakes a visitor's open event streams when a message is appended to
// their history. A wake-up carries no data: the stream reads the history
// after its last sequence number, so nothing is lost or reordered when
// wake-ups coalesce.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{subs: make(map[string]map[chan struct{}]struct{})} }

// subscribe registers a stream of visitor; it returns nil when the visitor
// already has max streams open. Call the returned cancel when the stream ends.
func (h *hub) subscribe(visitor string, max int) (wake chan struct{}, cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.subs[visitor]
	if len(set) >= max {
		return nil, nil
	}
	if set == nil {
		set = make(map[chan struct{}]struct{})
		h.subs[visitor] = set
	}
	wake = make(chan struct{}, 1)
	set[wake] = struct{}{}
	return wake, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(set, wake)
		if len(set) == 0 {
			delete(h.subs, visitor)
		}
	}
}

// notify wakes every open stream of visitor.
func (h *hub) notify(visitor string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs[visitor] {
		select {
		case c <- struct{}{}:
		default: // already woken
		}
	}
}

// limiter is a per-visitor token bucket. Idle visitors are swept on use, so
// it needs no goroutine of its own.
type limiter struct {
	rate  rate.Limit
	burst int

	mu        sync.Mutex
	visitors  map[string]*visitorLimit
	lastSweep time.Time
}

type visitorLimit struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, visitors: make(map[string]*visitorLimit)}
}

// reserve takes one token for visitor. When none is left it returns false
// and how long until one is.
func (l *limiter) reserve(visitor string, now time.Time) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	idle := time.Duration(float64(l.burst)/float64(l.rate)*float64(time.Second)) + time.Minute
	if now.Sub(l.lastSweep) > idle {
		for k, v := range l.visitors {
			if now.Sub(v.seen) > idle { // its bucket is full again: forgetting it changes nothing
				delete(l.visitors, k)
			}
		}
		l.lastSweep = now
	}
	v := l.visitors[visitor]
	if v == nil {
		v = &visitorLimit{l: rate.NewLimiter(l.rate, l.burst)}
		l.visitors[visitor] = v
	}
	v.seen = now
	r := v.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
