package main

import (
	"testing"
	"time"

	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

// TestRedisRoundTripsPerUpdate: an ordinary update of a returning resident
// answered by one message costs three Redis round trips: Load, Commit with
// the message's pacing check in the same pipeline, and the outbox's Done
// once it is sent (four before the pacing check rode with the commit). Each
// further message of the answer costs its own pacing check and Done. The
// Dones of messages sent within a moment of each other go in one round
// trip, so this is the most; and a chat's sent messages waiting for their
// removal never make it claim its outbox again (that cost a round trip
// per answer of two messages; see TestSenderClaimsOnlyOthersMessages).
func TestRedisRoundTripsPerUpdate(t *testing.T) {
	api := telegramtest.New(t)
	h := start(t, api)
	const residents = 20
	chats := make([]int64, residents)
	for i := range chats {
		chats[i] = newChatID()
		h.send(textUpdate(nextUpdateID(), chats[i], "cai vneid"))
	}
	h.settle()
	time.Sleep(1100 * time.Millisecond) // every chat's own budget (1 a second) refills

	var rt redisCounter
	h.main.Redis.AddHook(&rt)
	want, replies := int64(0), 0
	for _, chat := range chats {
		before := len(h.sentTo(chat))
		h.send(textUpdate(nextUpdateID(), chat, "menu"))
		h.settle()
		m := len(h.sentTo(chat)) - before
		if m < 1 {
			t.Fatalf("chat %d: no reply to menu", chat)
		}
		want += 3 + 2*int64(m-1)
		replies += m
	}
	// the sender's sweeps and lease renewals run now and then: allow two
	if n := rt.n.Load(); n > want+2 {
		t.Errorf("%d Redis round trips for %d updates answered by %d messages, want %d", n, residents, replies, want)
	} else {
		t.Logf("%d Redis round trips for %d updates answered by %d messages (%d expected)", n, residents, replies, want)
	}
}
