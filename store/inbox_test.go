package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
)

// The inbox, numbered menus and own-message tracking, run against the real
// test server and an embedded one (the zero-config default).

func TestRedisInbox(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, url string)
	}{
		{"AddReadAck", testInboxAddReadAck},
		{"Redeliver", testInboxRedeliver},
		{"AckedNeverBack", testInboxAckedNeverBack},
		{"BeforeGroup", testInboxBeforeGroup},
		{"Block", testInboxBlock},
		{"ConcurrentReaders", testInboxConcurrentReaders},
		{"Trimmed", testInboxTrimmed},
		{"Menu", testRedisMenu},
		{"Own", testRedisOwn},
		{"OwnCap", testRedisOwnCap},
		{"KeyLayout", testZaloKeyLayout},
	}
	for _, srv := range redisServers() {
		t.Run(srv.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, srv.url(t)) })
			}
		})
	}
}

const inboxCh = bot.ChannelZaloOA

func inboxAdd(t *testing.T, r *Redis, data ...string) {
	t.Helper()
	for _, d := range data {
		if err := r.InboxAdd(context.Background(), inboxCh, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
}

func inboxRead(t *testing.T, r *Redis, consumer string, n int, block, minIdle time.Duration) []bot.InboxEntry {
	t.Helper()
	got, err := r.InboxRead(context.Background(), inboxCh, consumer, n, block, minIdle)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func inboxAck(t *testing.T, r *Redis, entries ...bot.InboxEntry) {
	t.Helper()
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	if err := r.InboxAck(context.Background(), inboxCh, ids...); err != nil {
		t.Fatal(err)
	}
}

func entryData(entries []bot.InboxEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = string(e.Data)
	}
	return out
}

func testInboxAddReadAck(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{})
	if got := inboxRead(t, r, "c1", 10, 0, time.Minute); got != nil {
		t.Fatalf("read of a missing inbox = %+v, want nil", got)
	}
	inboxAdd(t, r, "one", "two", "three")
	got := inboxRead(t, r, "c1", 2, 0, time.Minute)
	if d := entryData(got); !slices.Equal(d, []string{"one", "two"}) {
		t.Fatalf("first read = %q, want one, two", d)
	}
	for _, e := range got {
		if e.Tries != 1 || e.ID == "" {
			t.Errorf("entry %+v: want an id and Tries 1", e)
		}
	}
	rest := inboxRead(t, r, "c2", 10, 0, time.Minute)
	if d := entryData(rest); !slices.Equal(d, []string{"three"}) {
		t.Fatalf("second read = %q, want three", d)
	}
	if again := inboxRead(t, r, "c1", 10, 0, time.Minute); again != nil {
		t.Fatalf("read before minIdle = %+v, want nil", again)
	}
	inboxAck(t, r, append(got, rest...)...)
	inboxAck(t, r, got...) // twice: no error
	if err := r.InboxAck(ctx, inboxCh); err != nil {
		t.Fatal(err)
	}
	if n, err := client.XLen(ctx, r.inboxKey(inboxCh)).Result(); err != nil || n != 0 {
		t.Errorf("XLEN after ack = %d, %v; want 0 (acked entries deleted)", n, err)
	}
	if _, err := r.InboxRead(ctx, inboxCh, "", 1, 0, time.Minute); err == nil {
		t.Error("read with an empty consumer: no error")
	}
	if got, err := r.InboxRead(ctx, inboxCh, "c1", 0, 0, time.Minute); got != nil || err != nil {
		t.Errorf("read of 0 entries = %+v, %v; want nil, nil", got, err)
	}
}

func testInboxRedeliver(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	const minIdle = 100 * time.Millisecond
	inboxAdd(t, r, "lost")
	first := inboxRead(t, r, "crashed", 10, 0, minIdle)
	if len(first) != 1 || first[0].Tries != 1 {
		t.Fatalf("first read = %+v, want one entry, Tries 1", first)
	}
	if got := inboxRead(t, r, "other", 10, 0, minIdle); got != nil {
		t.Fatalf("read before minIdle = %+v, want nil", got)
	}
	time.Sleep(minIdle + 50*time.Millisecond)
	second := inboxRead(t, r, "other", 10, 0, minIdle)
	if len(second) != 1 || second[0].ID != first[0].ID || string(second[0].Data) != "lost" || second[0].Tries != 2 {
		t.Fatalf("read after minIdle = %+v, want %s again with Tries 2", second, first[0].ID)
	}
	time.Sleep(minIdle + 50*time.Millisecond)
	third := inboxRead(t, r, "other", 10, 0, minIdle) // its own unacked entry
	if len(third) != 1 || third[0].ID != first[0].ID || third[0].Tries != 3 {
		t.Fatalf("third read = %+v, want %s with Tries 3", third, first[0].ID)
	}
	inboxAck(t, r, third...)
	time.Sleep(minIdle + 50*time.Millisecond)
	if got := inboxRead(t, r, "crashed", 10, 0, minIdle); got != nil {
		t.Fatalf("read after ack = %+v, want nil", got)
	}
}

func testInboxAckedNeverBack(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	const minIdle = 80 * time.Millisecond
	inboxAdd(t, r, "a", "b", "c")
	got := inboxRead(t, r, "c1", 10, 0, minIdle)
	if len(got) != 3 {
		t.Fatalf("read = %+v, want 3 entries", got)
	}
	inboxAck(t, r, got[0], got[2])
	time.Sleep(minIdle + 50*time.Millisecond)
	back := inboxRead(t, r, "c2", 10, 0, minIdle)
	if d := entryData(back); !slices.Equal(d, []string{"b"}) || back[0].Tries != 2 {
		t.Fatalf("read after minIdle = %+v, want only b, Tries 2", back)
	}
	// Reclaimed entries come first; new ones wait for the next read.
	inboxAdd(t, r, "d")
	time.Sleep(minIdle + 50*time.Millisecond)
	if d := entryData(inboxRead(t, r, "c2", 10, 0, minIdle)); !slices.Equal(d, []string{"b"}) {
		t.Fatalf("read with b pending again = %q, want b", d)
	}
	if d := entryData(inboxRead(t, r, "c2", 10, 0, minIdle)); !slices.Equal(d, []string{"d"}) {
		t.Fatalf("next read = %q, want d", d)
	}
}

// testInboxBeforeGroup: entries queued before anyone read (the group did
// not exist yet) are handed out.
func testInboxBeforeGroup(t *testing.T, url string) {
	r, client, _ := newTestRedis(t, url, RedisOptions{})
	inboxAdd(t, r, "early")
	if d := entryData(inboxRead(t, r, "c1", 10, 0, time.Minute)); !slices.Equal(d, []string{"early"}) {
		t.Fatalf("read = %q, want early", d)
	}
	// The stream and its group deleted (FLUSHDB): created again on demand.
	if err := client.Del(context.Background(), r.inboxKey(inboxCh)).Err(); err != nil {
		t.Fatal(err)
	}
	inboxAdd(t, r, "late")
	if d := entryData(inboxRead(t, r, "c1", 10, 0, time.Minute)); !slices.Equal(d, []string{"late"}) {
		t.Fatalf("read after the stream was deleted = %q, want late", d)
	}
}

func testInboxBlock(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	for _, block := range []time.Duration{0, -time.Second, time.Microsecond, 100 * time.Millisecond} {
		start := time.Now()
		if got := inboxRead(t, r, "c1", 10, block, time.Minute); got != nil {
			t.Fatalf("block %v on an empty inbox = %+v, want nil", block, got)
		}
		if d := time.Since(start); d > max(block, 0)+time.Second {
			t.Errorf("block %v on an empty inbox took %v", block, d)
		}
	}
	// An entry added while a reader waits wakes it.
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = r.InboxAdd(context.Background(), inboxCh, []byte("wake"))
	}()
	start := time.Now()
	got := inboxRead(t, r, "c1", 10, 5*time.Second, time.Minute)
	if d := entryData(got); !slices.Equal(d, []string{"wake"}) {
		t.Fatalf("blocking read = %q, want wake", d)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("blocking read returned after %v, want soon after the add", d)
	}
}

