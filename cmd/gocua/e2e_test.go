package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/flows"
	"github.com/gocua/gocua/store"
	"github.com/gocua/gocua/store/storetest"
)

func TestHealthReadyAndMetrics(t *testing.T) {
	h := start(t, nil)
	h.send(textUpdate(nextUpdateID(), newChatID(), "/start"))
	h.settle()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gocua_updates_total{channel="telegram",outcome="ok"}`,
		`gocua_sends_total{channel="telegram",lane="reply",outcome="ok"}`,
		"gocua_tickets_waiting",
		"gocua_send_queue",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(h.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s = %d, want 200", path, resp.StatusCode)
		}
	}
}

func TestWebhookRejectsBadInput(t *testing.T) {
	h := start(t, nil)
	chat := newChatID()
	good := textUpdate(nextUpdateID(), chat, "xin chào")
	body := mustJSON(t, good)

	if code := h.postWith(body, "wrong-secret"); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", code)
	}
	if code := h.postWith(body, ""); code != http.StatusUnauthorized {
		t.Errorf("missing secret: %d, want 401", code)
	}
	huge := append([]byte(`{"update_id":1,"message":{"text":"`), bytes.Repeat([]byte("a"), 2<<20)...)
	huge = append(huge, `"}}`...)
	if code := h.post(huge); code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: %d, want 413", code)
	}
	if code := h.post([]byte("{")); code != http.StatusBadRequest {
		t.Errorf("malformed JSON: %d, want 400", code)
	}
	unknown := []byte(`{"update_id":` + strconv.FormatInt(nextUpdateID(), 10) +
		`,"poll":{"id":"p1","question":"?","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}`)
	if code := h.post(unknown); code != http.StatusOK {
		t.Errorf("unknown update type: %d, want 200", code)
	}
	h.settle()
	if n := len(h.api.Sent()); n != 0 {
		t.Errorf("bad input caused %d messages to be sent", n)
	}
	if strings.Contains(h.logs.String(), "xin chào") {
		t.Error("a message body reached the logs")
	}
}

func TestDuplicateUpdateRepliesOnce(t *testing.T) {
	h := start(t, nil)
	chat := newChatID()
	upd := textUpdate(nextUpdateID(), chat, "/start")
	h.send(upd)
	h.settle()
	first := len(h.sentTo(chat))
	if first == 0 {
		t.Fatal("no reply to /start")
	}
	h.send(upd) // Telegram re-delivers
	var wg sync.WaitGroup
	for range 5 { // and a burst of concurrent copies
		wg.Go(func() { h.postJSON(upd) })
	}
	wg.Wait()
	h.settle()
	if got := len(h.sentTo(chat)); got != first {
		t.Fatalf("re-delivered update produced %d more messages", got-first)
	}
}

// echoFlow is a flows-directory overlay: a question that repeats what the
// resident said, so the order of replies shows the order of handling.
const echoFlow = `id: echo_test
title: {vi: "Thử"}
keywords: {vi: ["thu tu"]}
start: ask
steps:
  - id: ask
    ask:
      text: {vi: "Bác vừa nói: {said}"}
      type: text
      save: said
    next: ask
`

func TestConcurrentUpdatesOfOneChatAnsweredInOrder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.yaml"), []byte(echoFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, nil, withEnv("GOCUA_FLOWS_DIR", dir), withMain(func(m *Main) {
		m.ReorderWindow = 300 * time.Millisecond // generous: -race on a busy 2-core machine
	}))
	chat := newChatID()
	h.send(textUpdate(nextUpdateID(), chat, "thu tu"))
	h.settle()
	base := len(h.sentTo(chat))

	const n = 50
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = nextUpdateID()
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { codes[i] = h.postJSON(textUpdate(ids[i], chat, "tin "+strconv.Itoa(i))) })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("update %d answered %d", i, c)
		}
	}
	h.settle()
	got := h.sentTo(chat)[base:]
	if len(got) != n {
		t.Fatalf("got %d replies, want %d", len(got), n)
	}
	for i, m := range got {
		if want := "tin " + strconv.Itoa(i); !strings.Contains(m.Text, want+"") || !strings.HasSuffix(strings.TrimSpace(m.Text), want) {
			t.Fatalf("reply %d is %q, want it to repeat %q (replies out of update order)", i, m.Text, want)
		}
	}
}

