package webchat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// The tests keep histories and uploads in memory (fakes.go); the store's
// own tests cover the real ones. This package imports no store.

// fakeCore records what the adapter hands the core.
type fakeCore struct {
	mu  sync.Mutex
	got []bot.Inbound
	err error
}

func (c *fakeCore) Handle(_ context.Context, in bot.Inbound) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, in)
	return c.err
}

func (c *fakeCore) inbounds() []bot.Inbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bot.Inbound(nil), c.got...)
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

type env struct {
	t       *testing.T
	a       *Adapter
	core    *fakeCore
	srv     *httptest.Server
	logs    *syncBuffer
	hist    *keyedHistory
	uploads *memUploads
	fetcher *fakeFetcher
}

const wardOrigin = "https://xa-abc.gov.vn"

func newEnv(t *testing.T, tune ...func(*Config)) *env {
	t.Helper()
	hist, uploads, fetcher := newKeyedHistory(), newMemUploads(), newFakeFetcher()
	cfg := Config{Origins: []string{wardOrigin + "/"}, Keepalive: time.Hour, Keys: testKeys, Uploads: uploads, Media: fetcher}
	for _, f := range tune {
		f(&cfg)
	}
	logs := &syncBuffer{}
	core := &fakeCore{}
	a, err := New(cfg, core, hist, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		a.Close()
		srv.Close()
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return &env{t: t, a: a, core: core, srv: srv, logs: logs, hist: hist, uploads: uploads, fetcher: fetcher}
}

// visit opens /chat and returns the visitor id from the cookie it sets.
func (e *env) visit() string {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/chat")
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c.Value
		}
	}
	e.t.Fatal("no visitor cookie set")
	return ""
}

var msgIDs atomic.Int64

func newMsgID() string { return fmt.Sprintf("msg-%012d-%d", msgIDs.Add(1), time.Now().UnixNano()) }

// post sends body to /chat/api/send as visitor (none if "") from origin.
func (e *env) post(visitor, origin string, body []byte) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/chat/api/send", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if visitor != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: visitor})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (e *env) send(visitor string, req map[string]any) int {
	e.t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.post(visitor, e.srv.URL, b).StatusCode
}

func (e *env) history(visitor string, since int64) []message {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/chat/api/history?since="+strconv.FormatInt(since, 10), nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: visitor})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("history: %d", resp.StatusCode)
	}
	var d struct{ Messages []message }
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		e.t.Fatal(err)
	}
	return d.Messages
}

// webKey is the conversation of a visitor, given its cookie or its id.
func webKey(visitor string) bot.ConvKey {
	return bot.ConvKey{Channel: bot.ChannelWeb, ChatID: VisitorID(visitor)}
}

// staticKeys is a Keys with fixed keys, newest first.
type staticKeys struct {
	mu   sync.Mutex
	keys []bot.SigningKey
}

func (s *staticKeys) SigningKeys(context.Context) ([]bot.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.SigningKey(nil), s.keys...), nil
}

var testKeys = &staticKeys{keys: []bot.SigningKey{{ID: 7, Secret: []byte("0123456789abcdef0123456789abcdef")}}}

func TestVisitorCookie(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/chat")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == CookieName {
			c = x
		}
	}
	if c == nil {
		t.Fatal("no visitor cookie")
	}
	if !validVisitor(VisitorID(c.Value)) || !strings.HasPrefix(c.Value, VisitorID(c.Value)+".7.") ||
		!c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/chat" || c.Secure {
		t.Errorf("cookie = %+v, want 32 hex chars signed with key 7, HttpOnly, SameSite=Lax, Path=/chat, not Secure over http", c)
	}
	if !bytes.Contains(page, []byte(`<html lang="vi">`)) || !bytes.Contains(page, []byte("Nhập câu hỏi")) {
		t.Errorf("page is not the Vietnamese chat page:\n%s", page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+wardOrigin) {
		t.Errorf("CSP %q does not restrict embedding to the configured origins", csp)
	}

	// a returning visitor keeps their id
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/chat?lang=en", nil)
	req.AddCookie(c)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(resp.Cookies()) != 0 {
		t.Errorf("returning visitor got a new cookie: %v", resp.Cookies())
	}
	if !bytes.Contains(page, []byte(`<html lang="en">`)) {
		t.Error("?lang=en did not give the English page")
	}

	// two visitors never share an id
	if a, b := e.visit(), e.visit(); a == b {
		t.Error("two visits got the same id")
	}

	// embedded in an allowed ward website over HTTPS: a third-party cookie
	req = httptest.NewRequest(http.MethodGet, "https://bot.example/chat?embed=1", nil)
	req.Header.Set("Referer", wardOrigin+"/lien-he")
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	e.a.ServeHTTP(rec, req)
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].SameSite != http.SameSiteNoneMode || !cs[0].Secure {
		t.Errorf("embedded cookie = %+v, want SameSite=None; Secure", cs)
	}
	// the same over HTTPS from the chat's own site stays Lax (and Secure)
	req = httptest.NewRequest(http.MethodGet, "https://bot.example/chat", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	rec = httptest.NewRecorder()
	e.a.ServeHTTP(rec, req)
	cs = rec.Result().Cookies()
	if len(cs) != 1 || cs[0].SameSite != http.SameSiteLaxMode || !cs[0].Secure {
		t.Errorf("first-party https cookie = %+v, want SameSite=Lax; Secure", cs)
	}
}