func testInboxConcurrentReaders(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	const entries = 200
	for i := range entries {
		inboxAdd(t, r, fmt.Sprint(i))
	}
	var mu sync.Mutex
	seen := map[string]int{} // data → hand-outs
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for c := range 2 {
		wg.Go(func() {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				got, err := r.InboxRead(context.Background(), inboxCh, fmt.Sprint("c", c), 7, 10*time.Millisecond, time.Minute)
				if err != nil {
					errs[c] = err
					return
				}
				mu.Lock()
				for _, e := range got {
					seen[string(e.Data)]++
					if e.Tries != 1 {
						errs[c] = fmt.Errorf("entry %s handed out with Tries %d", e.Data, e.Tries)
					}
				}
				done := len(seen) == entries
				mu.Unlock()
				if len(got) > 0 {
					ids := make([]string, 0, len(got))
					for _, e := range got[:len(got)/2] { // ack half: the rest stays pending
						ids = append(ids, e.ID)
					}
					if err := r.InboxAck(context.Background(), inboxCh, ids...); err != nil {
						errs[c] = err
						return
					}
				}
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != entries {
		t.Fatalf("%d entries handed out, want %d", len(seen), entries)
	}
	for d, n := range seen {
		if n != 1 {
			t.Errorf("entry %s handed out %d times, want once", d, n)
		}
	}
}

// testInboxTrimmed: entries trimmed from the stream while pending are
// skipped, never handed out empty.
func testInboxTrimmed(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{})
	const minIdle = 80 * time.Millisecond
	inboxAdd(t, r, "gone", "kept")
	got := inboxRead(t, r, "c1", 10, 0, minIdle)
	if len(got) != 2 {
		t.Fatalf("read = %+v, want 2 entries", got)
	}
	if err := client.XDel(ctx, r.inboxKey(inboxCh), got[0].ID).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(minIdle + 50*time.Millisecond)
	back := inboxRead(t, r, "c2", 10, 0, minIdle)
	if d := entryData(back); !slices.Equal(d, []string{"kept"}) {
		t.Fatalf("read after minIdle = %q, want only kept", d)
	}
}

func testRedisMenu(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{StateTTL: time.Hour})
	key := bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "77"}
	if m, err := r.Menu(ctx, key); err != nil || len(m.Choices) != 0 {
		t.Fatalf("Menu of a new conversation = %+v, %v; want zero", m, err)
	}
	m := bot.Menu{Choices: []bot.Button{{Text: "📲 Cài VNeID", Data: "vneid"}, {Text: "Khác", Data: "other"}}}
	if err := r.SetMenu(ctx, key, m); err != nil {
		t.Fatal(err)
	}
	got, err := r.Menu(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Choices, m.Choices) {
		t.Errorf("Menu = %+v, want %+v", got, m)
	}
	if b, ok := got.Choose("2"); !ok || b.Data != "other" {
		t.Errorf("Choose(2) on the stored menu = %+v, %v", b, ok)
	}
	ttl, err := client.PTTL(ctx, r.menuKey(key)).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("menu TTL = %v, %v; want the state TTL (1 h)", ttl, err)
	}
	if err := r.SetMenu(ctx, key, bot.Menu{}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Menu(ctx, key); err != nil || len(got.Choices) != 0 {
		t.Errorf("Menu after an empty SetMenu = %+v, %v; want zero", got, err)
	}
	if n, _ := client.Exists(ctx, r.menuKey(key)).Result(); n != 0 {
		t.Error("an empty SetMenu left the key")
	}
}

