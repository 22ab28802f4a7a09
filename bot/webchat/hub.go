package webchat

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// hub wakes a visitor's open event streams when a message is appended to
// their history. A wake-up carries no data: the stream reads the history
// after its last sequence number, so nothing is lost or reordered when
// wake-ups coalesce.
type hub struct {
	mu    sync.Mutex
	subs  map[string]map[chan struct{}]struct{}
	total int // open streams of all visitors
}

// Why subscribe refuses a stream.
var (
	errVisitorStreams = errors.New("webchat: too many streams for this visitor")
	errTooManyStreams = errors.New("webchat: too many open streams")
)

func newHub() *hub { return &hub{subs: make(map[string]map[chan struct{}]struct{})} }

// subscribe registers a stream of visitor, unless the visitor already has
// perVisitor streams open or all visitors together total. Call the returned
// cancel when the stream ends.
func (h *hub) subscribe(visitor string, perVisitor, total int) (wake chan struct{}, cancel func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.subs[visitor]
	switch {
	case len(set) >= perVisitor:
		return nil, nil, errVisitorStreams
	case h.total >= total:
		return nil, nil, errTooManyStreams
	}
	if set == nil {
		set = make(map[chan struct{}]struct{})
		h.subs[visitor] = set
	}
	wake = make(chan struct{}, 1)
	set[wake] = struct{}{}
	h.total++
	return wake, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := set[wake]; !ok {
			return
		}
		delete(set, wake)
		h.total--
		if len(set) == 0 {
			delete(h.subs, visitor)
		}
	}, nil
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

// limiter is a token bucket per key (a visitor, an address). Idle visitors are swept on use, so
// it needs no goroutine of its own. It remembers at most max keys: a flood of new keys (many
// addresses, many visitors) makes it forget one at random for each new one once full, so its
// memory stays bounded; only a key among more than max active at once can get a fresh bucket.
type limiter struct {
	rate  rate.Limit
	burst int
	max   int

	mu        sync.Mutex
	visitors  map[string]*visitorLimit
	lastSweep time.Time
}

type visitorLimit struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond float64, burst, maxKeys int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, max: maxKeys, visitors: make(map[string]*visitorLimit)}
}

// size is how many keys l remembers.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.visitors)
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
		for k := range l.visitors {
			if len(l.visitors) < l.max {
				break
			}
			delete(l.visitors, k) // map order: one at random
		}
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
