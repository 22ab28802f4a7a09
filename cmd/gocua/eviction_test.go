package main

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/store/storetest"
)

// gocua warns at start, naming the server and its policy, when its Redis
// would evict keys once full; a Redis without a limit (the test server's
// default) gets no warning.
func TestStartWarnsWhenRedisMayEvict(t *testing.T) {
	const warning = "redis evicts keys when it is full"
	if h := start(t, nil); strings.Contains(h.logs.String(), warning) {
		t.Errorf("warned about a Redis without maxmemory:\n%s", h.logs.String())
	}

	srv := storetest.StartRedis(t, storetest.RedisOptions{})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	ctx := context.Background()
	if err := c.ConfigSet(ctx, "maxmemory", "256mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	h := start(t, nil, withEnv("GOCUA_REDIS_URL", srv.URL(0)))
	logs := h.logs.String()
	line := ""
	for l := range strings.Lines(logs) {
		if strings.Contains(l, warning) {
			line = l
		}
	}
	for _, want := range []string{"level=WARN", "node=" + srv.Addr(), "maxmemory_policy=volatile-lru", "maxmemory=268435456"} {
		if !strings.Contains(line, want) {
			t.Errorf("the warning %q lacks %q; logs:\n%s", line, want, logs)
		}
	}
}

// A Redis that is full and evicts nothing refuses gocua's writes: the
// webhook answers 503 (Telegram delivers the update again), nothing is sent
// for it, and the process keeps running; once Redis has room, the
// re-delivery is answered exactly once.
func TestFullRedisAnswersNon2xxAndLosesNothing(t *testing.T) {
	srv := storetest.StartRedis(t, storetest.RedisOptions{})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	ctx := context.Background()
	h := start(t, nil, withEnv("GOCUA_REDIS_URL", srv.URL(0)))
	chat := newChatID()
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	before := len(h.sentTo(chat))

	if err := c.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil { // every write now fails with OOM
		t.Fatal(err)
	}
	id := nextUpdateID()
	update := textUpdate(id, chat, "menu")
	for range 3 { // Telegram's retries while Redis stays full
		if code := h.postJSON(update); code < 500 {
			t.Fatalf("webhook answered %d with Redis full, want 5xx", code)
		}
	}
	if n := len(h.sentTo(chat)); n != before {
		t.Fatalf("%d messages sent while Redis was full, want none", n-before)
	}

	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	h.send(update)
	h.postJSON(update) // and once more, as a late duplicate
	h.settle()
	if n := len(h.sentTo(chat)) - before; n != 1 {
		t.Errorf("%d replies to the update once Redis had room, want 1: %q", n, texts(h.sentTo(chat)[before:]))
	}
	if !strings.Contains(h.logs.String(), "OOM") {
		t.Errorf("the refused writes were not logged with Redis's OOM error")
	}
}
