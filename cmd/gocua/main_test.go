package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/store/storetest"
)

// End-to-end tests start the real Main against a fake Telegram Bot API, the
// real Redis (DB redisDB, flushed) and a PostgreSQL database of their own.
const redisDB = 12

var testDB struct {
	name string
	url  string
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" { // a gocua process started by a crash test
		os.Exit(runChild())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	testDB.name = storetest.DatabaseName("gocua_cmd_test")
	url, err := storetest.CreateDatabase(ctx, testDB.name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testDB.url = url
	defer storetest.DropDatabase(context.Background(), testDB.name)
	// every key this process writes starts with its own prefix (testPrefix):
	// delete those, not the whole DB, which another checkout's tests may be
	// using at the same moment
	own := "t" + strconv.Itoa(os.Getpid()) + "_"
	if err := storetest.DeletePrefix(ctx, redisDB, own); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer storetest.DeletePrefix(context.Background(), redisDB, own)
	return m.Run()
}

const (
	testSecret = "s3cret_webhook-token"
)

// chatIDs hands out chat ids unique across this package's tests, so tests
// sharing the Redis DB and database never see each other's conversations.
var chatIDs atomic.Int64

func newChatID() int64 { return 700000 + chatIDs.Add(1) }

// updateIDs hands out increasing update ids, like Telegram does.
var updateIDs atomic.Int64

func nextUpdateID() int64 { return 5000000 + updateIDs.Add(1) }

type harness struct {
	t    testing.TB
	api  *telegramtest.Server
	main *Main
	url  string
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// webhookClient posts like Telegram does: over a pool of kept-alive
// connections (Telegram uses up to max_connections = 40), not a new TCP
// connection per update as http.DefaultClient's two idle connections would.
var webhookClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

// option changes the environment or tunes Main before Run.
type option func(env map[string]string, tune *[]func(*Main))

func withEnv(k, v string) option {
	return func(env map[string]string, _ *[]func(*Main)) { env[k] = v }
}

func withMain(f func(*Main)) option {
	return func(_ map[string]string, tune *[]func(*Main)) { *tune = append(*tune, f) }
}

// start runs Main with Telegram pointed at a fake Bot API.
func start(t testing.TB, api *telegramtest.Server, opts ...option) *harness {
	t.Helper()
	if api == nil {
		api = telegramtest.New(t)
	}
	env := map[string]string{
		"GOCUA_HTTP_ADDR":               "127.0.0.1:0",
		"GOCUA_REDIS_URL":               storetest.RedisURL(redisDB),
		"GOCUA_DATABASE_URL":            testDB.url,
		"GOCUA_TELEGRAM_TOKEN":          telegramtest.Token,
		"GOCUA_TELEGRAM_WEBHOOK_SECRET": testSecret,
		"GOCUA_TELEGRAM_API_URL":        api.URL(),
		"GOCUA_TELEGRAM_RATE":           "1000",
		"GOCUA_LOG_LEVEL":               "debug",
	}
	logs := &syncBuffer{}
	var tune []func(*Main)
	for _, o := range opts {
		o(env, &tune)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	nm := NewMain(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// tests run many updates per chat quickly; Telegram's 1 msg/s per chat is covered by sender tests
	nm.TelegramPerChat, nm.TelegramBurst = 1000, 100
	nm.ZaloPerChat, nm.ZaloBurst = 1000, 100
	// each test has Redis keys of its own, so no test takes over another's
	// undelivered replies; the Mains of one test share them, like restarts
	nm.RedisPrefix = testPrefix(t)
	for _, f := range tune {
		f(nm)
	}
	if err := nm.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\nlogs:\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		if err := nm.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("gocua logs:\n%s", logs.String())
		}
	})
	return &harness{t: t, api: api, main: nm, url: "http://" + nm.Addr, logs: logs}
}

// post sends a raw webhook body with the right secret and returns the status.
func (h *harness) post(body []byte) int {
	h.t.Helper()
	return h.postWith(body, testSecret)
}

func (h *harness) postWith(body []byte, secret string) int {
	h.t.Helper()
	return postWebhook(h.t, h.url, body, secret)
}

// postWebhook posts a raw Telegram webhook body to the gocua at base, with
// secret in the header unless it is empty, and returns the status.
func postWebhook(t testing.TB, base string, body []byte, secret string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/webhook/telegram", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := webhookClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) postJSON(update map[string]any) int {
	h.t.Helper()
	b, err := json.Marshal(update)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.post(b)
}

// textUpdate builds a private-chat text message update.
func textUpdate(id, chat int64, text string) map[string]any {
	return map[string]any{
		"update_id": id,
		"message": map[string]any{
			"message_id": id,
			"date":       time.Now().Unix(),
			"chat":       map[string]any{"id": chat, "type": "private", "first_name": "Lan"},
			"from":       map[string]any{"id": chat, "is_bot": false, "first_name": "Lan", "language_code": "vi"},
			"text":       text,
		},
	}
}

// buttonUpdate builds a callback query update for a button tap.
func buttonUpdate(id, chat int64, data string) map[string]any {
	return map[string]any{
		"update_id": id,
		"callback_query": map[string]any{
			"id":            "cb" + strconv.FormatInt(id, 10),
			"from":          map[string]any{"id": chat, "is_bot": false, "first_name": "Lan", "language_code": "vi"},
			"chat_instance": "ci",
			"data":          data,
			"message": map[string]any{
				"message_id": 1,
				"date":       time.Now().Unix(),
				"chat":       map[string]any{"id": chat, "type": "private", "first_name": "Lan"},
				"text":       "…",
			},
		},
	}
}

// send posts an update and fails the test unless it was accepted.
func (h *harness) send(update map[string]any) {
	h.t.Helper()
	if code := h.postJSON(update); code != http.StatusOK {
		h.t.Fatalf("webhook answered %d, want 200", code)
	}
}

// settle waits until every committed reply has been delivered.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		idle := true
		for _, s := range h.main.Senders {
			if !s.Idle() {
				idle = false
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatal("replies not delivered within 20s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sentTo returns the messages the fake Bot API received for chat.
func (h *harness) sentTo(chat int64) []telegramtest.SentMessage {
	var out []telegramtest.SentMessage
	for _, m := range h.api.Sent() {
		if m.ChatID == strconv.FormatInt(chat, 10) {
			out = append(out, m)
		}
	}
	return out
}

// testPrefix is a Redis key prefix unique to the top-level test.
func testPrefix(t testing.TB) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	return "t" + strconv.Itoa(os.Getpid()) + "_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}

func key(chat int64) bot.ConvKey {
	return bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(chat, 10)}
}