func TestSendBecomesInbound(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	ids := []string{newMsgID(), newMsgID(), newMsgID(), newMsgID()}
	for i, req := range []map[string]any{
		{"id": ids[0], "seq": 1, "text": "/start", "silent": true},
		{"id": ids[1], "seq": 2, "data": "f:install_vneid", "label": "📲 Cài ứng dụng VNeID"},
		{"id": ids[2], "seq": 3, "text": "  quên mật khẩu  "},
		{"id": ids[3], "seq": 4, "text": "/Lang@bot en"},
	} {
		if code := e.send(v, req); code != http.StatusOK {
			t.Fatalf("send %d: %d", i, code)
		}
	}
	got := e.core.inbounds()
	if len(got) != 4 {
		t.Fatalf("core got %d inbounds, want 4", len(got))
	}
	want := []bot.Inbound{
		{Kind: bot.InCommand, Command: "start", UpdateID: ids[0], Seq: 1},
		{Kind: bot.InButton, Data: "f:install_vneid", UpdateID: ids[1], Seq: 2},
		{Kind: bot.InText, Text: "quên mật khẩu", UpdateID: ids[2], Seq: 3},
		{Kind: bot.InCommand, Command: "lang@bot", Args: "en", UpdateID: ids[3], Seq: 4},
	}
	for i, w := range want {
		g := got[i]
		if g.Key != webKey(v) || g.UserID != VisitorID(v) || g.At.IsZero() {
			t.Errorf("inbound %d: key %v user %q at %v", i, g.Key, g.UserID, g.At)
		}
		if g.Kind != w.Kind || g.Command != w.Command || g.Args != w.Args || g.Data != w.Data || g.Text != w.Text ||
			g.UpdateID != w.UpdateID || g.Seq != w.Seq {
			t.Errorf("inbound %d = %+v, want %+v", i, g, w)
		}
	}
	// the resident's side is in the history: the tapped label and the typed text, not the silent /start
	h := e.history(v, 0)
	if len(h) != 3 || h[0].Text != "📲 Cài ứng dụng VNeID" || h[1].Text != "quên mật khẩu" || h[2].Text != "/Lang@bot en" {
		t.Fatalf("history = %+v", h)
	}
	for _, m := range h {
		if m.From != fromResident {
			t.Errorf("message %q from %q, want %q", m.Text, m.From, fromResident)
		}
	}
	if h[0].ID != ids[1] || h[0].Seq != 1 || h[2].Seq != 3 {
		t.Errorf("history ids/seqs = %+v", h)
	}
}

func TestRetriedSendShownOnceAndDedupedByID(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	req := map[string]any{"id": newMsgID(), "seq": 1, "text": "xin chào"}
	for range 3 {
		if code := e.send(v, req); code != http.StatusOK {
			t.Fatalf("send: %d", code)
		}
	}
	got := e.core.inbounds()
	for _, in := range got {
		if in.UpdateID != got[0].UpdateID {
			t.Fatalf("a retried POST reached the core with another update id: %q vs %q", in.UpdateID, got[0].UpdateID)
		}
	}
	if h := e.history(v, 0); len(h) != 1 {
		t.Fatalf("a retried POST shows %d times in the history", len(h))
	}
}

func TestSendRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Now = func() time.Time { return time.Unix(1_800_000_000, 0) } })
	v := e.visit()
	good := func() []byte {
		return []byte(fmt.Sprintf(`{"id":%q,"seq":1,"text":"bí mật 0912345678"}`, newMsgID()))
	}
	cases := []struct {
		name    string
		visitor string
		origin  string
		ctype   string
		body    []byte
		want    int
	}{
		{"wrong origin", v, "https://evil.example", "", good(), http.StatusForbidden},
		{"no origin", v, "-", "", good(), http.StatusForbidden},
		{"origin lookalike", v, wardOrigin + ".evil.example", "", good(), http.StatusForbidden},
		{"no cookie", "", "", "", good(), http.StatusForbidden},
		{"forged cookie", "not-a-visitor", "", "", good(), http.StatusForbidden},
		{"form post", v, "", "application/x-www-form-urlencoded", []byte("text=hi"), http.StatusUnsupportedMediaType},
		{"malformed JSON", v, "", "", []byte(`{"id":"abcdefgh1","seq":1,"text":"hi"`), http.StatusBadRequest},
		{"unknown field", v, "", "", []byte(`{"id":"abcdefgh2","seq":1,"text":"hi","html":"<b>"}`), http.StatusBadRequest},
		{"two objects", v, "", "", []byte(`{"id":"abcdefgh3","seq":1,"text":"hi"}{}`), http.StatusBadRequest},
		{"bad id", v, "", "", []byte(`{"id":"x y","seq":1,"text":"hi"}`), http.StatusBadRequest},
		{"no seq", v, "", "", []byte(`{"id":"abcdefgh4","text":"hi"}`), http.StatusBadRequest},
		{"text and data", v, "", "", []byte(`{"id":"abcdefgh5","seq":1,"text":"hi","data":"nav:menu"}`), http.StatusBadRequest},
		{"nothing", v, "", "", []byte(`{"id":"abcdefgh6","seq":1,"text":"   "}`), http.StatusBadRequest},
		{"long data", v, "", "", []byte(`{"id":"abcdefgh7","seq":1,"data":"` + strings.Repeat("d", 65) + `"}`), http.StatusBadRequest},
		{"long text", v, "", "", []byte(`{"id":"abcdefgh8","seq":1,"text":"` + strings.Repeat("ạ", MaxText+1) + `"}`), http.StatusRequestEntityTooLarge},
		{"big body", v, "", "", []byte(`{"id":"abcdefgh9","seq":1,"text":"` + strings.Repeat("a", 9<<10) + `"}`), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/chat/api/send", bytes.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		switch c.origin {
		case "":
			req.Header.Set("Origin", e.srv.URL)
		case "-":
		default:
			req.Header.Set("Origin", c.origin)
		}
		if c.visitor != "" {
			req.AddCookie(&http.Cookie{Name: CookieName, Value: c.visitor})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	if n := len(e.core.inbounds()); n != 0 {
		t.Errorf("refused requests reached the core %d times", n)
	}
	// exactly at the limit is fine, from the chat's own origin and from a configured ward website
	exact := []byte(fmt.Sprintf(`{"id":%q,"seq":1,"text":%q}`, newMsgID(), strings.Repeat("ạ", MaxText)))
	if code := e.post(v, wardOrigin, exact).StatusCode; code != http.StatusOK {
		t.Errorf("%d characters from %s: %d, want 200", MaxText, wardOrigin, code)
	}
	if strings.Contains(e.logs.String(), "bí mật") || strings.Contains(e.logs.String(), "0912345678") {
		t.Error("a message body reached the logs")
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	v, other := e.visit(), e.visit()
	for i := 1; i <= 5; i++ {
		if code := e.send(v, map[string]any{"id": newMsgID(), "seq": i, "text": "hi"}); code != http.StatusOK {
			t.Fatalf("message %d of the burst: %d", i, code)
		}
	}
	b, _ := json.Marshal(map[string]any{"id": newMsgID(), "seq": 6, "text": "hi"})
	resp := e.post(v, e.srv.URL, b)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("6th message: %d, want 429", resp.StatusCode)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want whole seconds ≥ 1", resp.Header.Get("Retry-After"))
	}
	if code := e.send(other, map[string]any{"id": newMsgID(), "seq": 1, "text": "hi"}); code != http.StatusOK {
		t.Errorf("another visitor was limited too: %d", code)
	}
	mu.Lock()
	now = now.Add(1100 * time.Millisecond)
	mu.Unlock()
	if code := e.post(v, e.srv.URL, b).StatusCode; code != http.StatusOK {
		t.Errorf("after a second: %d, want 200", code)
	}
}

func TestHandleErrorIs503(t *testing.T) {
	e := newEnv(t)
	e.core.err = errors.New("redis down")
	v := e.visit()
	b, _ := json.Marshal(map[string]any{"id": newMsgID(), "seq": 1, "text": "hi"})
	resp := e.post(v, e.srv.URL, b)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("Handle error: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// stream is an open event stream.
type stream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
}

type sseEvent struct {
	id, event, data string
	comment         bool
}

func (e *env) events(visitor string, header map[string]string, query string) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/chat/api/events"+query, nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: visitor})
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		e.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{t: e.t, resp: resp, events: make(chan sseEvent, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				s.events <- sseEvent{comment: true, data: line}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	e.t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

// next returns the next message event (skipping comments).
func (s *stream) next() (sseEvent, message) {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if ev.comment || ev.event != "message" {
				continue
			}
			var m message
			if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
				s.t.Fatalf("event data %q: %v", ev.data, err)
			}
			if ev.id != strconv.FormatInt(m.Seq, 10) {
				s.t.Errorf("event id %q, seq %d", ev.id, m.Seq)
			}
			return ev, m
		case <-timeout:
			s.t.Fatal("no event within 5s")
		}
	}
}

// quiet checks that no message event arrives for a while.
func (s *stream) quiet(d time.Duration) {
	s.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-s.events:
			if ok && !ev.comment && ev.event == "message" {
				s.t.Fatalf("unexpected event %+v", ev)
			}
		case <-timeout:
			return
		}
	}
}

