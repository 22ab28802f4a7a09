package dashboard

import (
	"context"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// statsCache keeps the answers of the counting queries (overview, funnel,
// flow versions) for a short while: organizers reload those pages, and a
// funnel over a month of events is the most expensive thing the dashboard
// asks of the database. Of concurrent requests for the same numbers one
// asks, the others wait for its answer. What it keeps is at most
// Config.StatsTTL old (the pages say so); the queue, the tickets and
// everything written are never cached.
type statsCache struct {
	Store
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	v  any
	at time.Time
}

// maxCached bounds the answers kept (each is a few kilobytes).
const maxCached = 512

func newStatsCache(st Store, ttl time.Duration, now func() time.Time) *statsCache {
	return &statsCache{Store: st, ttl: ttl, now: now, entries: map[string]cached{}}
}

// get answers from the cache, or asks once.
func get[T any](ctx context.Context, c *statsCache, key string, ask func(context.Context) (T, error)) (T, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.v.(T), nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		// not the first caller's context: its hang-up must not fail the others
		v, err := ask(context.WithoutCancel(ctx))
		if err != nil {
			return v, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.entries) >= maxCached {
			for k, e := range c.entries {
				if now.Sub(e.at) >= c.ttl || len(c.entries) >= maxCached {
					delete(c.entries, k)
				}
			}
		}
		c.entries[key] = cached{v: v, at: now}
		return v, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

func queryKey(kind string, q Query, more ...string) string {
	loc := ""
	if q.Location != nil {
		loc = q.Location.String()
	}
	parts := append([]string{kind, q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano),
		strings.Join(q.Scope, ","), boolStr(q.Scope == nil), q.Area, string(q.Channel), q.Lang, loc}, more...)
	return strings.Join(parts, "\x00")
}

func boolStr(b bool) string {
	if b {
		return "all"
	}
	return "some"
}

func (c *statsCache) Overview(ctx context.Context, q Query) (Overview, error) {
	return get(ctx, c, queryKey("overview", q), func(ctx context.Context) (Overview, error) { return c.Store.Overview(ctx, q) })
}

func (c *statsCache) Funnel(ctx context.Context, q FunnelQuery) ([]FunnelStep, error) {
	return get(ctx, c, queryKey("funnel", q.Query, q.Flow, q.Version), func(ctx context.Context) ([]FunnelStep, error) {
		return c.Store.Funnel(ctx, q)
	})
}

func (c *statsCache) FlowVersions(ctx context.Context, flow string, limit int) ([]FlowVersion, error) {
	return get(ctx, c, queryKey("versions", Query{}, flow, strings.Repeat("+", min(limit, 64))), func(ctx context.Context) ([]FlowVersion, error) {
		return c.Store.FlowVersions(ctx, flow, limit)
	})
}
