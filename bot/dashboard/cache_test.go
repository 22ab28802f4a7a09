package dashboard

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestStatsCache(t *testing.T) {
	st := newFakeStore()
	now := testNow
	c := newStatsCache(st, 30*time.Second, func() time.Time { return now })
	q := Query{From: testNow.Add(-time.Hour), To: testNow, Location: time.UTC}
	asked := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.queries)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.Overview(t.Context(), q); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := asked(); n < 1 || n > 2 { // concurrent misses ask once (or twice, racing the first store)
		t.Fatalf("20 concurrent overviews asked the store %d times", n)
	}
	base := asked()
	c.Overview(t.Context(), q)
	if asked() != base {
		t.Error("a fresh answer was asked again")
	}
	// other filters are other numbers
	c.Overview(t.Context(), Query{From: q.From, To: q.To, Location: time.UTC, Area: "a1"})
	c.Overview(t.Context(), Query{From: q.From, To: q.To, Location: time.UTC, Scope: []string{}})
	c.Funnel(t.Context(), FunnelQuery{Query: q, Flow: "install_vneid"})
	c.Funnel(t.Context(), FunnelQuery{Query: q, Flow: "install_vneid", Version: "abc"})
	if asked() != base+4 {
		t.Errorf("different queries shared an answer: %d", asked()-base)
	}
	// stale after the TTL
	now = now.Add(31 * time.Second)
	c.Overview(t.Context(), q)
	if asked() != base+5 {
		t.Error("a stale answer was kept")
	}
	// errors are not kept
	st.fail = errors.New("down")
	now = now.Add(31 * time.Second)
	if _, err := c.Overview(t.Context(), q); err == nil {
		t.Fatal("no error")
	}
	st.fail = nil
	if _, err := c.Overview(t.Context(), q); err != nil {
		t.Errorf("the error was kept: %v", err)
	}
	// bounded
	for i := range 2 * maxCached {
		c.Funnel(t.Context(), FunnelQuery{Query: q, Flow: "f", Version: string(rune('a' + i))})
	}
	if len(c.entries) > maxCached {
		t.Errorf("%d entries kept", len(c.entries))
	}
}
