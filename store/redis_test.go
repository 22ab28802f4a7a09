package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// countHook counts the commands and pipelines a client sends: each one is a
// network round trip.
type countHook struct {
	n    atomic.Int64
	mu   sync.Mutex
	cmds []string
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		h.mu.Lock()
		h.cmds = append(h.cmds, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		h.mu.Lock()
		h.cmds = append(h.cmds, fmt.Sprintf("pipeline(%d)", len(cmds)))
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// reset zeroes the counters and returns the commands seen since the last reset.
func (h *countHook) reset() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n.Store(0)
	cmds := h.cmds
	h.cmds = nil
	return cmds
}

// roundTrips runs f and returns how many round trips it made.
func (h *countHook) roundTrips(t *testing.T, f func()) int64 {
	t.Helper()
	h.reset()
	f()
	n := h.n.Load()
	if cmds := h.reset(); n != 1 {
		t.Logf("commands: %v", cmds)
	}
	return n
}

// redisServers are the servers the Redis contract (bot.Conversations and
// bot.Outbox) runs against: the real test server, an embedded one
// started for each test, a three-master Redis Cluster shared by the
// package's tests (see cluster_test.go), and a master reached through Redis
// Sentinel (sentinel_test.go).
func redisServers() []struct {
	name string
	url  func(t testing.TB) string
} {
	return []struct {
		name string
		url  func(t testing.TB) string
	}{
		{"redis", func(testing.TB) string { return testEnv.redisURL }},
		{"embedded", func(t testing.TB) string {
			e, err := StartEmbeddedRedis(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			return e.URL()
		}},
		{"cluster", clusterURL},
		{"sentinel", sentinelURL},
	}
}

func TestRedisContract(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, url string)
	}{
		{"LoadMissing", testRedisLoadMissing},
		{"LoadReadsStateFirst", testRedisLoadReadsStateFirst},
		{"CommitLoad", testRedisCommitLoad},
		{"CommitConflict", testRedisCommitConflict},
		{"CommitConcurrent", testRedisCommitConcurrent},
		{"CommitDuplicate", testRedisCommitDuplicate},
		{"CommitTTL", testRedisCommitTTL},
		{"KeyLayout", testRedisKeyLayout},
		{"Outbox", testRedisOutbox},
		{"OutboxLease", testRedisOutboxLease},
		{"DoneAll", testRedisDoneAll},
		{"DoneMatches", testRedisDoneMatches},
		{"MarkerKeepsRecord", testRedisMarkerKeepsRecord},
		{"CommitManyMessages", testRedisCommitManyMessages},
		{"OutboxLeaseExpires", testRedisOutboxLeaseExpires},
		{"OutboxIndex", testRedisOutboxIndex},
		{"OutboxTakeStale", testRedisOutboxTakeStale},
		{"Append", testRedisAppend},
		{"RoundTrips", testRedisRoundTrips},
		{"Unicode", testRedisUnicode},
		{"StateExpires", testRedisStateExpires},
	}
	for _, srv := range redisServers() {
		t.Run(srv.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, srv.url(t)) })
			}
		})
	}
}

// newTestRedis returns a store on the test database whose keys start with a
// prefix unique to this run of the test (unless opts sets one), its raw client, and a
// round-trip counter installed on that client. A cluster URL gets a
// cluster client.
func newTestRedis(t testing.TB, url string, opts RedisOptions) (*Redis, redis.UniversalClient, *countHook) {
	t.Helper()
	client, err := newRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	hook := &countHook{}
	client.AddHook(hook)
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("t_%s_%d", sanitize(t.Name()), time.Now().UnixNano())
	}
	r, err := NewRedis(context.Background(), client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r, client, hook
}

func tgKey(id string) bot.ConvKey { return bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: id} }