func TestManyChatsInParallel(t *testing.T) {
	h := start(t, nil)
	const chats = 200
	var wg sync.WaitGroup
	ids := make([]int64, chats)
	for i := range ids {
		ids[i] = newChatID()
	}
	for _, chat := range ids {
		wg.Go(func() { h.send(textUpdate(nextUpdateID(), chat, "/start")) })
	}
	wg.Wait()
	h.settle()
	for _, chat := range ids {
		if len(h.sentTo(chat)) == 0 {
			t.Fatalf("chat %d got no answer", chat)
		}
	}
}

func TestStaleButtonGetsFriendlyMenu(t *testing.T) {
	h := start(t, nil)
	chat := newChatID()
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.send(buttonUpdate(nextUpdateID(), chat, "s:ZZZZZZZZZZ"))
	h.settle()
	msgs := h.sentTo(chat)
	if !containsText(msgs, h.main.Flows.Text("vi", "stale_button", nil)) {
		t.Fatalf("no stale-button message in %v", texts(msgs))
	}
	if last := msgs[len(msgs)-1]; len(last.Keyboard) < 3 {
		t.Fatalf("stale button answer ends without the menu: %+v", last)
	}
	if calls := h.api.CallsTo("answerCallbackQuery"); len(calls) == 0 {
		t.Error("callback query was not answered")
	}
}

func TestRedisFlushedMidFlowRestartsGracefully(t *testing.T) {
	h := start(t, nil)
	chat := newChatID()
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	menu := h.sentTo(chat)
	first := firstFlowButton(t, menu[len(menu)-1])
	h.send(buttonUpdate(nextUpdateID(), chat, first))
	h.settle()
	inFlow := h.sentTo(chat)
	h.send(buttonUpdate(nextUpdateID(), chat, firstFlowButton(t, inFlow[len(inFlow)-1])))
	h.settle()
	deeper := h.sentTo(chat)
	step := firstFlowButton(t, deeper[len(deeper)-1]) // a button two steps into the flow

	if err := flushOwnRedis(t); err != nil {
		t.Fatal(err)
	}
	before := len(h.sentTo(chat))
	h.send(buttonUpdate(nextUpdateID(), chat, step))
	h.settle()
	after := h.sentTo(chat)[before:]
	if !containsText(after, h.main.Flows.Text("vi", "restart", nil)) {
		t.Fatalf("after a Redis flush the resident got %v, want the friendly restart", texts(after))
	}
}

