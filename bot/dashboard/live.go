package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// live tells open pages that what they show changed. Each topic a page
// listens to ("queue", "ticket:12") is polled in the store once per Poll
// however many pages listen, so it sees changes made by any replica (a
// claim on Telegram shows here within a second); "notice:<volunteer>" is
// poked by this process only.
type live struct {
	st   Store
	poll time.Duration
	log  *slog.Logger

	mu     sync.Mutex
	subs   map[string]map[chan struct{}]bool
	stamps map[string]string
}

// maxStreams bounds the open event streams of a process.
const maxStreams = 1000

func newLive(st Store, poll time.Duration, log *slog.Logger) *live {
	return &live{st: st, poll: poll, log: log, subs: map[string]map[chan struct{}]bool{}, stamps: map[string]string{}}
}

// subscribe listens to topics; cancel stops. ok is false when too many
// streams are open.
func (l *live) subscribe(topics ...string) (ch chan struct{}, cancel func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.subs {
		n += len(s)
	}
	if n >= maxStreams {
		return nil, nil, false
	}
	ch = make(chan struct{}, 1)
	for _, t := range topics {
		if l.subs[t] == nil {
			l.subs[t] = map[chan struct{}]bool{}
		}
		l.subs[t][ch] = true
	}
	return ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, t := range topics {
			delete(l.subs[t], ch)
			if len(l.subs[t]) == 0 {
				delete(l.subs, t)
				delete(l.stamps, t)
			}
		}
	}, true
}

// prime reads a polled topic's stamp now if nobody listened to it yet, so
// a change right after a page opens is not taken for the first reading.
func (l *live) prime(ctx context.Context, topic string) {
	if topic != "queue" && !strings.HasPrefix(topic, "ticket:") {
		return
	}
	l.mu.Lock()
	_, known := l.stamps[topic]
	l.mu.Unlock()
	if known {
		return
	}
	stamp, err := l.stamp(ctx, topic)
	if err != nil {
		return // the poller tries again
	}
	l.mu.Lock()
	if _, known := l.stamps[topic]; !known && l.subs[topic] != nil {
		l.stamps[topic] = stamp
	}
	l.mu.Unlock()
}

// poke tells a topic's listeners at once.
func (l *live) poke(topic string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs[topic] {
		select {
		case ch <- struct{}{}:
		default: // a change is pending already
		}
	}
}

// run polls the stamps of the topics listened to until ctx ends.
func (l *live) run(ctx context.Context) {
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.check(ctx)
		}
	}
}

func (l *live) check(ctx context.Context) {
	l.mu.Lock()
	var topics []string
	for t := range l.subs {
		if t == "queue" || strings.HasPrefix(t, "ticket:") {
			topics = append(topics, t)
		}
	}
	l.mu.Unlock()
	for _, t := range topics {
		stamp, err := l.stamp(ctx, t)
		if err != nil {
			l.log.Warn("dashboard: live stamp", "topic", t, "err", err)
			continue
		}
		l.mu.Lock()
		old, seen := l.stamps[t]
		changed := seen && old != stamp
		if _, listened := l.subs[t]; listened {
			l.stamps[t] = stamp
		}
		l.mu.Unlock()
		if changed {
			l.poke(t)
		}
	}
}

func (l *live) stamp(ctx context.Context, topic string) (string, error) {
	if topic == "queue" {
		return l.st.QueueStamp(ctx)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(topic, "ticket:"), 10, 64)
	if err != nil {
		return "", err
	}
	return l.st.TicketStamp(ctx, id)
}

// events streams "change" events of a topic the viewer may see (Server-Sent
// Events); the page then fetches its live part again.
func (s *Server) events(w http.ResponseWriter, r *http.Request, v *viewer) {
	topic := r.URL.Query().Get("topic")
	switch {
	case topic == "queue":
	case strings.HasPrefix(topic, "ticket:"):
		id, err := strconv.ParseInt(strings.TrimPrefix(topic, "ticket:"), 10, 64)
		if err != nil || id <= 0 {
			s.fail(w, r, v, http.StatusNotFound, "err_not_found")
			return
		}
		t, err := s.deps.Staff.Ticket(r.Context(), id)
		if err != nil || !v.mayOpen(t) {
			s.fail(w, r, v, http.StatusNotFound, "err_not_found")
			return
		}
	default:
		s.fail(w, r, v, http.StatusNotFound, "err_not_found")
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel, ok := s.live.subscribe(topic, "notice:"+strconv.FormatInt(v.Volunteer.ID, 10))
	if !ok {
		s.fail(w, r, v, http.StatusServiceUnavailable, "err_busy")
		return
	}
	defer cancel()
	s.live.prime(r.Context(), topic)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	fmt.Fprint(w, "retry: 3000\n\n")
	fl.Flush()
	const keepalive = 20 * time.Second
	keep := time.NewTicker(keepalive)
	defer keep.Stop()
	rc := http.NewResponseController(w)
	for {
		// the server's write timeout would end the stream: each write
		// gets its own
		_ = rc.SetWriteDeadline(time.Now().Add(keepalive + 10*time.Second))
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case <-ch:
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", topic)
		}
		fl.Flush()
	}
}
