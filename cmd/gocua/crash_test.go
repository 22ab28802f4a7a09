package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/bot/webchat"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/store"
	"github.com/gocua/gocua/store/storetest"
)

// Crash tests run gocua in a child process (this test binary, re-executed)
// and end it with SIGKILL: nothing is flushed, no lease released, as when a
// server loses power.

// childEnv marks the re-executed test binary as a gocua child process.
const childEnv = "GOCUA_TEST_CHILD"

// runChild runs Main from the environment until the process is killed.
// Test-only knobs: GOCUA_TEST_PREFIX, GOCUA_TEST_REPLICA, GOCUA_TEST_LEASE,
// GOCUA_TEST_SWEEP, GOCUA_TEST_STALE, GOCUA_TEST_BROADCAST_POLL (durations),
// GOCUA_TEST_STALL_WEB=1
// (web chat deliveries hang, so web replies stay pending).
func runChild() int {
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	m.TelegramPerChat, m.TelegramBurst = 1000, 100
	m.RedisPrefix = os.Getenv("GOCUA_TEST_PREFIX")
	m.ReplicaID = os.Getenv("GOCUA_TEST_REPLICA")
	for name, d := range map[string]*time.Duration{
		"GOCUA_TEST_LEASE": &m.Outbox.Lease, "GOCUA_TEST_SWEEP": &m.Outbox.Sweep, "GOCUA_TEST_STALE": &m.Outbox.StaleAfter,
	} {
		if v := os.Getenv(name); v != "" {
			if *d, err = time.ParseDuration(v); err != nil {
				fmt.Fprintln(os.Stderr, name, err)
				return 2
			}
		}
	}
	if v := os.Getenv("GOCUA_TEST_BROADCAST_POLL"); v != "" {
		poll, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "GOCUA_TEST_BROADCAST_POLL", err)
			return 2
		}
		m.BroadcastTune = func(c *broadcast.Config) { c.Poll = poll }
	}
	if os.Getenv("GOCUA_TEST_STALL_WEB") == "1" {
		m.WrapDeliverer = func(ch bot.Channel, d bot.Deliverer) bot.Deliverer {
			if ch != bot.ChannelWeb {
				return d
			}
			return deliverFunc(func(ctx context.Context, _ bot.Outbound) error { <-ctx.Done(); return ctx.Err() })
		}
	}
	if err := m.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	fmt.Printf("ADDR %s\n", m.Addr)
	select {} // until killed
}

type deliverFunc func(context.Context, bot.Outbound) error

func (f deliverFunc) Deliver(ctx context.Context, o bot.Outbound) error { return f(ctx, o) }

// child is a gocua process started by a test.
type child struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{}
}