func testRedisLoadMissing(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("1")
	c, seen, err := r.Load(context.Background(), key, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if seen {
		t.Error("seen = true for a fresh conversation")
	}
	if c.Version != 0 || c.Key != key || c.Ticket != 0 || !c.UpdatedAt.IsZero() {
		t.Errorf("Load = %+v, want zero conversation with Key %v", c, key)
	}
}

// orderHook records the commands of each pipeline a client sends, in order,
// but for go-redis's own on a new connection (SELECT, CLIENT SETINFO).
type orderHook struct {
	mu        sync.Mutex
	pipelines [][]string
}

func (h *orderHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *orderHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *orderHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		if names[0] == "select" || names[0] == "client" {
			return next(ctx, cmds)
		}
		h.mu.Lock()
		h.pipelines = append(h.pipelines, names)
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// Load reads the state and the marker with two plain commands, not one
// script; that is only right with the state read first (see Load): a
// marker read first could miss a commit that the state read then sees,
// and the duplicate would be handled again on the state it produced.
func testRedisLoadReadsStateFirst(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("order")
	if _, err := r.Commit(ctx, bot.Conversation{Key: key}, "u1", nil); err != nil {
		t.Fatal(err)
	}
	h := &orderHook{}
	client.AddHook(h)
	if _, seen, err := r.Load(ctx, key, "u1"); err != nil || !seen {
		t.Fatalf("Load of a committed update: seen %v, err %v", seen, err)
	}
	if _, seen, err := r.Load(ctx, key, ""); err != nil || seen {
		t.Fatalf("Load without an update: seen %v, err %v", seen, err)
	}
	got := fmt.Sprint(h.pipelines)
	if want := "[[hmget get] [hmget]]"; got != want {
		t.Errorf("Load's pipelines: %s, want %s", got, want)
	}
}

func testRedisCommitLoad(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("42")
	now := time.Date(2026, 3, 1, 7, 30, 0, 0, time.UTC)

	c, _, err := r.Load(ctx, key, "u1")
	if err != nil {
		t.Fatal(err)
	}
	c.Ticket, c.LastSeq, c.UpdatedAt = 7, 1001, now
	res, err := r.Commit(ctx, c, "u1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 {
		t.Errorf("first commit version = %d, want 1", res.Version)
	}

	got, seen, err := r.Load(ctx, key, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Error("committed update not seen")
	}
	if got.Version != 1 || got.Key != key || got.Ticket != 7 || got.LastSeq != 1001 || !got.UpdatedAt.Equal(now) {
		t.Errorf("Load = %+v", got)
	}
	if _, seen, _ := r.Load(ctx, key, "u2"); seen {
		t.Error("uncommitted update u2 seen")
	}

	got.LastSeq = 1002
	if res, err = r.Commit(ctx, got, "u2", nil); err != nil || res.Version != 2 {
		t.Fatalf("second commit = %d, %v; want 2, nil", res.Version, err)
	}
}

func testRedisCommitConflict(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("7")

	a, _, err := r.Load(ctx, key, "ua")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := r.Load(ctx, key, "ub")
	if err != nil {
		t.Fatal(err)
	}
	a.Ticket = 1
	b.Ticket = 2
	if _, err := r.Commit(ctx, a, "ua", []bot.Outbound{{ID: "ua/0", Text: "a"}}); err != nil {
		t.Fatalf("first writer: %v", err)
	}
	_, err = r.Commit(ctx, b, "ub", []bot.Outbound{{ID: "ub/0", Text: "b"}})
	if !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("second writer: err = %v, want ErrConflict", err)
	}
	got, seen, err := r.Load(ctx, key, "ub")
	if err != nil {
		t.Fatal(err)
	}
	if got.Ticket != 1 || got.Version != 1 {
		t.Errorf("state after conflict = %+v, want the first writer's", got)
	}
	if seen {
		t.Error("the losing update was marked seen")
	}
	out := pendingFor(t, r, key)
	if len(out) != 1 || out[0].ID != "ua/0" {
		t.Errorf("outbox = %+v, want only the winner's message", out)
	}
}

func testRedisCommitConcurrent(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("race")
	const writers = 8

	loaded := make([]bot.Conversation, writers)
	for i := range loaded {
		c, _, err := r.Load(ctx, key, fmt.Sprint("u", i))
		if err != nil {
			t.Fatal(err)
		}
		loaded[i] = c
	}
	var wins, conflicts atomic.Int64
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			c := loaded[i]
			c.Ticket = int64(i + 1)
			_, err := r.Commit(ctx, c, fmt.Sprint("u", i), nil)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, bot.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != writers-1 {
		t.Errorf("wins = %d, conflicts = %d; want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
	}
}

func testRedisCommitDuplicate(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("dup")
	out := []bot.Outbound{{ID: "u1/0", Text: "xin chào"}}

	c, _, _ := r.Load(ctx, key, "u1")
	if _, err := r.Commit(ctx, c, "u1", out); err != nil {
		t.Fatal(err)
	}
	// A re-delivery that raced past Load: it reloads and commits again.
	c, seen, err := r.Load(ctx, key, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Error("Load did not report the committed update")
	}
	c.Ticket = 99
	_, err = r.Commit(ctx, c, "u1", out)
	if !errors.Is(err, bot.ErrDuplicate) {
		t.Fatalf("err = %v, want ErrDuplicate", err)
	}
	got, _, _ := r.Load(ctx, key, "u1")
	if got.Version != 1 || got.Ticket != 0 {
		t.Errorf("state changed by the duplicate: %+v", got)
	}
	if n := len(pendingFor(t, r, key)); n != 1 {
		t.Errorf("outbox has %d messages, want 1", n)
	}
}

func testRedisCommitTTL(t *testing.T, url string) {
	ctx := context.Background()
	opts := RedisOptions{StateTTL: time.Hour, DedupeTTL: 2 * time.Hour}
	r, client, _ := newTestRedis(t, url, opts)
	key := tgKey("ttl")

	c, _, _ := r.Load(ctx, key, "u1")
	res, err := r.Commit(ctx, c, "u1", []bot.Outbound{{ID: "u1/0", Text: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	assertTTL(t, client, r.stateKey(key), time.Hour)
	assertTTL(t, client, r.markerKey(key, "u1"), 2*time.Hour)
	assertTTL(t, client, r.outboxKey(key), 8*time.Hour)

	// Let the state get close to expiry, then commit: the idle TTL restarts.
	if err := client.PExpire(ctx, r.stateKey(key), 5*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	c.Version = res.Version
	if _, err := r.Commit(ctx, c, "u2", nil); err != nil {
		t.Fatal(err)
	}
	assertTTL(t, client, r.stateKey(key), time.Hour)
}

// testRedisStateExpires: an idle conversation and its dedupe markers go
// away on their own, on the embedded server too.
func testRedisStateExpires(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{StateTTL: 50 * time.Millisecond, DedupeTTL: 50 * time.Millisecond})
	key := tgKey("idle")
	c, _, _ := r.Load(ctx, key, "u1")
	c.Ticket = 5
	if _, err := r.Commit(ctx, c, "u1", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, seen, err := r.Load(ctx, key, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Version == 0 && got.Ticket == 0 && !seen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state still there after its TTL: %+v, seen %v", got, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func assertTTL(t *testing.T, client redis.UniversalClient, key string, want time.Duration) {
	t.Helper()
	got, err := client.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got > want || got < want-time.Minute {
		t.Errorf("PTTL %s = %v, want about %v", key, got, want)
	}
}

func testRedisKeyLayout(t *testing.T, url string) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, url, RedisOptions{Prefix: "gocua"})
	key := tgKey("123")
	t.Cleanup(func() {
		client.Del(context.Background(), "gocua:{telegram:123}:s", "gocua:{telegram:123}:u:9", "gocua:{telegram:123}:o",
			"gocua:{telegram:123}:ol", r.indexKey(key))
	})
	c, _, _ := r.Load(ctx, key, "9")
	if _, err := r.Commit(ctx, c, "9", []bot.Outbound{{ID: "9/0", Text: "x"}}); err != nil {
		t.Fatal(err)
	}
	for key, typ := range map[string]string{
		"gocua:{telegram:123}:s":   "hash",
		"gocua:{telegram:123}:u:9": "string",
		"gocua:{telegram:123}:o":   "list",
		"gocua:{telegram:123}:ol":  "string",
		r.indexKey(key):            "zset",
	} {
		got, err := client.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got != typ {
			t.Errorf("TYPE %s = %q, want %q", key, got, typ)
		}
	}
}

func testRedisOutbox(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	a, b := tgKey("a"), bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "b"}

	commit := func(key bot.ConvKey, update string, n int) {
		t.Helper()
		c, _, err := r.Load(ctx, key, update)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]bot.Outbound, n)
		for i := range out {
			out[i] = bot.Outbound{ID: fmt.Sprintf("%s/%d", update, i), Text: fmt.Sprint("text ", i)}
		}
		if _, err := r.Commit(ctx, c, update, out); err != nil {
			t.Fatal(err)
		}
	}
	commit(a, "1", 3)
	commit(b, "1", 1)
	commit(a, "2", 2)

	if got := ids(pendingFor(t, r, a)); got != "1/0 1/1 1/2 2/0 2/1" {
		t.Errorf("outbox a = %s", got)
	}
	if got := pendingFor(t, r, b); len(got) != 1 || got[0].Key != b || got[0].Text != "text 0" {
		t.Errorf("outbox b = %+v", got)
	}

	for _, id := range []string{"1/0", "2/0", "nope", "1/0"} { // head, middle, unknown, again
		if _, err := r.Done(ctx, a, id); err != nil {
			t.Fatalf("Done %s: %v", id, err)
		}
	}
	if got := ids(pendingFor(t, r, a)); got != "1/1 1/2 2/1" {
		t.Errorf("outbox a after Done = %s", got)
	}
	for _, id := range []string{"1/1", "1/2", "2/1"} {
		if _, err := r.Done(ctx, a, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := pendingFor(t, r, a); len(got) != 0 {
		t.Errorf("outbox a not empty: %+v", got)
	}
}

// twoOwners returns two stores on the same keys, as two replicas have.
func twoOwners(t *testing.T, url string, lease time.Duration) (a, b *Redis) {
	t.Helper()
	prefix := fmt.Sprintf("t_%s_%d", sanitize(t.Name()), time.Now().UnixNano())
	a, _, _ = newTestRedis(t, url, RedisOptions{Prefix: prefix, Owner: "replica-a", LeaseTTL: lease})
	b, _, _ = newTestRedis(t, url, RedisOptions{Prefix: prefix, Owner: "replica-b", LeaseTTL: lease})
	return a, b
}

func commitOut(t *testing.T, r *Redis, key bot.ConvKey, update string, n int) bot.Committed {
	t.Helper()
	ctx := context.Background()
	c, _, err := r.Load(ctx, key, update)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]bot.Outbound, n)
	for i := range out {
		out[i] = bot.Outbound{ID: fmt.Sprintf("%s/%d", update, i), Text: "x"}
	}
	res, err := r.Commit(ctx, c, update, out)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// One process at a time delivers a conversation's outbox: the lease holder,
// which also delivers what others commit meanwhile.
func testRedisOutboxLease(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	key := tgKey("lease")

	if res := commitOut(t, a, key, "1", 2); !res.Leased || res.Backlog {
		t.Fatalf("first commit = %+v, want leased, no backlog", res)
	}
	if msgs, held, err := b.Claim(ctx, key); err != nil || !held || len(msgs) != 0 {
		t.Fatalf("b claims a's outbox: %v %v %v, want held", msgs, held, err)
	}
	if res := commitOut(t, b, key, "2", 1); res.Leased {
		t.Fatalf("b's commit while a holds the lease = %+v, want not leased", res)
	}
	if msgs, held, _ := a.Claim(ctx, key); held || ids(msgs) != "1/0 1/1 2/0" {
		t.Fatalf("a claims its own outbox: %s held=%v", ids(msgs), held)
	}
	for i, id := range []string{"1/0", "1/1", "2/0"} {
		n, err := a.Done(ctx, key, id)
		if err != nil || n != 2-i {
			t.Fatalf("Done %s = %d, %v; want %d left", id, n, err, 2-i)
		}
	}
	// empty: the lease went with the last message
	if res := commitOut(t, b, key, "3", 1); !res.Leased || res.Backlog {
		t.Fatalf("b's commit on an empty outbox = %+v, want leased", res)
	}
	// a process that stops releases its leases: the next one takes the
	// backlog first
	if err := b.Release(ctx, []bot.ConvKey{key}); err != nil {
		t.Fatal(err)
	}
	if res := commitOut(t, a, key, "4", 1); !res.Leased || !res.Backlog {
		t.Fatalf("commit after a release = %+v, want leased with a backlog", res)
	}
	if msgs, held, _ := a.Claim(ctx, key); held || ids(msgs) != "3/0 4/0" {
		t.Fatalf("a claims the backlog: %s held=%v", ids(msgs), held)
	}
	// Release and Renew touch only the caller's own leases
	if err := b.Release(ctx, []bot.ConvKey{key}); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := b.Claim(ctx, key); !held {
		t.Fatal("b's Release dropped a's lease")
	}
	if err := b.Renew(ctx, []bot.ConvKey{key}); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := a.Claim(ctx, key); held {
		t.Fatal("b's Renew took a's lease")
	}
	// Done of an unknown id changes nothing
	if n, err := a.Done(ctx, key, "nope"); err != nil || n != 2 {
		t.Fatalf("Done unknown = %d, %v", n, err)
	}
}

// A commit or an append of more messages than Lua can unpack into one
// RPUSH (about 8,000) pushes them all, in order, and still tells a
// backlog from an empty outbox.
func testRedisCommitManyMessages(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("many-messages")
	const n = 8200
	if res := commitOut(t, r, key, "1", n); !res.Leased || res.Backlog {
		t.Fatalf("commit of %d = %+v, want leased, no backlog", n, res)
	}
	out := make([]bot.Outbound, 1500)
	for i := range out {
		out[i] = bot.Outbound{ID: fmt.Sprintf("a/%d", i), Key: key, Text: "y"}
	}
	if err := r.Release(ctx, []bot.ConvKey{key}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Append(ctx, key, "a", out); err != nil || !res.Leased || !res.Backlog {
		t.Fatalf("append of %d after a release = %+v, %v; want leased with a backlog", len(out), res, err)
	}
	pending := pendingFor(t, r, key)
	if len(pending) != n+len(out) {
		t.Fatalf("outbox holds %d messages, want %d", len(pending), n+len(out))
	}
	for i, m := range pending {
		want := fmt.Sprintf("1/%d", i)
		if i >= n {
			want = fmt.Sprintf("a/%d", i-n)
		}
		if m.ID != want {
			t.Fatalf("message %d is %s, want %s", i, m.ID, want)
		}
	}
}

// Done finds a message by how its JSON starts, without decoding it, and
// only the message with exactly that id: "u1/1" is not "u1/10", an id with
// characters JSON escapes still matches, and an element whose fields come
// in another order (written by another encoder) is decoded and matched.
// A commit given the update's record keeps it with the update's dedupe
// marker, and only there: a Load of that update, seen, returns it (its key
// and update id the marker's own), a Load of another update does not, the
// state does not hold it, and a commit without one, a Mark and an older
// replica's plain marker return none. A record that opens a ticket,
// appends a transcript or replaces an attempt cannot be kept so.
func testRedisMarkerKeepsRecord(t *testing.T, url string) {
	ctx := context.Background()
	r, raw, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("marker-record")
	at := time.Date(2026, 12, 3, 8, 30, 0, 123456789, time.UTC)
	rec := bot.UpdateRecord{Key: key, UpdateID: "u1", At: at, Name: "Bà Tư 👵🏽", Lang: "vi", Area: "phuong-1", Ticket: 7,
		Events: []flows.Event{
			{Kind: flows.EventStepEntered, Flow: "install", Step: "tải ứng dụng", Version: "v3"},
			{Kind: flows.EventFlowCompleted, Flow: "install", At: at.Add(-time.Second)},
		}}
	c, seen, err := r.Load(ctx, key, "u1")
	if err != nil || seen || c.Record != nil {
		t.Fatalf("Load before = %+v, %v, %v", c.Record, seen, err)
	}
	c.Record = &rec
	if _, err := r.Commit(ctx, c, "u1", []bot.Outbound{{ID: "u1/0", Text: "a"}}); err != nil {
		t.Fatal(err)
	}
	got, seen, err := r.Load(ctx, key, "u1")
	if err != nil || !seen || got.Record == nil {
		t.Fatalf("Load of the committed update = %+v, %v, %v; want its record", got.Record, seen, err)
	}
	if !reflect.DeepEqual(*got.Record, rec) {
		t.Fatalf("record kept with the marker:\n got %+v\nwant %+v", *got.Record, rec)
	}
	if state, _ := raw.HGet(ctx, r.stateKey(key), "d").Result(); strings.Contains(state, "install") {
		t.Fatalf("the state holds the record: %s", state)
	}
	next, seen, err := r.Load(ctx, key, "u2")
	if err != nil || seen || next.Record != nil || next.Version != got.Version {
		t.Fatalf("Load of the next update = %+v, %v, %v", next.Record, seen, err)
	}
	// the next commit, without a record; a Mark; an older replica's marker
	if _, err := r.Commit(ctx, next, "u2", nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Mark(ctx, key, "u3"); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if err := raw.Set(ctx, r.markerKey(key, "u4"), "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"u2", "u3", "u4"} {
		c, seen, err := r.Load(ctx, key, id)
		if err != nil || !seen || c.Record != nil {
			t.Fatalf("Load %s = %+v, %v, %v; want seen, no record", id, c.Record, seen, err)
		}
	}
	// a marker that is neither: an error, not a silent duplicate
	if err := raw.Set(ctx, r.markerKey(key, "u5"), "{not json", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Load(ctx, key, "u5"); err == nil {
		t.Fatal("Load of a marker holding garbage: no error")
	}
	cur, _, err := r.Load(ctx, key, "u6")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []bot.UpdateRecord{
		{Handoff: &bot.TicketRequest{Flow: "install"}},
		{Ticket: 7, Transcript: []bot.TranscriptLine{{From: "resident", Text: "x"}}},
		{Rerun: true},
	} {
		bad.Key, bad.UpdateID = key, "u6"
		cur.Record = &bad
		if _, err := r.Commit(ctx, cur, "u6", nil); err == nil {
			t.Fatalf("Commit with record %+v: no error", bad)
		}
	}
	if _, seen, err := r.Load(ctx, key, "u6"); err != nil || seen {
		t.Fatalf("a refused record committed its update: seen %v, %v", seen, err)
	}
}

func testRedisDoneMatches(t *testing.T, url string) {
	ctx := context.Background()
	r, raw, _ := newTestRedis(t, url, RedisOptions{})
	key := tgKey("done-matches")
	c, _, err := r.Load(ctx, key, "u1")
	if err != nil {
		t.Fatal(err)
	}
	out := []bot.Outbound{{ID: "u1/10", Text: "a"}, {ID: "u1/1", Text: "b"}, {ID: `<&"ư"\>/0`, Text: "c"}}
	if _, err := r.Commit(ctx, c, "u1", out); err != nil {
		t.Fatal(err)
	}
	ob := r.outboxKey(key)
	if err := raw.RPush(ctx, ob,
		`{"x":"d","id":"h/0"}`,               // another field order: decoded
		`{"id":"p/0","x":"not JSON after th`, // the prefix alone: matched undecoded
	).Err(); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		id   string
		left string
	}{
		{"u1/1", "u1/10 " + out[2].ID + " h/0 p/0"},
		{out[2].ID, "u1/10 h/0 p/0"},
		{"u1/", "u1/10 h/0 p/0"},
		{"p/0", "u1/10 h/0"},
		{"h/0", "u1/10"},
		{"u1/10", ""},
	} {
		n, err := r.Done(ctx, key, step.id)
		if err != nil {
			t.Fatalf("Done %q: %v", step.id, err)
		}
		elems, err := raw.LRange(ctx, ob, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, e := range elems {
			var o bot.Outbound
			if json.Unmarshal([]byte(e), &o) != nil {
				o.ID = "p/0" // the element that is not JSON
			}
			left = append(left, o.ID)
		}
		if got := strings.Join(left, " "); got != step.left || n != len(left) {
			t.Fatalf("after Done %q: %d left, outbox %q; want %q", step.id, n, got, step.left)
		}
	}
}

// DoneAll removes delivered messages of many conversations in one round
// trip (on one server), each as Done would: the count left, the lease gone
// with the last one, an unknown id changing nothing; and it survives the
// server losing its scripts.
func testRedisDoneAll(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	x, y := tgKey("many-x"), tgKey("many-y ✓")
	commitOut(t, a, x, "1", 2)
	commitOut(t, a, y, "1", 1)
	left, err := a.DoneAll(ctx, []bot.Delivered{{Key: x, ID: "1/0"}, {Key: y, ID: "1/0"}, {Key: x, ID: "nope"}})
	if err != nil || len(left) != 3 || left[0] != 1 || left[1] != 0 || left[2] != 1 {
		t.Fatalf("DoneAll = %v, %v; want [1 0 1]", left, err)
	}
	if msgs, held, _ := b.Claim(ctx, x); !held || len(msgs) != 0 {
		t.Fatalf("x with a message left: b claims %s held=%v; want a's lease kept", ids(msgs), held)
	}
	if res := commitOut(t, b, y, "2", 1); !res.Leased || res.Backlog {
		t.Fatalf("y emptied by DoneAll: b's commit = %+v; want leased (the lease went with the last message)", res)
	}
	if err := a.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	left, err = a.DoneAll(ctx, []bot.Delivered{{Key: x, ID: "1/1"}, {Key: y, ID: "2/0"}})
	if err != nil || len(left) != 2 || left[0] != 0 || left[1] != 0 {
		t.Fatalf("DoneAll after SCRIPT FLUSH = %v, %v; want [0 0]", left, err)
	}
	if msgs, held, _ := b.Claim(ctx, x); held || len(msgs) != 0 {
		t.Fatalf("x emptied: b claims %s held=%v; want nothing, not held", ids(msgs), held)
	}
}

// Append adds to another conversation's outbox once per marker, behind what
// its own commits queued, taking the lease as Commit does and indexing it.
func testRedisAppend(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	key := tgKey("relay")
	msg := func(id string) bot.Outbound { return bot.Outbound{ID: id, Key: key, Text: "x"} }

	commitOut(t, a, key, "1", 1)
	if res, err := b.Append(ctx, key, "web:v1:u7", []bot.Outbound{msg("r:u7/0"), msg("r:u7/1")}); err != nil || res.Leased {
		t.Fatalf("append while a holds the lease = %+v, %v; want appended, not leased", res, err)
	}
	if _, err := a.Append(ctx, key, "web:v1:u7", []bot.Outbound{msg("r:u7/0")}); !errors.Is(err, bot.ErrDuplicate) {
		t.Fatalf("the same marker again: %v, want ErrDuplicate", err)
	}
	if msgs, held, _ := a.Claim(ctx, key); held || ids(msgs) != "1/0 r:u7/0 r:u7/1" {
		t.Fatalf("outbox = %s held=%v, want the commit's message, then the relay once", ids(msgs), held)
	}
	for _, id := range []string{"1/0", "r:u7/0", "r:u7/1"} {
		if _, err := a.Done(ctx, key, id); err != nil {
			t.Fatal(err)
		}
	}
	// on an empty outbox the appender takes the lease; after a release the
	// next appender finds a backlog
	if res, err := b.Append(ctx, key, "m2", []bot.Outbound{msg("r:2/0")}); err != nil || !res.Leased || res.Backlog {
		t.Fatalf("append to an empty outbox = %+v, %v; want leased", res, err)
	}
	if err := b.Release(ctx, []bot.ConvKey{key}); err != nil {
		t.Fatal(err)
	}
	if res, err := a.Append(ctx, key, "m3", []bot.Outbound{msg("r:3/0")}); err != nil || !res.Leased || !res.Backlog {
		t.Fatalf("append after a release = %+v, %v; want leased with a backlog", res, err)
	}
	// indexed for the sweep, like a commit
	stale, err := a.Stale(ctx, key.Channel, time.Now().Add(time.Minute), 100)
	if err != nil || !slices.ContainsFunc(stale, func(s StaleOutbox) bool { return s.Key == key }) {
		t.Fatalf("Stale = %+v, %v; want the appended conversation", stale, err)
	}
	// refused: nothing to append, no marker, a message for another chat
	for _, bad := range []struct {
		marker string
		out    []bot.Outbound
	}{{"m4", nil}, {"", []bot.Outbound{msg("x")}}, {"m5", []bot.Outbound{{ID: "y", Key: tgKey("other"), Text: "x"}}}} {
		if _, err := a.Append(ctx, key, bad.marker, bad.out); err == nil {
			t.Errorf("Append(%q, %d messages) accepted", bad.marker, len(bad.out))
		}
	}
}

// A lease that is not renewed lapses and another process takes the
// messages; one that is renewed holds.
func testRedisOutboxLeaseExpires(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, 300*time.Millisecond)
	crashed, renewed := tgKey("crashed"), tgKey("renewed")
	commitOut(t, a, crashed, "1", 1)
	commitOut(t, a, renewed, "1", 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := a.Renew(ctx, []bot.ConvKey{renewed}); err != nil {
			t.Fatal(err)
		}
		msgs, held, err := b.Claim(ctx, crashed)
		if err != nil {
			t.Fatal(err)
		}
		if !held {
			if ids(msgs) != "1/0" {
				t.Fatalf("claimed %s", ids(msgs))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired lease still holds")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, held, _ := b.Claim(ctx, renewed); !held {
		t.Fatal("a renewed lease lapsed")
	}
}

// Stale lists conversations appended to before a time, per channel; Forget
// drops an entry only if nothing was appended since it was listed.
func testRedisOutboxIndex(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	web := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: "0123456789abcdef0123456789abcdef"}
	keys := []bot.ConvKey{tgKey("s1"), tgKey("s2"), tgKey("người dùng {x}")}
	for _, k := range keys {
		commitOut(t, r, k, "1", 1)
	}
	commitOut(t, r, web, "1", 1)
	if st, err := r.Stale(ctx, bot.ChannelTelegram, time.Now().Add(-time.Hour), 100); err != nil || len(st) != 0 {
		t.Fatalf("Stale an hour ago = %v, %v; want none", st, err)
	}
	stale, err := r.Stale(ctx, bot.ChannelTelegram, time.Now().Add(time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[bot.ConvKey]StaleOutbox{}
	for _, s := range stale {
		got[s.Key] = s
	}
	if len(got) != 3 {
		t.Fatalf("Stale = %v, want the 3 Telegram conversations", stale)
	}
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			t.Errorf("Stale lacks %v", k)
		}
	}
	if st, _ := r.Stale(ctx, bot.ChannelTelegram, time.Now().Add(time.Second), 2); len(st) != 2 {
		t.Errorf("Stale limit 2 = %d entries", len(st))
	}
	// s1 was appended to again after being listed: Forget keeps it
	time.Sleep(5 * time.Millisecond)
	commitOut(t, r, keys[0], "2", 1)
	for _, k := range keys {
		if err := r.Forget(ctx, got[k]); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := r.Stale(ctx, bot.ChannelTelegram, time.Now().Add(time.Second), 100)
	if len(after) != 1 || after[0].Key != keys[0] {
		t.Fatalf("after Forget: %v, want only %v", after, keys[0])
	}
	if st, _ := r.Stale(ctx, bot.ChannelWeb, time.Now().Add(time.Second), 100); len(st) != 1 || st[0].Key != web {
		t.Fatalf("web index = %v", st)
	}
}

// TakeStale claims what nobody holds, forgets what is empty, and moves what
// another live process holds to the back, so the next page lists others.
func testRedisOutboxTakeStale(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	free, empty, held := tgKey("free"), tgKey("empty"), tgKey("held")
	commitOut(t, b, free, "1", 2)
	if err := b.Release(ctx, []bot.ConvKey{free}); err != nil { // b stopped
		t.Fatal(err)
	}
	commitOut(t, a, empty, "1", 1)
	if _, err := a.Done(ctx, empty, "1/0"); err != nil {
		t.Fatal(err)
	}
	commitOut(t, b, held, "1", 1) // b is alive and holds it
	web := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: "0123456789abcdef0123456789abcdef"}
	commitOut(t, b, web, "1", 1)
	if err := b.Release(ctx, []bot.ConvKey{web}); err != nil {
		t.Fatal(err)
	}

	before := time.Now().Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	// the server lost its scripts (a restart): the sweep loads them again
	if err := a.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	msgs, listed, err := a.TakeStale(ctx, bot.ChannelTelegram, before, 100)
	if err != nil {
		t.Fatal(err)
	}
	if listed != 3 || ids(msgs) != "1/0 1/1" || msgs[0].Key != free {
		t.Fatalf("TakeStale = %s (listed %d), want free's 2 messages of 3 listed", ids(msgs), listed)
	}
	if _, h, _ := b.Claim(ctx, free); !h {
		t.Error("a did not take the lease of what it claimed")
	}
	// the next page lists nothing: the empty entry was forgotten, the others moved back
	if msgs, listed, _ := a.TakeStale(ctx, bot.ChannelTelegram, before, 100); listed != 0 || len(msgs) != 0 {
		t.Fatalf("second page = %s (listed %d), want none", ids(msgs), listed)
	}
	all, _ := a.Stale(ctx, bot.ChannelTelegram, time.Now().Add(time.Second), 100)
	if len(all) != 2 {
		t.Fatalf("index = %v, want free and held kept, empty forgotten", all)
	}
	// limit, and only its own channel
	if _, listed, _ := a.TakeStale(ctx, bot.ChannelTelegram, time.Now().Add(time.Second), 1); listed != 1 {
		t.Errorf("limit 1 listed %d", listed)
	}
	if msgs, _, _ := a.TakeStale(ctx, bot.ChannelWeb, time.Now().Add(time.Second), 100); len(msgs) != 1 || msgs[0].Key != web {
		t.Errorf("web sweep = %+v", msgs)
	}
}

// pendingFor returns key's outbox as Claim reports it (taking the lease
// for this store's owner).
func pendingFor(t *testing.T, r *Redis, key bot.ConvKey) []bot.Outbound {
	t.Helper()
	out, held, err := r.Claim(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if held {
		t.Fatalf("outbox %s held by another owner", key)
	}
	return out
}

func ids(out []bot.Outbound) string {
	s := make([]string, len(out))
	for i, o := range out {
		s[i] = o.ID
	}
	return strings.Join(s, " ")
}

func testRedisRoundTrips(t *testing.T, url string) {
	ctx := context.Background()
	_, client, _ := newTestRedis(t, url, RedisOptions{})
	// Forget every cached script: the store must load its own at start so
	// that even its first Commit is a single EVALSHA (Load runs no script).
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r, _, hook := newTestRedis(t, url, RedisOptions{})
	key := tgKey("rt")
	if err := r.Ping(ctx); err != nil { // warm the connection pool
		t.Fatal(err)
	}
	// go-redis dials a connection of its own for the first pipeline
	if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error { return p.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}

	var c bot.Conversation
	var err error
	if n := hook.roundTrips(t, func() { c, _, err = r.Load(ctx, key, "u1") }); n != 1 || err != nil {
		t.Errorf("Load: %d round trips, err %v; want 1", n, err)
	}
	out := []bot.Outbound{{ID: "u1/0", Text: "a"}, {ID: "u1/1", Text: "b"}}
	if n := hook.roundTrips(t, func() { _, err = r.Commit(ctx, c, "u1", out) }); n != 1 || err != nil {
		t.Errorf("Commit: %d round trips, err %v; want 1", n, err)
	}
	if n := hook.roundTrips(t, func() { _, err = r.Commit(ctx, c, "u2", nil) }); n != 1 || !errors.Is(err, bot.ErrConflict) {
		t.Errorf("conflicting Commit: %d round trips, err %v; want 1, ErrConflict", n, err)
	}
	if n := hook.roundTrips(t, func() { _, err = r.Done(ctx, key, "u1/1") }); n != 1 || err != nil {
		t.Errorf("Done: %d round trips, err %v; want 1", n, err)
	}
	many := []bot.Delivered{{Key: key, ID: "u1/0"}, {Key: tgKey("other"), ID: "u9/0"}, {Key: tgKey("third"), ID: "u9/1"}}
	if n := hook.roundTrips(t, func() { _, err = r.DoneAll(ctx, many) }); n != 1 || err != nil {
		t.Errorf("DoneAll of 3: %d round trips, err %v; want 1", n, err)
	}
}

func testRedisUnicode(t *testing.T, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	key := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: "người dùng 👵🏽 {x}"}
	text := strings.Repeat("Bác ơi, mở ứng dụng VNeID 📲 — \x00 nul \u200d 👨‍👩‍👧 ", 2000) + "\xff"

	c, _, err := r.Load(ctx, key, "ư1")
	if err != nil {
		t.Fatal(err)
	}
	c.UpdatedAt = time.Now().UTC()
	out := []bot.Outbound{{ID: "ư1/0", Text: text, Buttons: [][]bot.Button{{{Text: "✅ Xong", Data: "d\x00"}}}}}
	if _, err := r.Commit(ctx, c, "ư1", out); err != nil {
		t.Fatal(err)
	}
	got, seen, err := r.Load(ctx, key, "ư1")
	if err != nil || !seen || got.Version != 1 || got.Key != key {
		t.Fatalf("Load = %+v, %v, %v", got, seen, err)
	}
	pending := pendingFor(t, r, key)
	if len(pending) != 1 {
		t.Fatalf("outbox = %d messages, want 1", len(pending))
	}
	// JSON replaces the invalid byte with U+FFFD; everything else survives.
	if want := strings.ToValidUTF8(text, "\uFFFD"); pending[0].Text != want {
		t.Errorf("text changed in the outbox (len %d, want %d)", len(pending[0].Text), len(want))
	}
	if pending[0].Buttons[0][0].Data != "d\x00" {
		t.Errorf("button data = %q", pending[0].Buttons[0][0].Data)
	}
	if _, err := r.Done(ctx, key, "ư1/0"); err != nil {
		t.Fatal(err)
	}
	if n := len(pendingFor(t, r, key)); n != 0 {
		t.Errorf("Done left %d messages", n)
	}
}

func BenchmarkLoadCommit(b *testing.B) {
	for _, srv := range redisServers() {
		b.Run(srv.name, func(b *testing.B) { benchmarkLoadCommit(b, srv.url(b)) })
	}
}

func benchmarkLoadCommit(b *testing.B, url string) {
	ctx := context.Background()
	r, _, _ := newTestRedis(b, url, RedisOptions{})
	key := tgKey("bench")
	out := []bot.Outbound{{ID: "x", Text: "Bác mở ứng dụng VNeID, chọn Đăng nhập."}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		update := fmt.Sprint(i)
		i++
		c, _, err := r.Load(ctx, key, update)
		if err != nil {
			b.Fatal(err)
		}
		c.LastSeq = int64(i)
		if _, err := r.Commit(ctx, c, update, out); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Done(ctx, key, "x"); err != nil {
			b.Fatal(err)
		}
	}
}

// Without pool_size in the URL the pool holds at least 64 connections
// (updates in flight hold one per round trip); the URL's own value wins.
// Each connection's buffers are 8 KiB unless the URL sizes them.
func TestRedisPoolSize(t *testing.T) {
	sep := map[bool]string{true: "&", false: "?"}[strings.Contains(testEnv.redisURL, "?")]
	for url, want := range map[string][2]int{
		testEnv.redisURL: {max(64, 10*runtime.GOMAXPROCS(0)), redisBufferSize},
		testEnv.redisURL + sep + "pool_size=7&pipeline_read_buffer_size=65536": {7, 65536},
	} {
		client, err := newRedisClient(url)
		if err != nil {
			t.Fatal(err)
		}
		o := client.(*redis.Client).Options()
		if o.PoolSize != want[0] {
			t.Errorf("%s: pool of %d, want %d", url, o.PoolSize, want[0])
		}
		if o.PipelineReadBufferSize != want[1] || o.ReadBufferSize != redisBufferSize ||
			o.WriteBufferSize != redisBufferSize || o.PipelineWriteBufferSize != redisBufferSize {
			t.Errorf("%s: buffers read %d write %d, pipeline read %d write %d; want %d and pipeline read %d", url,
				o.ReadBufferSize, o.WriteBufferSize, o.PipelineReadBufferSize, o.PipelineWriteBufferSize, redisBufferSize, want[1])
		}
		client.Close()
	}
}

// TestRedisStateLargerThanBuffers: a conversation and a message many times
// a connection's buffer are stored and read back whole.
func TestRedisStateLargerThanBuffers(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, testEnv.redisURL, RedisOptions{})
	key := tgKey("big")
	big := strings.Repeat("Bác bấm vào nút Tiếp tục. ", 8000) // ≈ 230 KB
	c := bot.Conversation{Key: key}
	c.Flow.Vars = map[string]string{"note": big}
	if _, err := r.Commit(ctx, c, "u1", []bot.Outbound{{ID: "m1", Text: big}}); err != nil {
		t.Fatal(err)
	}
	got, _, err := r.Load(ctx, key, "u2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Flow.Vars["note"] != big {
		t.Errorf("state read back with %d bytes of the note, want %d", len(got.Flow.Vars["note"]), len(big))
	}
	msgs, _, err := r.Claim(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Text != big {
		t.Errorf("outbox read back %d messages, want the one of %d bytes", len(msgs), len(big))
	}
}

// TestRouteRedisLogs: what go-redis logs comes out through gocua's logger.
// A URL whose options send reads to replicas is refused before anything
// is dialled: Load's plain reads could then miss the last commit (and
// go-redis's failover client panics on the route_ options).
func TestOpenRedisRefusesReplicaReads(t *testing.T) {
	for _, url := range []string{
		"redis://127.0.0.1:1?addr=127.0.0.1:2&read_only=true",
		"redis://127.0.0.1:1?addr=127.0.0.1:2&route_by_latency=true",
		"redis://127.0.0.1:1?addr=127.0.0.1:2&route_randomly=true",
		"redis://127.0.0.1:1?master_name=gocua&replica_only=true",
		"redis://127.0.0.1:1?master_name=gocua&route_by_latency=true",
		"redis://127.0.0.1:1?master_name=gocua&route_randomly=true",
	} {
		_, err := OpenRedis(context.Background(), url, RedisOptions{})
		if !errors.Is(err, errReplicaReads) {
			t.Errorf("OpenRedis(%s): %v, want errReplicaReads", url, err)
		}
	}
}

func TestRouteRedisLogs(t *testing.T) {
	var buf bytes.Buffer
	RouteRedisLogs(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { RouteRedisLogs(slog.Default()) })
	client, err := newRedisClient(testEnv.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	key := fmt.Sprintf("t_%s_%d", sanitize(t.Name()), time.Now().UnixNano())
	// go-redis logs that it rounds an expiry below a millisecond up
	if err := client.Set(context.Background(), key, "1", 500*time.Microsecond).Err(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "redis client: specified duration is 500µs") {
		t.Errorf("logged %q, want go-redis's warning through slog", got)
	}
}
