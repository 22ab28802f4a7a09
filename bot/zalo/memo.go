package zalo

import (
	"context"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
)

// maxMemo bounds each memo: when full it starts again (what it forgot is
// then fetched, stored or sent once more, never lost).
const maxMemo = 1024

// memo is a bounded map safe for concurrent use whose users of one key
// can take turns (lock), so the others use what the first one found.
type memo[V any] struct {
	mu   sync.Mutex
	m    map[string]V
	busy map[string]chan struct{} // keys being worked on: closed when done
}

func (c *memo[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *memo[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxMemo {
		c.m = make(map[string]V)
	}
	c.m[key] = v
}

func (c *memo[V]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// lock waits until nobody works on key (or ctx ends) and marks it busy; the
// returned function ends the turn.
func (c *memo[V]) lock(ctx context.Context, key string) func() {
	for {
		c.mu.Lock()
		ch, busy := c.busy[key]
		if !busy {
			if c.busy == nil {
				c.busy = make(map[string]chan struct{})
			}
			ch = make(chan struct{})
			c.busy[key] = ch
			c.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					c.mu.Lock()
					delete(c.busy, key)
					c.mu.Unlock()
					close(ch)
				})
			}
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return func() {}
		}
	}
}

// mediaCache keeps recently served photos in memory, at most
// maxCacheBytes in all, each for cacheTTL (an upload deleted meanwhile is
// served a little longer, never changed: upload ids are never reused).
type mediaCache struct {
	mu    sync.Mutex
	items map[string]cachedUpload
	bytes int
}

type cachedUpload struct {
	up bot.Upload
	at time.Time
}

const (
	maxCacheBytes = 32 << 20
	maxCacheItems = 256
	cacheTTL      = 10 * time.Minute
)

func (c *mediaCache) get(id string, now time.Time) (bot.Upload, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[id]
	if !ok {
		return bot.Upload{}, false
	}
	if now.Sub(it.at) > cacheTTL || now.Before(it.at) {
		delete(c.items, id)
		c.bytes -= len(it.up.Data)
		return bot.Upload{}, false
	}
	return it.up, true
}

func (c *mediaCache) put(up bot.Upload, now time.Time) {
	if len(up.Data) == 0 || len(up.Data) > maxCacheBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = make(map[string]cachedUpload)
	}
	if old, ok := c.items[up.ID]; ok {
		delete(c.items, up.ID)
		c.bytes -= len(old.up.Data)
	}
	// make room: the stale first, then any (map order), until it fits
	for _, stale := range []bool{true, false} {
		for id, it := range c.items {
			if c.bytes+len(up.Data) <= maxCacheBytes && len(c.items) < maxCacheItems {
				break
			}
			if !stale || now.Sub(it.at) > cacheTTL {
				delete(c.items, id)
				c.bytes -= len(it.up.Data)
			}
		}
	}
	c.items[up.ID] = cachedUpload{up: up, at: now}
	c.bytes += len(up.Data)
}
