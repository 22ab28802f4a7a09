package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCoordination(t *testing.T) {
	for _, srv := range redisServers() {
		t.Run(srv.name, func(t *testing.T) {
			t.Run("SharedLimit", func(t *testing.T) { testSharedLimit(t, srv.url(t)) })
			t.Run("Lock", func(t *testing.T) { testLock(t, srv.url(t)) })
			t.Run("OnceAndValue", func(t *testing.T) { testOnceAndValue(t, srv.url(t)) })
		})
	}
}

// Two replicas share one limit: a burst passes, then one message per
// interval, whichever replica asks.
func testSharedLimit(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Go(func() {
			ok, wait, err := r.Allow(ctx, "group:-100", 20, time.Minute, 3)
			if err != nil {
				t.Error(err)
			}
			if ok {
				passed.Add(1)
			} else if wait <= 0 || wait > 3*time.Second+time.Millisecond {
				t.Errorf("denied with wait %v, want (0, 3s]", wait)
			}
		})
	}
	wg.Wait()
	if n := passed.Load(); n != 3 {
		t.Fatalf("%d of 40 passed at once, want the burst of 3", n)
	}
	// a fast limit refills within the test
	var got int
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if ok, _, _ := a.Allow(ctx, "fast", 100, time.Second, 1); ok {
			got++
		}
		time.Sleep(time.Millisecond)
	}
	if got < 50 || got > 102 {
		t.Fatalf("%d passed in a second at 100/s", got)
	}
	if _, _, err := a.Allow(ctx, "bad", 0, time.Second, 1); err == nil {
		t.Fatal("a zero rate accepted")
	}
}

func testLock(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	if ok, err := a.Lock(ctx, "board", 300*time.Millisecond); err != nil || !ok {
		t.Fatalf("a takes the lock: %v %v", ok, err)
	}
	if ok, _ := b.Lock(ctx, "board", time.Second); ok {
		t.Fatal("b took a held lock")
	}
	if ok, _ := a.Lock(ctx, "board", 300*time.Millisecond); !ok {
		t.Fatal("a could not renew its lock")
	}
	time.Sleep(400 * time.Millisecond) // a stopped renewing
	if ok, _ := b.Lock(ctx, "board", time.Minute); !ok {
		t.Fatal("b did not take a lapsed lock")
	}
	if err := a.Unlock(ctx, "board"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Lock(ctx, "board", time.Minute); ok {
		t.Fatal("a's Unlock dropped b's lock")
	}
	if err := b.Unlock(ctx, "board"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Lock(ctx, "board", time.Minute); !ok {
		t.Fatal("the lock is not free after its holder unlocked it")
	}
}

func testOnceAndValue(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for i := range 10 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Go(func() {
			if ok, err := r.Once(ctx, "remind:7", time.Minute); err != nil {
				t.Error(err)
			} else if ok {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("Once was true %d times", firsts.Load())
	}
	if v, err := a.Value(ctx, "board"); err != nil || v != "" {
		t.Fatalf("unset value = %q, %v", v, err)
	}
	if err := a.SetValue(ctx, "board", "42|Hàng chờ 🙂", 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := b.Value(ctx, "board"); v != "42|Hàng chờ 🙂" {
		t.Fatalf("value = %q", v)
	}
}

// Announce hands back who announced the name last, so a process finds a
// twin: another nonce than its own since its last beat. A name lapses
// after its ttl, and names (and prefixes) keep apart.
func TestAnnounce(t *testing.T) {
	for _, srv := range redisServers() {
		t.Run(srv.name, func(t *testing.T) {
			ctx := context.Background()
			url := srv.url(t)
			a, _, _ := newTestRedis(t, url, RedisOptions{Owner: "host-1/:8080"})
			twin, _, _ := newTestRedis(t, url, RedisOptions{Owner: "host-1/:8080", Prefix: a.opts.Prefix})
			other, _, _ := newTestRedis(t, url, RedisOptions{Owner: "host-2/:8080", Prefix: a.opts.Prefix})
			step := func(r *Redis, nonce string, ttl time.Duration, want string) {
				t.Helper()
				got, err := r.Announce(ctx, nonce, ttl)
				if err != nil || got != want {
					t.Fatalf("Announce(%s, %s) = %q, %v; want %q", r.opts.Owner, nonce, got, err, want)
				}
			}
			step(a, "n1", time.Minute, "")
			step(a, "n1", time.Minute, "n1")
			step(other, "n3", time.Minute, "")
			step(twin, "n2", time.Minute, "n1")
			step(a, "n1", 100*time.Millisecond, "n2")
			time.Sleep(300 * time.Millisecond) // miniredis keeps real time too (embedded_redis.go)
			step(a, "n1", time.Minute, "")
		})
	}
}
