package store

import (
	"context"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot"
)

// TestEmbeddedRedis: OpenRedis talks to the embedded server through its URL,
// and nothing survives a restart.
func TestEmbeddedRedis(t *testing.T) {
	ctx := context.Background()
	e, err := StartEmbeddedRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if !strings.HasPrefix(e.URL(), "redis://127.0.0.1:") {
		t.Errorf("URL = %q, want a loopback redis:// URL", e.URL())
	}
	r, err := OpenRedis(ctx, e.URL(), RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	key := tgKey("embedded")
	c, _, err := r.Load(ctx, key, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, c, "u1", []bot.Outbound{{ID: "u1/0", Text: "chào bác"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(pendingFor(t, r, key)); n != 1 {
		t.Errorf("outbox has %d messages, want 1", n)
	}
	e.Close()

	e2, err := StartEmbeddedRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e2.Close)
	r2, err := OpenRedis(ctx, e2.URL(), RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r2.Close() })
	got, seen, err := r2.Load(ctx, key, "u1")
	if err != nil || got.Version != 0 || seen || len(pendingFor(t, r2, key)) != 0 {
		t.Errorf("a new embedded server has data: %+v, seen %v, err %v", got, seen, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := StartEmbeddedRedis(cancelled); err == nil {
		t.Error("started with a cancelled context")
	}
}