func testRedisOwn(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{})
	key := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: "u1"}
	own := func(id string) (bool, bool) {
		t.Helper()
		o, s, err := r.Own(ctx, key, id)
		if err != nil {
			t.Fatal(err)
		}
		return o, s
	}
	sending := func(on bool) {
		t.Helper()
		if err := r.Sending(ctx, key, on); err != nil {
			t.Fatal(err)
		}
	}
	if o, s := own("m1"); o || s {
		t.Fatalf("Own of a new conversation = %v, %v; want false, false", o, s)
	}
	sending(true)
	if _, s := own("m1"); !s {
		t.Error("sending = false during a send")
	}
	ttl, err := client.PTTL(ctx, r.sendingKey(key)).Result()
	if err != nil || ttl <= 0 || ttl > SendingTTL {
		t.Errorf("sending TTL = %v, %v; want at most %v", ttl, err, SendingTTL)
	}
	sending(true) // a second send at once
	sending(false)
	if _, s := own("m1"); !s {
		t.Error("sending = false with one of two sends still under way")
	}
	sending(false)
	if _, s := own("m1"); s {
		t.Error("sending = true after both sends ended")
	}
	sending(false) // an extra off does not go below zero
	sending(true)
	if _, s := own("m1"); !s {
		t.Error("sending = false during a send after an extra off")
	}
	sending(false)

	if err := r.MarkOwn(ctx, key, "m1"); err != nil {
		t.Fatal(err)
	}
	if o, s := own("m1"); !o || s {
		t.Errorf("Own(m1) after MarkOwn = %v, %v; want true, false", o, s)
	}
	if o, _ := own("m2"); o {
		t.Error("Own(m2) = true for a message never marked")
	}
	other := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: "u2"}
	if o, _, err := r.Own(ctx, other, "m1"); err != nil || o {
		t.Errorf("Own(m1) of another conversation = %v, %v; want false", o, err)
	}
	ttl, err = client.PTTL(ctx, r.ownKey(key)).Result()
	if err != nil || ttl <= OwnTTL-time.Minute || ttl > OwnTTL {
		t.Errorf("own ids TTL = %v, %v; want %v", ttl, err, OwnTTL)
	}
	if err := r.MarkOwn(ctx, key, ""); err == nil {
		t.Error("MarkOwn with an empty id: no error")
	}
}

