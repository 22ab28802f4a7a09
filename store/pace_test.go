package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

func TestPace(t *testing.T) {
	for _, srv := range redisServers() {
		t.Run(srv.name, func(t *testing.T) {
			t.Run("RepliesBeforeBulk", func(t *testing.T) { testPaceLanes(t, srv.url(t)) })
			t.Run("PerChat", func(t *testing.T) { testPaceChat(t, srv.url(t)) })
			t.Run("PauseBulk", func(t *testing.T) { testPausePulk(t, srv.url(t)) })
			t.Run("BadRates", func(t *testing.T) { testPaceBadRates(t, srv.url(t)) })
			t.Run("CommitPaced", func(t *testing.T) { testCommitPaced(t, srv.url(t)) })
		})
	}
}

// Two replicas draw on one channel budget: replies get their burst at
// once and bulk nothing while they are ahead; over a second, every
// replica's sends together stay within rate + burst.
func testPaceLanes(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	// slow enough that nothing refills while 20 goroutines ask at once
	reply := bot.Pace{Channel: "telegram", Lane: bot.LaneReply, Rate: 2, Burst: 5}
	bulk := reply
	bulk.Lane, bulk.Burst = bot.LaneBulk, 1
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		r := []*Redis{a, b}[i%2]
		wg.Go(func() {
			if wait, err := r.Pace(ctx, reply); err != nil {
				t.Error(err)
			} else if wait == 0 {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := passed.Load(); n != 5 {
		t.Fatalf("%d replies passed at once, want the burst of 5", n)
	}
	if wait, err := b.Pace(ctx, bulk); err != nil || wait <= 2*time.Second || wait > 2500*time.Millisecond {
		t.Fatalf("bulk while replies are 5 ahead at 2/s: wait %v, %v; want about 2.5 s", wait, err)
	}
	// flat out from both replicas, both lanes, for a second
	reply.Channel, bulk.Channel, reply.Rate, bulk.Rate = "zalo-bot", "zalo-bot", 50, 50
	var sent, sentBulk atomic.Int64
	deadline := time.Now().Add(time.Second)
	for i := range 4 {
		r := []*Redis{a, b}[i%2]
		p := []bot.Pace{reply, bulk}[i/2]
		wg.Go(func() {
			for time.Now().Before(deadline) {
				wait, err := r.Pace(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				if wait == 0 {
					sent.Add(1)
					if p.Lane == bot.LaneBulk {
						sentBulk.Add(1)
					}
					continue
				}
				time.Sleep(min(wait, 5*time.Millisecond))
			}
		})
	}
	wg.Wait()
	if n := sent.Load(); n < 40 || n > 50+5+1 {
		t.Fatalf("%d sends in a second at 50/s with a burst of 5", n)
	}
	if sentBulk.Load() >= sent.Load()-sentBulk.Load() {
		t.Errorf("bulk got %d of %d sends competing with replies; replies go first", sentBulk.Load(), sent.Load())
	}
}

// A chat's budget holds for both lanes and both replicas; other chats
// are not held up by it.
func testPaceChat(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	p := bot.Pace{Channel: "telegram", Lane: bot.LaneReply, Rate: 1000, Burst: 10, Chat: "42", PerChat: 1, ChatBurst: 1}
	if wait, err := a.Pace(ctx, p); err != nil || wait != 0 {
		t.Fatalf("first send to a chat: %v, %v", wait, err)
	}
	p.Lane = bot.LaneBulk
	wait, err := b.Pace(ctx, p)
	if err != nil || wait < 900*time.Millisecond || wait > time.Second {
		t.Fatalf("second send to the chat within the second: wait %v, %v", wait, err)
	}
	p.Chat, p.Lane = "43", bot.LaneReply
	if wait, err := b.Pace(ctx, p); err != nil || wait != 0 {
		t.Fatalf("another chat: %v, %v", wait, err)
	}
}

// A pause holds bulk sends on every replica (only longer pauses extend
// it) while replies still go.
func testPausePulk(t *testing.T, url string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	if err := a.PauseBulk(ctx, "telegram", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.PauseBulk(ctx, "telegram", time.Second); err != nil { // shorter: ignored
		t.Fatal(err)
	}
	bulk := bot.Pace{Channel: "telegram", Lane: bot.LaneBulk, Rate: 30, Burst: 5}
	wait, err := b.Pace(ctx, bulk)
	if err != nil || wait < 4*time.Second || wait > 5*time.Second {
		t.Fatalf("bulk during a 5 s pause: wait %v, %v", wait, err)
	}
	reply := bulk
	reply.Lane = bot.LaneReply
	if wait, err := b.Pace(ctx, reply); err != nil || wait != 0 {
		t.Fatalf("a reply during the pause: wait %v, %v", wait, err)
	}
	web := bulk
	web.Channel = "web"
	if wait, err := b.Pace(ctx, web); err != nil || wait != 0 {
		t.Fatalf("bulk on another channel during the pause: wait %v, %v", wait, err)
	}
	if err := a.PauseBulk(ctx, "telegram", 0); err != nil {
		t.Fatal(err)
	}
}

func testPaceBadRates(t *testing.T, url string) {
	a, _ := twoOwners(t, url, time.Minute)
	for _, p := range []bot.Pace{
		{Channel: "telegram"},
		{Channel: "telegram", Rate: 10, Chat: "1"},
	} {
		if _, err := a.Pace(context.Background(), p); err == nil {
			t.Errorf("Pace(%+v) accepted", p)
		}
	}
}

// CommitPaced commits as Commit does and spends the first message's pacing
// budget in the same round trip: a second send to the chat within its
// second must wait, the next commit's message is not paid, a duplicate
// commits nothing, and when Redis lost its scripts the commit still goes
// through (unpaid).
func testCommitPaced(t *testing.T, url string) {
	ctx := context.Background()
	a, _ := twoOwners(t, url, time.Minute)
	key := tgKey("42")
	p := bot.Pace{Channel: "telegram", Lane: bot.LaneReply, Rate: 1000, Burst: 10, Chat: "42", PerChat: 1, ChatBurst: 1}
	out := []bot.Outbound{{ID: "u1/0", Text: "Bác bấm vào nút Tiếp tục"}}
	res, paid, err := a.CommitPaced(ctx, bot.Conversation{Key: key}, "u1", out, p)
	if err != nil || !paid || res.Version != 1 || !res.Leased || res.Backlog {
		t.Fatalf("first CommitPaced = %+v, paid %v, %v; want version 1, leased, paid", res, paid, err)
	}
	if wait, err := a.Pace(ctx, p); err != nil || wait < 900*time.Millisecond {
		t.Errorf("a send to the chat right after: wait %v, %v; want about a second (the budget was spent)", wait, err)
	}
	c, seen, err := a.Load(ctx, key, "u1")
	if err != nil || !seen || c.Version != 1 {
		t.Fatalf("after CommitPaced: version %d, seen %v, %v", c.Version, seen, err)
	}
	msgs, _, err := a.Claim(ctx, key)
	if err != nil || len(msgs) != 1 || msgs[0].Key != key || msgs[0].Text != out[0].Text {
		t.Errorf("outbox %+v, %v; want the message, keyed", msgs, err)
	}

	res, paid, err = a.CommitPaced(ctx, c, "u2", []bot.Outbound{{ID: "u2/0", Text: "tiếp"}}, p)
	if err != nil || paid || res.Version != 2 {
		t.Errorf("second CommitPaced within the second = %+v, paid %v, %v; want version 2, not paid", res, paid, err)
	}
	if _, paid, err := a.CommitPaced(ctx, c, "u1", out, p); !errors.Is(err, bot.ErrDuplicate) || paid {
		t.Errorf("a duplicate: paid %v, %v; want ErrDuplicate", paid, err)
	}

	c.Version = 2
	p.Chat = "43"
	if err := a.client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res, paid, err = a.CommitPaced(ctx, c, "u3", []bot.Outbound{{ID: "u3/0", Text: "sau khi Redis mất script"}}, p)
	if err != nil || paid || res.Version != 3 {
		t.Errorf("CommitPaced after SCRIPT FLUSH = %+v, paid %v, %v; want version 3, not paid", res, paid, err)
	}
	if wait, err := a.Pace(ctx, p); err != nil || wait != 0 {
		t.Errorf("the chat after an unpaid commit: wait %v, %v; want nothing spent", wait, err)
	}
}

// CommitPaced is one round trip on one server, as Commit is.
func TestCommitPacedRoundTrips(t *testing.T) {
	r, _, hook := newTestRedis(t, testEnv.redisURL, RedisOptions{})
	p := bot.Pace{Channel: "telegram", Lane: bot.LaneReply, Rate: 1000, Burst: 10, Chat: "7", PerChat: 1, ChatBurst: 1}
	// a first call opens the connections
	warm := p
	warm.Chat = "6"
	if _, _, err := r.CommitPaced(context.Background(), bot.Conversation{Key: tgKey("6")}, "u1", []bot.Outbound{{ID: "u1/0", Text: "x"}}, warm); err != nil {
		t.Fatal(err)
	}
	var paid bool
	var err error
	if n := hook.roundTrips(t, func() {
		_, paid, err = r.CommitPaced(context.Background(), bot.Conversation{Key: tgKey("7")}, "u1", []bot.Outbound{{ID: "u1/0", Text: "x"}}, p)
	}); n != 1 || err != nil || !paid {
		t.Errorf("CommitPaced: %d round trips, paid %v, %v; want 1, paid", n, paid, err)
	}
}