func deliver(t *testing.T, a *Adapter, visitor, id, text string, buttons ...[]bot.Button) {
	t.Helper()
	if err := a.Deliver(context.Background(), bot.Outbound{ID: id, Key: webKey(visitor), Text: text, Buttons: buttons}); err != nil {
		t.Fatal(err)
	}
}

func TestEventsLiveAndReconnect(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	s := e.events(v, nil, "")
	deliver(t, e.a, v, "u1/0", "🙋 Mình đã đưa yêu cầu của Bác vào **danh sách chờ**.",
		[]bot.Button{{Text: "🏠 Menu chính", Data: "nav:menu"}, {Text: "dichvucong.gov.vn", URL: "https://dichvucong.gov.vn"}})
	_, m := s.next()
	if m.Seq != 1 || m.From != fromBot || m.ID != "u1/0" || !strings.Contains(m.Text, "**danh sách chờ**") ||
		len(m.Buttons) != 1 || m.Buttons[0][0].Data != "nav:menu" || m.Buttons[0][1].URL != "https://dichvucong.gov.vn" {
		t.Fatalf("live event = %+v", m)
	}
	// the same delivery again (a sender retry after a crash) is not shown twice
	deliver(t, e.a, v, "u1/0", "🙋 Mình đã đưa yêu cầu của Bác vào **danh sách chờ**.")
	deliver(t, e.a, v, "u1/1", "hai")
	if _, m := s.next(); m.ID != "u1/1" || m.Seq != 2 {
		t.Fatalf("after a re-delivery got %+v, want u1/1 seq 2", m)
	}

	// the page loses its connection; two messages arrive meanwhile
	deliver(t, e.a, v, "u2/0", "ba")
	deliver(t, e.a, v, "relay-7", "bốn")
	r := e.events(v, map[string]string{"Last-Event-ID": "2"}, "?since=0")
	for _, want := range []string{"ba", "bốn"} {
		if _, m := r.next(); m.Text != want {
			t.Fatalf("after reconnect got %q, want %q", m.Text, want)
		}
	}
	r.quiet(100 * time.Millisecond)
	// ?since= works the same for a fresh EventSource
	q := e.events(v, nil, "?since=3")
	if _, m := q.next(); m.Text != "bốn" {
		t.Fatalf("?since=3 got %q", m.Text)
	}

	// another visitor sees nothing of it
	o := e.events(e.visit(), nil, "")
	o.quiet(100 * time.Millisecond)

	// history after a reload
	h := e.history(v, 0)
	if len(h) != 4 || h[3].Text != "bốn" || h[3].Seq != 4 {
		t.Fatalf("history = %+v", h)
	}
	if h := e.history(v, 3); len(h) != 1 || h[0].ID != "relay-7" {
		t.Fatalf("history since 3 = %+v", h)
	}
}

