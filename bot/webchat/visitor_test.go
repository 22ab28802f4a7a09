package webchat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// sendAs posts one message with the given cookie value and client address.
func (e *env) sendAs(cookie, addr string, i int) int {
	e.t.Helper()
	body := fmt.Sprintf(`{"id":"msg-%08d","seq":%d,"text":"xin chào"}`, i, i+1)
	req := httptest.NewRequest(http.MethodPost, "http://bot.example/chat/api/send", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://bot.example")
	req.RemoteAddr = addr
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	e.a.ServeHTTP(rec, req)
	return rec.Code
}

func mint() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Made-up cookies are refused: unsigned ids, forged or truncated
// signatures, another visitor's signature, an unknown key. (Before the fix
// 50 posts with self-minted ids from one address were all accepted, each a
// new resident, state and history.)
func TestMintedVisitorCookiesRefused(t *testing.T) {
	e := newEnv(t)
	real := e.visit()
	id := VisitorID(real)
	_, sig, _ := strings.Cut(strings.TrimPrefix(real, id+"."), ".")
	other := VisitorID(e.visit())
	for name, cookie := range map[string]string{
		"unsigned":           mint(),
		"forged mac":         mint() + ".7.AAAAAAAAAAAAAAAAAAAAAA",
		"another visitor's":  other + ".7." + sig,
		"truncated mac":      id + ".7." + sig[:10],
		"unknown key":        id + ".99." + sig,
		"no key":             id + ".." + sig,
		"not hex":            strings.ToUpper(id) + ".7." + sig,
		"empty":              ".",
		"huge":               strings.Repeat("a", 4000),
		"odd unicode":        "ă\u202e.7.ñ",
		"extra dots":         id + ".7." + sig + ".x",
		"valid id, no mac":   id,
		"valid id, mac only": id + "." + sig,
	} {
		if code := e.sendAs(cookie, "203.0.113.9:4000", 0); code != http.StatusForbidden {
			t.Errorf("%s cookie: %d, want 403", name, code)
		}
	}
	if n := len(e.core.inbounds()); n != 0 {
		t.Fatalf("%d made-up visitors reached the core", n)
	}
	if code := e.sendAs(real, "203.0.113.9:4000", 1); code != http.StatusOK {
		t.Fatalf("the real cookie: %d", code)
	}
}

// A rotation logs nobody out: a cookie signed with the previous key still
// works and is re-issued with the new one; a legacy unsigned cookie of a
// visitor who has a history is upgraded, a made-up one is not.
func TestVisitorKeyRotationAndLegacyCookies(t *testing.T) {
	keys := &staticKeys{keys: []bot.SigningKey{{ID: 1, Secret: []byte("key-one-key-one-key-one-key-one!")}}}
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t, func(c *Config) { c.Keys, c.Now = keys, clock })
	old := e.visit()

	keys.mu.Lock()
	keys.keys = append([]bot.SigningKey{{ID: 2, Secret: []byte("key-two-key-two-key-two-key-two!")}}, keys.keys...)
	keys.mu.Unlock()
	now = now.Add(keysRefresh + time.Second)

	req := httptest.NewRequest(http.MethodGet, "http://bot.example/chat", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: old})
	rec := httptest.NewRecorder()
	e.a.ServeHTTP(rec, req)
	cs := rec.Result().Cookies()
	if len(cs) != 1 || VisitorID(cs[0].Value) != VisitorID(old) || !strings.Contains(cs[0].Value, ".2.") {
		t.Fatalf("cookie signed with the old key: re-issued %+v, want the same visitor signed with key 2", cs)
	}
	if code := e.sendAs(old, "203.0.113.9:4000", 0); code != http.StatusOK {
		t.Fatalf("old-key cookie send: %d", code)
	}

	// legacy unsigned cookies: a resident with a history keeps it
	legacy := mint()
	deliver(t, e.a, legacy, "legacy-1", "Chào bác")
	if code := e.sendAs(legacy, "203.0.113.9:4000", 1); code != http.StatusOK {
		t.Fatalf("legacy visitor with a history: %d", code)
	}
	if code := e.sendAs(mint(), "203.0.113.9:4000", 2); code != http.StatusForbidden {
		t.Fatalf("made-up legacy id: %d, want 403", code)
	}
	// a key the process does not know yet (another replica rotated): reloaded
	keys.mu.Lock()
	keys.keys = append([]bot.SigningKey{{ID: 3, Secret: []byte("key-3-key-3-key-3-key-3-key-3-!!")}}, keys.keys...)
	keys.mu.Unlock()
	now = now.Add(keysUnknownRetry + time.Second)
	id := mint()
	signed := id + ".3." + mac([]byte("key-3-key-3-key-3-key-3-key-3-!!"), id)
	if code := e.sendAs(signed, "203.0.113.9:4000", 3); code != http.StatusOK {
		t.Fatalf("cookie signed with a key another replica made: %d", code)
	}
}

