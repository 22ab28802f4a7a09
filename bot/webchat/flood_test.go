package webchat

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// nopHistory and nopCore keep nothing, so what a flood leaves in memory is
// the adapter's own.
type nopHistory struct{}

func (nopHistory) AppendHistory(context.Context, bot.ConvKey, string, []byte) (int64, bool, error) {
	return 1, true, nil
}
func (nopHistory) History(context.Context, bot.ConvKey, int64) ([]bot.HistoryItem, error) {
	return nil, nil
}

type nopCore struct{}

func (nopCore) Handle(context.Context, bot.Inbound) error { return nil }

// floodEnv is an adapter over nopHistory and nopCore, served in process.
func floodEnv(t *testing.T, tune func(*Config)) *Adapter {
	t.Helper()
	cfg := Config{Keepalive: time.Hour, Keys: testKeys}
	if tune != nil {
		tune(&cfg)
	}
	a, err := New(cfg, nopCore{}, nopHistory{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// newVisitor asks for the history without a cookie, from addr, and returns
// the new visitor's cookie ("" when refused).
func newVisitor(a *Adapter, addr string) string {
	req := httptest.NewRequest(http.MethodGet, "http://bot.example/chat/api/history", nil)
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == CookieName && rec.Code == http.StatusOK {
			return c.Value
		}
	}
	return ""
}

// send posts one message as cookie from addr and returns the status.
func send(a *Adapter, cookie, addr string, i int) int {
	body := fmt.Sprintf(`{"id":"msg-%08d","seq":1,"text":"xin chào"}`, i)
	req := httptest.NewRequest(http.MethodPost, "http://bot.example/chat/api/send", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://bot.example")
	req.RemoteAddr = addr
	req.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec.Code
}

// heap is the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// held is what the adapter keeps per key: the limiters' and the hub's maps.
func held(a *Adapter) (newVisitors, addrSends, visitors, hub int) {
	a.hub.mu.Lock()
	hub = len(a.hub.subs)
	a.hub.mu.Unlock()
	return a.newVisitors.size(), a.addrSends.size(), a.limits.size(), hub
}

// 10,000 tries at new visitors from one address: the burst gets visitors,
// the rest are refused, and the adapter holds one address's bucket — its
// heap does not grow with the tries.
func TestFloodOfVisitorsFromOneAddress(t *testing.T) {
	a := floodEnv(t, nil)
	before := heap()
	created := 0
	for range 10000 {
		if newVisitor(a, "203.0.113.9:4000") != "" {
			created++
		}
	}
	grew := int64(heap()) - int64(before)
	nv, as, vs, hub := held(a)
	t.Logf("10,000 tries from one address: %d visitors created; heap %+d bytes; limiter keys: new visitors %d, sends %d, visitors %d; hub %d",
		created, grew, nv, as, vs, hub)
	if created < 60 || created > 70 { // the burst of 60, and what refills while the test runs
		t.Errorf("%d visitors created, want the burst of 60", created)
	}
	if nv != 1 || as != 0 || vs != 0 || hub != 0 {
		t.Errorf("held: new visitors %d, sends %d, visitors %d, hub %d; want 1, 0, 0, 0", nv, as, vs, hub)
	}
	if grew > 1<<20 {
		t.Errorf("the heap grew %d bytes", grew)
	}
}

// 10,000 visitors, each from its own address, each sending a message: each
// limiter remembers at most MaxTracked keys, so the heap stays bounded.
// With a cap of 1,000 the adapter holds 1,000 keys per limiter whether
// 10,000 or 20,000 visitors came.
func TestFloodOfVisitorsFromManyAddresses(t *testing.T) {
	const maxKeys = 1000
	a := floodEnv(t, func(c *Config) { c.MaxTracked = maxKeys })
	flood := func(from, n int) {
		for i := from; i < from+n; i++ {
			addr := fmt.Sprintf("[2001:db8:%x:%x::1]:4000", i>>16, i&0xffff) // one /64 each
			c := newVisitor(a, addr)
			if c == "" {
				t.Fatalf("visitor %d refused", i)
			}
			if code := send(a, c, addr, i); code != http.StatusOK {
				t.Fatalf("visitor %d's message: %d", i, code)
			}
		}
	}
	before := heap()
	flood(0, 10000)
	first := int64(heap()) - int64(before)
	nv, as, vs, hub := held(a)
	t.Logf("10,000 visitors from 10,000 addresses: heap %+d bytes; limiter keys: new visitors %d, sends %d, visitors %d; hub %d", first, nv, as, vs, hub)
	if nv != maxKeys || as != maxKeys || vs != maxKeys || hub != 0 {
		t.Errorf("held: new visitors %d, sends %d, visitors %d, hub %d; want %d, %d, %d, 0", nv, as, vs, hub, maxKeys, maxKeys, maxKeys)
	}
	flood(10000, 10000)
	second := int64(heap()) - int64(before)
	nv, as, vs, _ = held(a)
	t.Logf("and 10,000 more: heap %+d bytes from the start; keys %d, %d, %d", second, nv, as, vs)
	if nv != maxKeys || as != maxKeys || vs != maxKeys {
		t.Errorf("after 20,000: held %d, %d, %d; want %d each", nv, as, vs, maxKeys)
	}
	// a thousand keys of three limiters are well under 2 MB; twice the
	// visitors hold no more than once
	if first > 2<<20 || second > first+256<<10 {
		t.Errorf("the heap grew %d bytes after 10,000 visitors, %d after 20,000", first, second)
	}
}

// The limiter forgets keys at random beyond its cap, and only then: a key
// over its limit stays refused while fewer keys than the cap are active.
func TestLimiterCap(t *testing.T) {
	now := time.Now()
	l := newLimiter(0.001, 1, 100)
	if ok, _ := l.reserve("abuser", now); !ok {
		t.Fatal("first try refused")
	}
	for i := range 98 {
		l.reserve(fmt.Sprint("other", i), now)
	}
	if ok, _ := l.reserve("abuser", now); ok {
		t.Fatal("the abuser's second try was allowed with 99 keys held")
	}
	for i := range 10000 {
		l.reserve(fmt.Sprint("flood", i), now)
		if n := l.size(); n > 100 {
			t.Fatalf("%d keys held, cap 100", n)
		}
	}
	if n := l.size(); n != 100 {
		t.Fatalf("%d keys held after the flood, want 100", n)
	}
}