// startChild runs gocua with env (added to this process's environment) and
// waits until it listens.
func startChild(t testing.TB, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &child{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("child %d logs:\n%s", cmd.Process.Pid, c.logs.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		c.url = "http://" + a
	case <-c.done:
		t.Fatalf("child exited before listening:\n%s", c.logs.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("child did not start:\n%s", c.logs.String())
	}
	return c
}

// kill ends the child with SIGKILL and waits for it.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

func (c *child) post(update map[string]any) int {
	c.t.Helper()
	return postWebhook(c.t, c.url, mustJSON(c.t, update), testSecret)
}

// webResident is a browser talking to the web chat.
type webResident struct {
	t      *testing.T
	client *http.Client
}

func newWebResident(t *testing.T) *webResident {
	jar, _ := cookiejar.New(nil)
	return &webResident{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// open loads the chat page (which issues the visitor cookie).
func (w *webResident) open(base string) {
	w.t.Helper()
	resp, err := w.client.Get(base + "/chat")
	if err != nil {
		w.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET /chat = %d", resp.StatusCode)
	}
}

func (w *webResident) send(base, id string, seq int, text string) int {
	w.t.Helper()
	return w.post(base, fmt.Sprintf(`{"id":%q,"seq":%d,"text":%q}`, id, seq, text))
}

// tap sends a button tap.
func (w *webResident) tap(base, id string, seq int, data, label string) int {
	w.t.Helper()
	return w.post(base, fmt.Sprintf(`{"id":%q,"seq":%d,"data":%q,"label":%q}`, id, seq, data, label))
}

// post sends one message body to the web chat and returns the status.
func (w *webResident) post(base, body string) int {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/chat/api/send", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type historyMsg struct {
	ID      string         `json:"id"`
	Seq     int64          `json:"seq"`
	From    string         `json:"from"`
	Text    string         `json:"text"`
	Buttons [][]bot.Button `json:"buttons"`
	Media   *struct {
		ID string `json:"id"`
	} `json:"media"`
}

func (w *webResident) history(base string) []historyMsg {
	w.t.Helper()
	resp, err := w.client.Get(base + "/chat/api/history?since=0")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct{ Messages []historyMsg }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		w.t.Fatal(err)
	}
	return h.Messages
}

func (w *webResident) botMessages(base string) []historyMsg {
	var out []historyMsg
	for _, m := range w.history(base) {
		if m.From == "bot" {
			out = append(out, m)
		}
	}
	return out
}

// waitUntil polls cond for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// durableBackends are the two durable stores a crash test runs on, both
// with the real Redis: PostgreSQL (this package's database) and an SQLite
// file in a data directory the child processes share.
func durableBackends(t *testing.T) []struct {
	name string
	env  func(t *testing.T) map[string]string
	open func(t *testing.T, env map[string]string) Durable
} {
	return []struct {
		name string
		env  func(t *testing.T) map[string]string
		open func(t *testing.T, env map[string]string) Durable
	}{
		{"postgres", func(*testing.T) map[string]string {
			return map[string]string{"GOCUA_DATABASE_URL": testDB.url}
		}, func(t *testing.T, _ map[string]string) Durable {
			p, err := store.OpenPostgres(context.Background(), testDB.url, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"sqlite", func(t *testing.T) map[string]string {
			return map[string]string{"GOCUA_DATA_DIR": t.TempDir()}
		}, func(t *testing.T, env map[string]string) Durable {
			s, err := store.OpenSQLite(context.Background(), filepath.Join(env["GOCUA_DATA_DIR"], "gocua.db"), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
}

// TestCrashWithRepliesPendingOnBothChannels: Telegram replies waiting on a
// 429 and web chat replies waiting to be shown when gocua is killed. After a
// restart with Telegram switched off, the web replies arrive and the
// Telegram ones wait; after a restart with Telegram on (as another replica,
// so the first run's leases must lapse first), each Telegram resident gets
// each reply exactly once. Nobody is marked unreachable, and no sender
// touches the other channel's messages. (Before the fix the web sender
// refused the Telegram replies as "not a visitor id", marked those
// residents unreachable and deleted the replies.)
func TestCrashWithRepliesPendingOnBothChannels(t *testing.T) {
	for _, be := range durableBackends(t) {
		t.Run(be.name, func(t *testing.T) {
			api := telegramtest.New(t)
			env := be.env(t)
			for k, v := range map[string]string{
				"GOCUA_HTTP_ADDR":               "127.0.0.1:0",
				"GOCUA_REDIS_URL":               storetest.RedisURL(redisDB),
				"GOCUA_TELEGRAM_TOKEN":          telegramtest.Token,
				"GOCUA_TELEGRAM_WEBHOOK_SECRET": testSecret,
				"GOCUA_TELEGRAM_API_URL":        api.URL(),
				"GOCUA_TELEGRAM_RATE":           "1000",
				"GOCUA_LOG_LEVEL":               "debug",
				"GOCUA_TEST_PREFIX":             testPrefix(t) + "_" + be.name,
				"GOCUA_TEST_REPLICA":            "replica-1",
				"GOCUA_TEST_LEASE":              "2s",
				"GOCUA_TEST_SWEEP":              "100ms",
				"GOCUA_TEST_STALE":              "200ms",
			} {
				env[k] = v
			}
			with := func(extra map[string]string) map[string]string {
				e := make(map[string]string, len(env)+len(extra))
				for k, v := range env {
					e[k] = v
				}
				for k, v := range extra {
					e[k] = v
				}
				return e
			}

			// run 1: every Telegram chat's first send gets a 429 (retry in a
			// minute), every web delivery hangs; then SIGKILL
			c1 := startChild(t, with(map[string]string{"GOCUA_TEST_STALL_WEB": "1"}))
			const residents = 10
			chats := make([]int64, residents)
			for i := range chats {
				chats[i] = newChatID()
				api.FailNext("sendMessage", strconv.FormatInt(chats[i], 10), telegramtest.TooManyRequests(60))
				if code := c1.post(textUpdate(nextUpdateID(), chats[i], "/start")); code != http.StatusOK {
					t.Fatalf("webhook = %d", code)
				}
			}
			web := make([]*webResident, 5)
			for i := range web {
				web[i] = newWebResident(t)
				web[i].open(c1.url)
				if code := web[i].send(c1.url, fmt.Sprintf("msg-%08d", i), 1, "/start"); code != http.StatusOK {
					t.Fatalf("web send = %d", code)
				}
			}
			waitUntil(t, 10*time.Second, "a 429 for every Telegram chat", func() bool {
				return len(api.CallsTo("sendMessage")) >= residents
			})
			c1.kill()
			if n := len(api.Sent()); n != 0 {
				t.Fatalf("%d messages sent before the crash", n)
			}

			// run 2: Telegram off. The web replies arrive; the Telegram ones wait.
			c2 := startChild(t, with(map[string]string{"GOCUA_TELEGRAM_TOKEN": "", "GOCUA_TELEGRAM_WEBHOOK_SECRET": ""}))
			for i, w := range web {
				waitUntil(t, 10*time.Second, fmt.Sprintf("web resident %d's replies", i), func() bool {
					return len(w.botMessages(c2.url)) >= 2
				})
			}
			time.Sleep(500 * time.Millisecond) // several sweeps
			if n := len(api.Calls()); n != residents {
				t.Fatalf("with Telegram off, %d calls reached the Bot API", n-residents)
			}
			db := be.open(t, env)
			defer db.Close()
			assertReachable(t, db, chats, web, c2.url)
			c2.kill()

			// run 3: Telegram on, as another replica: run 1's leases lapse
			// (2 s), then the sweep takes the replies
			c3 := startChild(t, with(map[string]string{"GOCUA_TEST_REPLICA": "replica-2"}))
			for _, chat := range chats {
				waitUntil(t, 15*time.Second, fmt.Sprintf("chat %d's replies", chat), func() bool {
					return len(sentTo(api, chat)) >= startReplies
				})
			}
			time.Sleep(500 * time.Millisecond) // several sweeps: nothing more may come
			for _, chat := range chats {
				if got := sentTo(api, chat); len(got) != startReplies || !distinct(texts(got)) {
					t.Errorf("chat %d got %d messages, want its %d replies once each: %q", chat, len(got), startReplies, texts(got))
				}
			}
			for _, c := range api.CallsTo("sendMessage") {
				if len(c.Params["chat_id"]) == 32 {
					t.Errorf("a web chat reply went to the Bot API: chat %s", c.Params["chat_id"])
				}
			}
			for i, w := range web {
				msgs := w.botMessages(c3.url)
				seen := map[string]bool{}
				for _, m := range msgs {
					if seen[m.ID] {
						t.Errorf("web resident %d sees reply %s twice", i, m.ID)
					}
					seen[m.ID] = true
				}
				if len(msgs) != startReplies {
					t.Errorf("web resident %d has %d replies, want %d", i, len(msgs), startReplies)
				}
			}
			assertReachable(t, db, chats, web, c3.url)
		})
	}
}

func sentTo(api *telegramtest.Server, chat int64) []telegramtest.SentMessage {
	var out []telegramtest.SentMessage
	for _, m := range api.Sent() {
		if m.ChatID == strconv.FormatInt(chat, 10) {
			out = append(out, m)
		}
	}
	return out
}

// assertReachable checks that no resident of either channel was marked
// unreachable.
func assertReachable(t *testing.T, db Durable, chats []int64, web []*webResident, base string) {
	t.Helper()
	ctx := context.Background()
	for _, chat := range chats {
		r, err := db.Resident(ctx, key(chat))
		if err != nil {
			t.Fatalf("resident %d: %v", chat, err)
		}
		if !r.Reachable {
			t.Errorf("Telegram resident %d marked unreachable", chat)
		}
	}
	for i, w := range web {
		vid := visitorOf(t, w, base)
		r, err := db.Resident(ctx, bot.ConvKey{Channel: bot.ChannelWeb, ChatID: vid})
		if err != nil {
			t.Fatalf("web resident %d: %v", i, err)
		}
		if !r.Reachable {
			t.Errorf("web resident %d marked unreachable", i)
		}
	}
}

// visitorOf reads a web resident's visitor id out of their cookie.
func visitorOf(t *testing.T, w *webResident, base string) string {
	t.Helper()
	u, _ := url.Parse(base + "/chat")
	for _, c := range w.client.Jar.Cookies(u) {
		if c.Name == webchat.CookieName {
			id, _, _ := strings.Cut(c.Value, ".")
			return id
		}
	}
	t.Fatal("no visitor cookie")
	return ""
}
