package webchat

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// watchedHistory is one history shared by several replicas that tells
// every watcher of each message appended, as store.Redis does through
// pub/sub. The first fails watches fail at once.
type watchedHistory struct {
	*keyedHistory
	wmu      sync.Mutex
	watchers map[int]func(string)
	next     int
	fails    int
}

func (h *watchedHistory) WatchHistory(ctx context.Context, ready chan<- struct{}, fn func(string)) error {
	h.wmu.Lock()
	if h.fails > 0 {
		h.fails--
		h.wmu.Unlock()
		return errors.New("redis: connection refused")
	}
	id := h.next
	h.next++
	h.watchers[id] = fn
	h.wmu.Unlock()
	close(ready)
	<-ctx.Done()
	h.wmu.Lock()
	delete(h.watchers, id)
	h.wmu.Unlock()
	return nil
}

func (h *watchedHistory) watching() int {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return len(h.watchers)
}

func (h *watchedHistory) AppendHistory(ctx context.Context, key bot.ConvKey, id string, msg []byte) (int64, bool, error) {
	seq, added, err := h.keyedHistory.AppendHistory(ctx, key, id, msg)
	if err == nil && added {
		h.wmu.Lock()
		for _, fn := range h.watchers {
			fn(key.ChatID)
		}
		h.wmu.Unlock()
	}
	return seq, added, err
}

// replica starts another adapter on hist, as a second process would be.
func replica(t *testing.T, hist History) *env {
	t.Helper()
	logs := &syncBuffer{}
	a, err := New(Config{Origins: []string{wardOrigin + "/"}, Keepalive: time.Hour, Keys: testKeys}, &fakeCore{}, hist,
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		a.Close()
		srv.Close()
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return &env{t: t, a: a, srv: srv, logs: logs}
}

// A visitor's event stream on one replica shows at once what another
// replica delivered (no keepalive would: it is an hour), even after the
// watch failed at first; Close ends the watch.
func TestEventsAcrossReplicas(t *testing.T) {
	hist := &watchedHistory{keyedHistory: newKeyedHistory(), watchers: map[int]func(string){}, fails: 1}
	a, b := replica(t, hist), replica(t, hist)
	deadline := time.Now().Add(10 * time.Second)
	for hist.watching() < 2 { // b's first watch failed; it retries after a second
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas watching, want 2", hist.watching())
		}
		time.Sleep(10 * time.Millisecond)
	}
	v := a.visit()
	s := b.events(v, nil, "")
	deliver(t, a.a, v, "u1/0", "Xin chào từ bản sao A")
	if _, m := s.next(); m.ID != "u1/0" || m.Text != "Xin chào từ bản sao A" {
		t.Fatalf("b's stream got %+v", m)
	}
	// a retried delivery appends nothing and shows nothing twice
	deliver(t, a.a, v, "u1/0", "Xin chào từ bản sao A")
	s.quiet(200 * time.Millisecond)
	a.a.Close()
	b.a.Close()
	if n := hist.watching(); n != 0 {
		t.Fatalf("%d watches left after Close", n)
	}
}