func testRedisOwnCap(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{})
	key := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: "busy"}
	// An id marked longer than OwnTTL ago is not own any more (and the next
	// mark drops it).
	if err := client.ZAdd(ctx, r.ownKey(key), redis.Z{Score: float64(time.Now().Add(-OwnTTL - time.Minute).UnixMilli()), Member: "old"}).Err(); err != nil {
		t.Fatal(err)
	}
	if o, _, err := r.Own(ctx, key, "old"); err != nil || o {
		t.Errorf("Own of an id marked more than OwnTTL ago = %v, %v; want false", o, err)
	}
	for i := range OwnCap + 5 {
		if err := r.MarkOwn(ctx, key, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := client.ZCard(ctx, r.ownKey(key)).Result(); err != nil || n != OwnCap {
		t.Errorf("ids kept = %d, %v; want %d", n, err, OwnCap)
	}
	if o, _, _ := r.Own(ctx, key, fmt.Sprint("m", OwnCap+4)); !o {
		t.Error("the latest id was forgotten")
	}
}

func testZaloKeyLayout(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{Prefix: "gocua"})
	key := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: "123"}
	keys := map[string]string{
		"gocua:inbox:{zalo-oa}":   "stream",
		"gocua:{zalo-oa:123}:m":   "string",
		"gocua:{zalo-oa:123}:snd": "string",
		"gocua:{zalo-oa:123}:own": "zset",
	}
	t.Cleanup(func() {
		for k := range keys {
			client.Del(context.Background(), k)
		}
	})
	inboxAdd(t, r, "x")
	if err := r.SetMenu(ctx, key, bot.Menu{Choices: []bot.Button{{Text: "a", Data: "a"}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Sending(ctx, key, true); err != nil {
		t.Fatal(err)
	}
	if err := r.MarkOwn(ctx, key, "m"); err != nil {
		t.Fatal(err)
	}
	for k, typ := range keys {
		got, err := client.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got != typ {
			t.Errorf("TYPE %s = %q, want %q", k, got, typ)
		}
	}
}
