package zalo

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

func TestMediaCacheStaysBounded(t *testing.T) {
	var c mediaCache
	now := time.Unix(1750316131, 0)
	big := bytes.Repeat([]byte{1}, maxCacheBytes/4)
	for i := range 20 {
		c.put(bot.Upload{ID: "b" + strconv.Itoa(i), Data: big}, now)
		if c.bytes > maxCacheBytes {
			t.Fatalf("%d bytes cached", c.bytes)
		}
	}
	for i := range 1000 {
		c.put(bot.Upload{ID: "s" + strconv.Itoa(i), Data: []byte{1}}, now)
	}
	if len(c.items) > maxCacheItems || c.bytes > maxCacheBytes {
		t.Fatalf("%d items, %d bytes", len(c.items), c.bytes)
	}
	if _, ok := c.get("s999", now); !ok {
		t.Fatal("the newest is not cached")
	}
	if _, ok := c.get("s999", now.Add(cacheTTL+time.Second)); ok {
		t.Fatal("a stale entry is served")
	}
	c.put(bot.Upload{ID: "huge", Data: make([]byte, maxCacheBytes/4+1)}, now)
	if _, ok := c.get("huge", now); ok {
		t.Fatal("an upload over a quarter of the cache is cached")
	}
	total := 0
	for _, it := range c.items {
		total += len(it.up.Data)
	}
	if total != c.bytes {
		t.Fatalf("bytes %d, counted %d", c.bytes, total)
	}
}

func TestMemoTakesTurns(t *testing.T) {
	var m memo[int]
	unlock := m.lock(context.Background(), "k")
	got := make(chan int)
	go func() {
		defer m.lock(context.Background(), "k")()
		v, _ := m.get("k")
		got <- v
	}()
	time.Sleep(10 * time.Millisecond)
	m.put("k", 7)
	unlock()
	if v := <-got; v != 7 {
		t.Fatalf("the second turn saw %d, want what the first stored", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer m.lock(context.Background(), "k")()
	cancel()
	m.lock(ctx, "k")() // gives up with ctx
	for i := range maxMemo + 1 {
		m.put(strconv.Itoa(i), i)
	}
	if len(m.m) > maxMemo {
		t.Fatalf("%d entries", len(m.m))
	}
}