// One address may create only so many visitors; others are not affected.
func TestNewVisitorsLimitedPerAddress(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NewVisitorRate, c.NewVisitorBurst = 0.001, 20 })
	page := func(addr string, header map[string]string) *http.Response {
		req := httptest.NewRequest(http.MethodGet, "http://bot.example/chat", nil)
		req.RemoteAddr = addr
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.a.ServeHTTP(rec, req)
		return rec.Result()
	}
	ok, refused := 0, 0
	for range 50 {
		resp := page("203.0.113.9:4000", nil)
		io.Copy(io.Discard, resp.Body)
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			if len(resp.Cookies()) != 0 || resp.Header.Get("Retry-After") == "" {
				t.Fatal("a refused visitor got a cookie or no Retry-After")
			}
		}
	}
	if ok != 20 || refused != 30 {
		t.Fatalf("%d visitors created, %d refused; want 20 and 30", ok, refused)
	}
	if resp := page("198.51.100.7:4000", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("another address refused: %d", resp.StatusCode)
	}
	// behind a local reverse proxy the forwarded address counts, and one
	// cannot dodge the limit by faking a hop in front of it
	for i := range 25 {
		resp := page("127.0.0.1:5000", map[string]string{"X-Forwarded-For": fmt.Sprintf("10.9.9.%d, 192.0.2.1", i)})
		if i >= 20 && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("forwarded visitor %d: %d, want 429", i, resp.StatusCode)
		}
	}
	if resp := page("127.0.0.1:5000", map[string]string{"X-Forwarded-For": "192.0.2.2"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("another forwarded address: %d", resp.StatusCode)
	}
	// IPv6 counts per /64
	for i := range 21 {
		resp := page(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1), nil)
		if i == 20 && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("21st visitor from one /64: %d", resp.StatusCode)
		}
	}
}

// All visitors of one address together are limited in what they send.
func TestSendsLimitedPerAddress(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AddrRate, c.AddrBurst = 0.001, 10 })
	var cookies []string
	for range 12 {
		cookies = append(cookies, e.visit())
	}
	codes := map[int]int{}
	for i, c := range cookies {
		codes[e.sendAs(c, "203.0.113.9:4000", i)]++
	}
	if codes[http.StatusOK] != 10 || codes[http.StatusTooManyRequests] != 2 {
		t.Fatalf("codes = %v, want 10 accepted and 2 refused", codes)
	}
}

// The event streams of all visitors together are capped.
func TestEventStreamsCappedInAll(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxStreamsTotal = 3 })
	var streams []*stream
	for range 3 {
		streams = append(streams, e.events(e.visit(), nil, ""))
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/chat/api/events", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: e.visit()})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th stream: %d, want 503 with Retry-After", resp.StatusCode)
	}
	streams[0].resp.Body.Close() // a page closes: room for another
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		code := 0
		if err == nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		cancel()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room for a stream after one closed: %d %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// panicCore panics on every message.
type panicCore struct{}

func (panicCore) Handle(context.Context, bot.Inbound) error { panic("boom") }

// A panic in the core answers 503 (the page retries) and leaves the server
// serving; it used to kill the connection.
func TestCorePanicIs503(t *testing.T) {
	e := newEnv(t)
	a, err := New(Config{Keys: testKeys}, panicCore{}, e.a.hist, e.a.log)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"id":"msg-panic-%d","seq":1,"text":"x"}`, i)
			req := httptest.NewRequest(http.MethodPost, "http://bot.example/chat/api/send", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", "http://bot.example")
			req.AddCookie(&http.Cookie{Name: CookieName, Value: e.visit()})
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("panicking core: %d, want 503", rec.Code)
			}
		})
	}
	wg.Wait()
}