func TestPostgresDownMeansRetryAndNothingLost(t *testing.T) {
	// the test PostgreSQL, wherever GOCUA_TEST_DATABASE_URL puts it, behind a proxy
	dbURL, err := url.Parse(testDB.url)
	if err != nil {
		t.Fatal(err)
	}
	if dbURL.Port() == "" {
		t.Fatalf("test database URL %s has no port", dbURL.Redacted())
	}
	proxy := newTCPProxy(t, dbURL.Host)
	dbURL.Host = proxy.Addr()
	h := start(t, nil, withEnv("GOCUA_DATABASE_URL", dbURL.String()))
	chat := newChatID()

	proxy.Cut()
	upd := textUpdate(nextUpdateID(), chat, "/start")
	if code := h.postJSON(upd); code < 500 {
		t.Fatalf("with PostgreSQL down the webhook answered %d; Telegram would not retry", code)
	}
	resp, err := http.Get(h.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d with PostgreSQL down, want 503", resp.StatusCode)
	}
	h.settle()
	if n := len(h.sentTo(chat)); n != 0 {
		t.Fatalf("%d replies sent for an update that was not acknowledged", n)
	}

	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for h.postJSON(upd) != http.StatusOK { // Telegram's retry
		if time.Now().After(deadline) {
			t.Fatal("webhook did not recover after PostgreSQL came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.settle()
	if len(h.sentTo(chat)) == 0 {
		t.Fatal("the retried update got no reply")
	}
	if _, err := h.main.DB.Resident(context.Background(), key(chat)); err != nil {
		t.Fatalf("resident not recorded after recovery: %v", err)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	api := telegramtest.New(t)
	h := start(t, api)
	chat := newChatID()
	api.FailNext("sendMessage", strconv.FormatInt(chat, 10), telegramtest.TooManyRequests(2))
	began := time.Now()
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	msgs := h.sentTo(chat)
	if len(msgs) == 0 {
		t.Fatal("message dropped after a 429")
	}
	if wait := msgs[0].At.Sub(began); wait < 2*time.Second {
		t.Fatalf("re-sent after %v, want ≥ 2s (retry_after)", wait)
	}
}

func TestBlockedResidentMarkedUnreachable(t *testing.T) {
	api := telegramtest.New(t)
	h := start(t, api)
	chat := newChatID()
	api.FailNext("sendMessage", strconv.FormatInt(chat, 10), telegramtest.Blocked())
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	r, err := h.main.DB.Resident(context.Background(), key(chat))
	if err != nil {
		t.Fatal(err)
	}
	if r.Reachable {
		t.Fatal("resident who blocked the bot is still marked reachable")
	}
	// my_chat_member "member" again: they unblocked the bot
	h.send(map[string]any{
		"update_id": nextUpdateID(),
		"my_chat_member": map[string]any{
			"chat":            map[string]any{"id": chat, "type": "private"},
			"from":            map[string]any{"id": chat, "is_bot": false, "first_name": "Lan"},
			"date":            time.Now().Unix(),
			"old_chat_member": map[string]any{"status": "kicked", "user": map[string]any{"id": 1, "is_bot": true, "first_name": "gocua"}},
			"new_chat_member": map[string]any{"status": "member", "user": map[string]any{"id": 1, "is_bot": true, "first_name": "gocua"}},
		},
	})
	if r, _ := h.main.DB.Resident(context.Background(), key(chat)); !r.Reachable {
		t.Fatal("unblocking did not mark the resident reachable")
	}
}

func TestHandoffCreatesWaitingTicket(t *testing.T) {
	h := start(t, nil)
	chat := newChatID()
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.send(buttonUpdate(nextUpdateID(), chat, "nav:human"))
	h.send(buttonUpdate(nextUpdateID(), chat, "in:t:vneid"))
	h.send(buttonUpdate(nextUpdateID(), chat, "in:skip"))
	h.send(textUpdate(nextUpdateID(), chat, "Tôi không nhận được OTP, số CCCD 001203004567"))
	h.settle()
	conv, _, err := h.main.Redis.Load(context.Background(), key(chat), "")
	if err != nil {
		t.Fatal(err)
	}
	if conv.Ticket == 0 {
		t.Fatal("no ticket on the conversation after asking for a volunteer")
	}
	tk, err := h.main.DB.Ticket(context.Background(), conv.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != store.TicketWaiting {
		t.Fatalf("ticket status %q, want waiting", tk.Status)
	}
	msgs, err := h.main.DB.TicketMessages(context.Background(), conv.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.Contains(m.Text, "001203004567") {
			t.Fatalf("transcript holds an unmasked ID number: %q", m.Text)
		}
	}
	sent := h.sentTo(chat)
	if !containsText(sent, h.main.Flows.Text("vi", "pii_warning", nil)) {
		t.Errorf("no PII warning after the resident sent an ID number: %v", texts(sent))
	}
	// /huy cancels the waiting request
	h.send(textUpdate(nextUpdateID(), chat, "/huy"))
	h.settle()
	if tk, _ := h.main.DB.Ticket(context.Background(), conv.Ticket); tk.Status != store.TicketCancelled {
		t.Fatalf("after /huy the ticket is %q, want cancelled", tk.Status)
	}
}

func TestResidentContinuesAfterRestart(t *testing.T) {
	api := telegramtest.New(t)
	h := start(t, api)
	chat := newChatID()
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	menu := h.sentTo(chat)
	h.send(buttonUpdate(nextUpdateID(), chat, firstFlowButton(t, menu[len(menu)-1])))
	h.settle()
	conv, _, _ := h.main.Redis.Load(context.Background(), key(chat), "")
	if err := h.main.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := start(t, api)
	h2.send(textUpdate(nextUpdateID(), chat, "hmm"))
	h2.settle()
	after, _, _ := h2.main.Redis.Load(context.Background(), key(chat), "")
	if conv.Flow.Flow == "" || after.Flow.Flow != conv.Flow.Flow {
		t.Fatalf("resident was in flow %q and after a restart is in %q", conv.Flow.Flow, after.Flow.Flow)
	}
}

func TestHugeAndOddUnicode(t *testing.T) {
	h := start(t, nil)
	chat := newChatID()
	for _, text := range []string{
		strings.Repeat("🙂ت\u200f", 3000),
		"\x00\x01 xin chào \ufffd",
		strings.Repeat("Bác ơi ", 100000)[:4096],
		"cài VNeID",
		"",
	} {
		h.send(textUpdate(nextUpdateID(), chat, text))
	}
	h.settle()
	for _, m := range h.sentTo(chat) {
		if m.Text == "" {
			t.Fatal("an empty message was sent")
		}
	}
	if len(h.sentTo(chat)) < 5 {
		t.Fatalf("got %d replies to 5 messages: some were met with silence", len(h.sentTo(chat)))
	}
}

// TestProductionPacingKeepsTelegramLimits runs with Telegram's real per-chat
// pace (1 message/s) against a fake API that refuses faster sending: /start
// answers with three messages, which must arrive ≥ 1 s apart and with no 429.
func TestProductionPacingKeepsTelegramLimits(t *testing.T) {
	api := telegramtest.New(t, telegramtest.WithRateLimit(1, time.Second, 30))
	h := start(t, api, withMain(func(m *Main) { m.TelegramPerChat, m.TelegramBurst = 1, 1 }))
	chats := []int64{newChatID(), newChatID(), newChatID()}
	for _, c := range chats {
		h.send(textUpdate(nextUpdateID(), c, "/start"))
	}
	h.settle()
	for _, c := range chats {
		msgs := h.sentTo(c)
		if len(msgs) != startReplies {
			t.Fatalf("chat %d got %d messages, want %d", c, len(msgs), startReplies)
		}
		for i := 1; i < len(msgs); i++ {
			if gap := msgs[i].At.Sub(msgs[i-1].At); gap < 990*time.Millisecond {
				t.Errorf("chat %d: messages %v apart; Telegram allows 1 per second", c, gap)
			}
		}
	}
	if v := api.Violations(); v != 0 {
		t.Fatalf("%d sends broke the fake API's rate limits", v)
	}
}

// TestGracefulShutdownFinishesInFlight closes Main while a webhook request is
// still being handled: the request completes with 200 and its reply is kept
// in the outbox, sent by the next run.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	api := telegramtest.New(t)
	h := start(t, api)
	chat := newChatID()
	api.FailNext("answerCallbackQuery", "", telegramtest.Slow(400*time.Millisecond))
	code := make(chan int, 1)
	go func() { code <- h.postJSON(buttonUpdate(nextUpdateID(), chat, "nav:menu")) }()
	time.Sleep(100 * time.Millisecond)
	if err := h.main.Close(); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != http.StatusOK {
		t.Fatalf("in-flight update answered %d during shutdown", c)
	}
	if len(h.sentTo(chat)) == 0 {
		h2 := start(t, api) // the next run resumes the outbox
		h2.settle()
		deadline := time.Now().Add(5 * time.Second)
		for len(h2.sentTo(chat)) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("reply of an update acknowledged during shutdown was lost")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestConsentAskedAndKept: a new resident is asked right after the
// greeting and receives nothing until they say yes; /stop says no; /start
// asks again; the answer is the newest one given.
func TestConsentAskedAndKept(t *testing.T) {
	h := start(t, nil)
	ctx := context.Background()
	chat := newChatID()
	consent := func() bot.Consent {
		t.Helper()
		r, err := h.main.DB.Resident(ctx, key(chat))
		if err != nil {
			t.Fatal(err)
		}
		return r.Consent
	}
	ask := h.main.Flows.Text("vi", "consent_ask", nil)
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	sent := h.sentTo(chat)
	if len(sent) < 3 || plain(sent[1].Text) != plain(ask) {
		t.Fatalf("the consent question is not right after the greeting: %v", texts(sent))
	}
	if c := consent(); c != bot.ConsentUnasked {
		t.Fatalf("before answering the resident has consent %q", c)
	}
	// asked once per conversation: back at the menu it is not asked again
	h.send(textUpdate(nextUpdateID(), chat, "/menu"))
	h.settle()
	if n := countText(h.sentTo(chat), ask); n != 1 {
		t.Fatalf("asked %d times", n)
	}
	h.send(buttonUpdate(nextUpdateID(), chat, flows.DataSubscribe))
	h.settle()
	if c := consent(); c != bot.ConsentYes {
		t.Fatalf("after yes the resident has consent %q", c)
	}
	if !containsText(h.sentTo(chat), h.main.Flows.Text("vi", "consent_yes", nil)) {
		t.Fatal("no confirmation of yes")
	}
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	if n := countText(h.sentTo(chat), ask); n != 1 {
		t.Fatal("a resident who said yes is asked again on /start")
	}
	h.send(textUpdate(nextUpdateID(), chat, "/stop"))
	h.settle()
	if c := consent(); c != bot.ConsentNo {
		t.Fatalf("after /stop the resident has consent %q", c)
	}
	if !containsText(h.sentTo(chat), h.main.Flows.Text("vi", "stopped", nil)) {
		t.Fatal("no confirmation of /stop")
	}
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	if n := countText(h.sentTo(chat), ask); n != 2 {
		t.Fatalf("/start after /stop did not ask again (asked %d times)", n)
	}
	if c := consent(); c != bot.ConsentNo {
		t.Fatalf("/start alone changed consent to %q", c)
	}
	// the menu's announcements entry: typed, then its unsubscribe button
	h.send(textUpdate(nextUpdateID(), chat, "nhận thông báo"))
	h.send(buttonUpdate(nextUpdateID(), chat, flows.DataSubscribe))
	h.settle()
	if c := consent(); c != bot.ConsentYes {
		t.Fatalf("the menu's subscribe button left consent %q", c)
	}
}

// A database that does not answer at start is an error naming the
// variable, and closing what was started does not crash.
func TestRunFailsCleanlyWhenTheDatabaseIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"GOCUA_HTTP_ADDR":    "127.0.0.1:0",
			"GOCUA_REDIS_URL":    storetest.RedisURL(redisDB),
			"GOCUA_DATABASE_URL": "postgres://postgres@" + addr + "/test?connect_timeout=2",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	m.RedisPrefix = testPrefix(t)
	err = m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GOCUA_DATABASE_URL") {
		t.Fatalf("Run = %v, want an error naming GOCUA_DATABASE_URL", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close after a failed Run: %v", err)
	}
}
