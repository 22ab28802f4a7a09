package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

// fastSweeps makes a Main take over stale outbox entries within a second.
func fastSweeps(m *Main) {
	m.Outbox.Sweep, m.Outbox.StaleAfter, m.Outbox.Lease = 50*time.Millisecond, 200*time.Millisecond, 2*time.Second
}

// Two replicas on the same stores: one holds replies waiting on a 429; the
// other, starting and sweeping meanwhile, must not send them (before the
// fix every replica that started resent what the others still had
// queued); an update it handles for that chat meanwhile is delivered by the
// lease holder, after the replies it holds.
func TestSecondReplicaDoesNotResendWhatTheFirstHolds(t *testing.T) {
	for _, durable := range []string{"postgres", "sqlite"} {
		t.Run(durable, func(t *testing.T) { testSecondReplica(t, onDurable(t, durable)) })
	}
}

// onDurable returns the options that put Main on PostgreSQL (this
// package's database) or on an SQLite file of the test's own, shared by
// every Main of the test.
func onDurable(t *testing.T, durable string) []option {
	if durable == "sqlite" {
		return []option{withEnv("GOCUA_DATABASE_URL", ""), withEnv("GOCUA_DATA_DIR", t.TempDir())}
	}
	return nil
}

func testSecondReplica(t *testing.T, db []option) {
	api := telegramtest.New(t)
	a := start(t, api, append(db, withMain(func(m *Main) { m.ReplicaID = "replica-a"; fastSweeps(m) }))...)
	chat := newChatID()
	const retryAfter = 6 * time.Second
	api.FailNext("sendMessage", strconv.FormatInt(chat, 10), telegramtest.TooManyRequests(int(retryAfter/time.Second)))
	a.send(textUpdate(nextUpdateID(), chat, "/start")) // 3 replies, held by a behind the 429
	waitUntil(t, 5*time.Second, "the 429", func() bool { return len(api.CallsTo("sendMessage")) == 1 })
	limited := api.CallsTo("sendMessage")[0].At // when the 429 was answered

	b := start(t, api, append(db, withMain(func(m *Main) { m.ReplicaID = "replica-b"; fastSweeps(m) }))...)
	b.send(buttonUpdate(nextUpdateID(), chat, "nav:menu")) // committed by b while a holds the lease
	time.Sleep(500 * time.Millisecond)                     // b sweeps several times
	if time.Since(limited) >= retryAfter {
		t.Fatalf("b took %v to start and sweep: longer than the 429 holds, the test proves nothing", time.Since(limited))
	}
	waitUntil(t, 20*time.Second, "all replies", func() bool { return len(a.sentTo(chat)) >= startReplies+1 })
	// nothing went out while the 429 held: only a, after it, sends them
	for _, m := range a.sentTo(chat) {
		if m.At.Before(limited.Add(retryAfter)) {
			t.Fatalf("a message was sent %v after the 429, inside its %v", m.At.Sub(limited), retryAfter)
		}
	}
	a.settle()
	b.settle()
	time.Sleep(300 * time.Millisecond)
	got := a.sentTo(chat)
	if len(got) != startReplies+1 {
		t.Fatalf("chat got %d messages, want %d (each once): %q", len(got), startReplies+1, texts(got))
	}
	// the greeting, consent question and menu of /start, then the menu b committed
	greeting := a.main.Flows.Text("vi", "greeting", map[string]string{"name": "Lan"})
	if !containsText(got[:1], greeting) || containsText(got[1:], greeting) || got[startReplies-1].Text != got[startReplies].Text {
		t.Errorf("replies out of order: %q", texts(got))
	}
}

// A reply committed whose commit answer was lost (the process then never
// hands it to its sender) is delivered: at once when the platform re-delivers
// the update, else by the sweep. Before the fix it waited for the next start.
func TestCommittedReplyNobodyHeldIsDelivered(t *testing.T) {
	for _, durable := range []string{"postgres", "sqlite"} {
		for _, redeliver := range []bool{true, false} {
			name := durable + "/swept"
			if redeliver {
				name = durable + "/redelivered"
			}
			t.Run(name, func(t *testing.T) { testCommittedReply(t, onDurable(t, durable), redeliver) })
		}
	}
}

func testCommittedReply(t *testing.T, db []option, redeliver bool) {
	h := start(t, nil, append(db, withMain(func(m *Main) {
		m.Outbox.Sweep, m.Outbox.StaleAfter = 50*time.Millisecond, 300*time.Millisecond
		if redeliver { // only the re-delivery may deliver it
			m.Outbox.Sweep = time.Hour
		}
	}))...)
	chat, update := newChatID(), nextUpdateID()
	k, id := key(chat), strconv.FormatInt(update, 10)
	ctx := context.Background()
	c, _, err := h.main.Redis.Load(ctx, k, id)
	if err != nil {
		t.Fatal(err)
	}
	// what a commit whose answer was lost leaves: state, marker and
	// outbox written, leased to this process, nothing in its sender
	reply := bot.Outbound{ID: id + "/0", Key: k, Text: "Chào bác, cháu là trợ lý gocua."}
	if _, err := h.main.Redis.Commit(ctx, c, id, []bot.Outbound{reply}); err != nil {
		t.Fatal(err)
	}
	if redeliver {
		if code := h.postJSON(textUpdate(update, chat, "/start")); code != http.StatusOK {
			t.Fatalf("re-delivery = %d", code)
		}
	}
	waitUntil(t, 5*time.Second, "the reply", func() bool { return len(h.sentTo(chat)) > 0 })
	h.settle()
	time.Sleep(200 * time.Millisecond)
	if got := h.sentTo(chat); len(got) != 1 || got[0].Text != reply.Text {
		t.Fatalf("sent %q, want the committed reply once", texts(got))
	}
}

// A message Telegram refuses (400) is not retried and does not hold up the
// chat: the next reply goes out, the resident stays reachable.
func TestRejectedMessageIsNotRetried(t *testing.T) {
	api := telegramtest.New(t)
	h := start(t, api)
	chat := newChatID()
	api.FailNext("sendMessage", strconv.FormatInt(chat, 10),
		telegramtest.Failure{Status: http.StatusBadRequest, Description: "Bad Request: can't parse entities: unsupported start tag"})
	h.send(textUpdate(nextUpdateID(), chat, "/start")) // 3 replies: the first is refused
	h.settle()
	calls := 0
	for _, c := range api.CallsTo("sendMessage") {
		if c.Params["chat_id"] == strconv.FormatInt(chat, 10) {
			calls++
		}
	}
	if calls != startReplies || len(h.sentTo(chat)) != startReplies-1 {
		t.Fatalf("%d attempts, %d delivered; want the refused one tried once and the next delivered", calls, len(h.sentTo(chat)))
	}
	if r, err := h.main.DB.Resident(context.Background(), key(chat)); err != nil || !r.Reachable {
		t.Fatalf("resident after a refused message: %+v, %v", r, err)
	}
}