func TestResidentMessageReachesOtherTabs(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	s := e.events(v, nil, "")
	id := newMsgID()
	if code := e.send(v, map[string]any{"id": id, "seq": 1, "text": "cài vneid"}); code != http.StatusOK {
		t.Fatal(code)
	}
	if _, m := s.next(); m.ID != id || m.From != fromResident || m.Text != "cài vneid" {
		t.Fatalf("event = %+v", m)
	}
}

func TestKeepaliveAndClose(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Keepalive = 30 * time.Millisecond })
	v := e.visit()
	s := e.events(v, nil, "")
	timeout := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-s.events:
			got = ev.comment && strings.Contains(ev.data, "keepalive")
		case <-timeout:
			t.Fatal("no keepalive comment")
		}
	}
	e.a.Close()
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not end the stream")
		}
	}
}

func TestTooManyStreams(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxStreams = 2 })
	v := e.visit()
	e.events(v, nil, "")
	e.events(v, nil, "")
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/chat/api/events", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: v})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third stream: %d, want 429", resp.StatusCode)
	}
}

func TestUnicodeRoundTrip(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Burst = 100 })
	v := e.visit()
	s := e.events(v, nil, "")
	odd := []string{
		"Tiếng Việt có dấu: Nguyễn Thị Hương ở Đắk Lắk",
		"Ti\u00ea\u0301ng Vi\u00ea\u0323t (tổ hợp)",
		"👨‍👩‍👧‍👦 🇻🇳 🙏🏽",
		"مرحبا بالعالم \u200fRTL\u200f שלום",
		"zero\u200bwidth\u200d and \u2028 line separator",
		"quotes \" ' ` \\ and </script><!--",
	}
	for i, text := range odd {
		id := newMsgID()
		if code := e.send(v, map[string]any{"id": id, "seq": i + 1, "text": text}); code != http.StatusOK {
			t.Fatalf("send %q: %d", text, code)
		}
		// what a resident sends is cleaned (bot.CleanText); what the bot sends is not touched
		if got, want := e.core.inbounds()[i].Text, bot.CleanText(text); got != want {
			t.Errorf("core got %q, want %q", got, want)
		}
		if _, m := s.next(); m.Text != bot.CleanText(text) {
			t.Errorf("echo %q, want %q", m.Text, bot.CleanText(text))
		}
		deliver(t, e.a, v, "bot/"+strconv.Itoa(i), text)
		if _, m := s.next(); m.Text != text {
			t.Errorf("delivered %q, want %q", m.Text, text)
		}
	}
	h := e.history(v, 0)
	if len(h) != 2*len(odd) {
		t.Fatalf("history has %d messages, want %d", len(h), 2*len(odd))
	}
	for i, text := range odd {
		if h[2*i].Text != bot.CleanText(text) || h[2*i+1].Text != text {
			t.Errorf("history %d: %q / %q, want %q", i, h[2*i].Text, h[2*i+1].Text, text)
		}
	}
	if got := bot.CleanText(odd[4]); got != "zerowidth and \n line separator" {
		t.Errorf("cleaned %q", got)
	}
}

// Control characters never reach the core or the history; a message with
// nothing left is answered like one without text, not refused or dropped.
func TestSendCleansControlCharacters(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Burst = 100 })
	v := e.visit()
	ids := []string{newMsgID(), newMsgID(), newMsgID(), newMsgID(), newMsgID()}
	for i, body := range []string{
		`{"id":"` + ids[0] + `","seq":1,"text":"\u0000x"}`,
		`{"id":"` + ids[1] + `","seq":2,"text":"\u0000/Start\u0007 a\u202eb"}`,
		`{"id":"` + ids[2] + `","seq":3,"data":"nav:\u0000menu","label":"Về\u0000 menu\u001b"}`,
		`{"id":"` + ids[3] + `","seq":4,"text":" \u0000\u0001\u200b\r\n "}`,
		`{"id":"` + ids[4] + `","seq":5,"data":"\u0000","label":"\u0000"}`,
	} {
		if code := e.post(v, e.srv.URL, []byte(body)).StatusCode; code != http.StatusOK {
			t.Fatalf("send %d: %d", i, code)
		}
	}
	got := e.core.inbounds()
	want := []bot.Inbound{
		{Kind: bot.InText, Text: "x"},
		{Kind: bot.InCommand, Command: "start", Args: "ab"},
		{Kind: bot.InButton, Data: "nav:menu"},
		{Kind: bot.InMedia},
		{Kind: bot.InMedia},
	}
	if len(got) != len(want) {
		t.Fatalf("core got %d inbounds, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || g.Text != w.Text || g.Command != w.Command || g.Args != w.Args || g.Data != w.Data || g.UpdateID != ids[i] {
			t.Errorf("inbound %d = %#v, want %#v", i, g, w)
		}
	}
	h := e.history(v, 0)
	var shown []string
	for _, m := range h {
		shown = append(shown, m.Text)
	}
	if !slices.Equal(shown, []string{"x", "/Start ab", "Về menu"}) {
		t.Fatalf("history = %q", shown)
	}
}

