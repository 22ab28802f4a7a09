package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/telegram/floor"
)

// TestMain lets the test binary be the floor's child process too, as
// gocua-load is (measureFloor starts os.Executable() floor …).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// smokeRedisDB is the Redis DB number of the smoke test (other packages'
// tests use 11, 12, 14 and 15; the tool's default is 13).
const smokeRedisDB = 9

// TestSmoke runs the tool for about 2 s per bot at a low rate against gocua
// (built from ./cmd/gocua, on the local Redis and PostgreSQL) and the floor,
// and checks the report's numbers are sane: nearly every update answered,
// CPU time and RSS read, the table printed with the ratios.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts gocua")
	}
	redisURL := "redis://127.0.0.1:6379/" + strconv.Itoa(smokeRedisDB)
	if u := os.Getenv("GOCUA_TEST_REDIS_URL"); u != "" {
		redisURL = strings.TrimRight(u, "/") + "/" + strconv.Itoa(smokeRedisDB)
	}
	pg := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	if u := os.Getenv("GOCUA_TEST_DATABASE_URL"); u != "" {
		pg = u
	}
	o, err := parseOptions([]string{"-rate", "20", "-duration", "1500ms", "-warmup", "500ms", "-chats", "200",
		"-steps", "", "-redis", redisURL, "-postgres", pg}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	rep, err := measure(t.Context(), o, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("measure: %v\n%s", err, logs.String())
	}
	if len(rep.bots) != 2 {
		t.Fatalf("%d bots measured, want gocua and the floor", len(rep.bots))
	}
	for _, b := range rep.bots {
		s := b.At
		if s.Sent < 25 {
			t.Errorf("%s: %d updates posted in 1.5 s at 20/s", b.Name, s.Sent)
		}
		if s.Replied*100 < s.Sent*95 {
			t.Errorf("%s: %d replies to %d updates (errors %d, missing %d)", b.Name, s.Replied, s.Sent, s.Errors, s.Missing)
		}
		if s.BotCPU <= 0 || b.PeakRSS <= 0 {
			t.Errorf("%s: CPU %v, peak RSS %d: not read", b.Name, s.BotCPU, b.PeakRSS)
		}
		if !s.ServersMeasured || s.BotCPU+s.RedisCPU+s.PGCPU < s.BotCPU {
			t.Errorf("%s: Redis and PostgreSQL CPU not measured (%v, %v)", b.Name, s.RedisCPU, s.PGCPU)
		}
		if s.P50 <= 0 || s.P99 < s.P50 {
			t.Errorf("%s: p50 %v, p99 %v", b.Name, s.P50, s.P99)
		}
		if b.Calls["sendMessage"] < s.Replied {
			t.Errorf("%s: %d sendMessage calls for %d replies", b.Name, b.Calls["sendMessage"], s.Replied)
		}
	}
	var out bytes.Buffer
	rep.WriteMarkdown(&out)
	for _, want := range []string{"| | gocua | floor | gocua/floor |", "| CPU per update, bot (µs) |", "| peak RSS, VmHWM (MiB) |", "| p99 webhook→reply at 20/s (ms) |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

// newTestLoad starts a Load, and a sender of replies through its fake Bot
// API as the floor sends them.
func newTestLoad(t *testing.T, cfg LoadConfig) (*Load, *floor.Sender) {
	t.Helper()
	l, err := NewLoad(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	b, err := floor.NewSender(l.APIURL(), botToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l, b
}

// TestLoadOpenLoop: updates go out on schedule while the bot answers
// slowly (open loop), with increasing update ids, valid Telegram JSON and
// the secret header; a chat's updates are at least a second apart with one
// outstanding at a time; replies through the fake Bot API (as
// go-telegram/bot sends them) are timed per chat.
func TestLoadOpenLoop(t *testing.T) {
	l, b := newTestLoad(t, LoadConfig{Chats: 30, MaxInflight: 100})
	type update struct {
		ID      int64 `json:"update_id"`
		Message *struct {
			Chat struct{ ID int64 }
			Text string
		}
	}
	type got struct {
		u  update
		at time.Time
	}
	var mu sync.Mutex
	var updates []got
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != webhookSecret {
			t.Errorf("secret header %q", r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
		}
		var u update
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil || u.Message == nil || u.Message.Chat.ID == 0 || u.Message.Text == "" {
			t.Errorf("update %+v: %v", u, err)
			return
		}
		mu.Lock()
		updates = append(updates, got{u, time.Now()})
		mu.Unlock()
		time.Sleep(300 * time.Millisecond) // a slow bot: the load must not wait for it
		if err := b.Send(r.Context(), u.Message.Chat.ID, u.Message.Text); err != nil {
			t.Errorf("sendMessage: %v", err)
		}
	}))
	t.Cleanup(bot.Close)
	l.Target(bot.URL)
	ph := &phase{}
	l.Run(t.Context(), 40, 1500*time.Millisecond, ph)
	l.Settle(t.Context(), ph, 5*time.Second)

	// 40/s for 1.5 s is 60 arrivals; 30 chats can take 30 in the first
	// second and the next ones a second after each chat's first.
	if n := ph.sent.Load() + ph.busy.Load(); n != 60 {
		t.Errorf("%d arrivals (%d posted, %d busy), want 60 on schedule", n, ph.sent.Load(), ph.busy.Load())
	}
	if ph.sent.Load() < 30 {
		t.Errorf("only %d posted: the slow bot held the load back", ph.sent.Load())
	}
	if lat := ph.latencies(); int64(len(lat)) != ph.sent.Load() || ph.errors.Load() != 0 || ph.missing.Load() != 0 {
		t.Errorf("%d replies timed for %d updates (errors %d, missing %d)", len(lat), ph.sent.Load(), ph.errors.Load(), ph.missing.Load())
	} else if lat[0] < 300*time.Millisecond {
		t.Errorf("latency %v is shorter than the bot's 300 ms", lat[0])
	}
	mu.Lock()
	defer mu.Unlock()
	last := map[int64]time.Time{}
	var prevID int64
	for i, g := range updates {
		if c := g.u.Message.Chat.ID; !last[c].IsZero() && g.at.Sub(last[c]) < 950*time.Millisecond {
			t.Errorf("chat %d got updates %v apart", c, g.at.Sub(last[c]))
		}
		last[g.u.Message.Chat.ID] = g.at
		if i > 0 && g.u.ID <= prevID-int64(len(updates)) {
			t.Errorf("update id %d after %d", g.u.ID, prevID)
		}
		prevID = max(prevID, g.u.ID)
	}
	ids := map[int64]bool{}
	for _, g := range updates {
		if ids[g.u.ID] {
			t.Errorf("update id %d twice", g.u.ID)
		}
		ids[g.u.ID] = true
	}
}

// TestParseOptions: bad command lines get a clear error.
func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-rate", "0"}, "-rate 0: above 0"},
		{[]string{"-chats", "500", "-rate", "1000", "-steps", ""}, "-chats 500 is too few for 1000 updates a second"},
		{[]string{"-chats", "5000", "-steps", "1000,8000"}, "-chats 5000 is too few for 8000"},
		{[]string{"-bots", "gocua,echo"}, `-bots: "echo" is not gocua or floor`},
		{[]string{"-steps", "250,fast"}, `-steps: "fast" is not a rate`},
		{[]string{"-arrivals", "bursty"}, "use even or poisson"},
		{[]string{"-cpuprofile", "x.pprof", "-gocua", "/bin/gocua"}, "leave -gocua unset"},
		{[]string{"-connections", "-1"}, "-connections -1 must not be negative"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := parseOptions(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
	o, err := parseOptions([]string{"-arrivals", "poisson", "-bots", "floor", "-steps", "100, 200"}, io.Discard)
	if err != nil || !o.poisson || len(o.bots) != 1 || len(o.steps) != 2 || o.rate != 1000 || o.chats != 10000 || o.connections != 40 {
		t.Errorf("parsed %+v, %v", o, err)
	}
	var help bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, &help); err != errHelp || !strings.Contains(help.String(), "-duration") || !strings.Contains(help.String(), "open loop") {
		t.Errorf("-h: %v\n%s", err, help.String())
	}
}

// The fake Bot API reads chat_id however a client encodes it: a form
// field, a JSON string or a JSON number (a large one is not 1.2e+06).
func TestChatParam(t *testing.T) {
	for _, tc := range []struct{ ct, body string }{
		{"application/json", `{"chat_id":1000123456,"text":"chào"}`},
		{"application/json", `{"chat_id":"1000123456","text":"chào"}`},
		{"application/x-www-form-urlencoded", `chat_id=1000123456&text=ch%C3%A0o`},
	} {
		r := httptest.NewRequest(http.MethodPost, "/bot"+botToken+"/sendMessage", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ct)
		id, text, err := chatParam(r)
		if err != nil || id != 1000123456 || text != "chào" {
			t.Errorf("%s %s: %d %q %v", tc.ct, tc.body, id, text, err)
		}
	}
}

// TestLoadConnections: like Telegram with a webhook's max_connections, the
// posts share at most Connections connections however many are in flight,
// and a post waiting for one still gets its reply (its latency counts the
// wait).
func TestLoadConnections(t *testing.T) {
	const conns = 3
	l, b := newTestLoad(t, LoadConfig{Chats: 40, MaxInflight: 100, Connections: conns})
	var mu sync.Mutex
	open, most := 0, 0
	var inFlight, mostInFlight int
	bot := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		mostInFlight = max(mostInFlight, inFlight)
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		var u struct {
			Message struct {
				Chat struct{ ID int64 }
				Text string
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(50 * time.Millisecond) // slow enough that posts pile up
		if err := b.Send(r.Context(), u.Message.Chat.ID, u.Message.Text); err != nil {
			t.Errorf("sendMessage: %v", err)
		}
	}))
	bot.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			most = max(most, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	bot.Start()
	t.Cleanup(bot.Close)
	l.Target(bot.URL)
	ph := &phase{}
	l.Run(t.Context(), 200, 200*time.Millisecond, ph) // 40 posts, 200/s against 3 × 20/s
	l.Settle(t.Context(), ph, 10*time.Second)

	if lat := ph.latencies(); int64(len(lat)) != ph.sent.Load() || ph.sent.Load() != 40 || ph.errors.Load() != 0 {
		t.Fatalf("%d replies for %d posts (errors %d)", len(lat), ph.sent.Load(), ph.errors.Load())
	} else if lat[len(lat)-1] < 500*time.Millisecond {
		t.Errorf("slowest reply in %v: 40 posts over 3 connections at 50 ms each cannot all be that quick", lat[len(lat)-1])
	}
	mu.Lock()
	defer mu.Unlock()
	if most > conns || mostInFlight > conns {
		t.Errorf("the bot saw %d connections and %d posts at once, want at most %d", most, mostInFlight, conns)
	}
	if mostInFlight < conns {
		t.Errorf("at most %d posts at once: the connections were not used", mostInFlight)
	}
}