func TestMarkupIsInert(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	s := e.events(v, nil, "")
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)> **đậm**`
	deliver(t, e.a, v, "x/0", evil)
	ev, m := s.next()
	if m.Text != evil {
		t.Fatalf("text changed in transit: %q", m.Text)
	}
	if strings.ContainsAny(ev.data, "<>") {
		t.Errorf("event data carries raw markup: %s", ev.data)
	}
	// the page builds messages from text nodes only
	js := string(e.a.assets["chat.js"].body)
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, sink) {
			t.Errorf("chat.js uses %s", sink)
		}
	}
	// a button link that is not http(s) is refused, not rendered
	err := e.a.Deliver(context.Background(), bot.Outbound{ID: "x/1", Key: webKey(v), Text: "x",
		Buttons: [][]bot.Button{{{Text: "x", URL: "javascript:alert(1)"}}}})
	if err == nil {
		t.Error("a javascript: button URL was delivered")
	}
}

func TestDeliverRefusals(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	// never ErrUnreachable: that would mark a resident of another channel
	// unreachable (a restart used to hand Telegram replies to this sender)
	for _, key := range []bot.ConvKey{webKey("../etc"), {Channel: bot.ChannelTelegram, ChatID: "123456"}, {Channel: bot.ChannelTelegram, ChatID: v}} {
		err := e.a.Deliver(context.Background(), bot.Outbound{ID: "a", Key: key, Text: "x"})
		if !errors.Is(err, bot.ErrRejected) || errors.Is(err, bot.ErrUnreachable) {
			t.Errorf("%s: %v, want ErrRejected", key, err)
		}
	}
	if err := e.a.Deliver(context.Background(), bot.Outbound{ID: "b", Key: webKey(v), Text: strings.Repeat("x", MaxText+1)}); !errors.Is(err, bot.ErrRejected) {
		t.Errorf("an over-long message: %v, want ErrRejected", err)
	}
	if err := e.a.Deliver(context.Background(), bot.Outbound{ID: "c", Key: webKey(v), Text: "x",
		Buttons: [][]bot.Button{{{Text: "x", Data: strings.Repeat("d", MaxCallbackData+1)}}}}); err == nil {
		t.Error("over-long button data was delivered")
	}
	if l := e.a.Limits(); l.MaxText != 2000 || l.MaxCallbackData != 64 {
		t.Errorf("Limits = %+v", l)
	}
}

func TestAssets(t *testing.T) {
	e := newEnv(t)
	for path, want := range map[string]string{
		"/chat/widget.js":       "Hỏi trợ lý",
		"/chat/static/chat.js":  "Mất kết nối",
		"/chat/static/chat.css": "min-height: 52px",
	} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) || strings.Contains(string(body), "/*LOCALE*/") {
			t.Errorf("%s: %d, contains %q: %v", path, resp.StatusCode, want, strings.Contains(string(body), want))
		}
		etag := resp.Header.Get("ETag")
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation with ETag %q: %d, want 304", path, etag, resp.StatusCode)
		}
	}
	resp, err := http.Post(e.srv.URL+"/chat/widget.js", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST widget.js: %d, want 405", resp.StatusCode)
	}
}

func TestNewRejectsBadOrigin(t *testing.T) {
	if _, err := New(Config{Origins: []string{"xa-abc.gov.vn/path"}}, &fakeCore{}, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("an origin with a path was accepted")
	}
}

func TestStreamOutlivesServerTimeouts(t *testing.T) {
	e := newEnv(t)
	// a server like gocua's, with short read and write timeouts
	srv := httptest.NewUnstartedServer(e.a)
	srv.Config.ReadTimeout = 150 * time.Millisecond
	srv.Config.WriteTimeout = 150 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv
	v := e.visit()
	s := e.events(v, nil, "")
	time.Sleep(500 * time.Millisecond)
	deliver(t, e.a, v, "late/0", "vẫn còn kết nối")
	if _, m := s.next(); m.Text != "vẫn còn kết nối" {
		t.Fatalf("got %q", m.Text)
	}
}
