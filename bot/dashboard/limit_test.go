package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// bucketLimiter is a Limiter with buckets that never refill: burst tries per
// name, then a refusal with the interval of one try as the wait.
type bucketLimiter struct {
	mu    sync.Mutex
	used  map[string]int
	calls []string
	err   error
}

func (l *bucketLimiter) Allow(_ context.Context, name string, n int, per time.Duration, burst int) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, name)
	if l.err != nil {
		return false, 0, l.err
	}
	if l.used[name] >= burst {
		return false, per / time.Duration(n), nil
	}
	l.used[name]++
	return true, 0, nil
}

func (l *bucketLimiter) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c == name {
			n++
		}
	}
	return n
}

// The sign-in routes count tries per address (through a proxy: the nearest
// public address; IPv6 per /64): past the burst both the page and the POST
// answer 429 with Retry-After and the dashboard's text, and a refused POST
// spends no link. Other addresses and signed-in pages are not affected.
func TestLoginTriesLimitedPerAddress(t *testing.T) {
	e := newTestEnv(t, Config{LoginTries: 20, LoginBurst: 5})
	lim := &bucketLimiter{used: map[string]int{}}
	e.srv.deps.Limiter = lim
	signedIn := e.login(orgID) // one try of 127.0.0.1
	c := e.anon()
	from := func(method, addr string, form url.Values) response {
		var req *http.Request
		if method == http.MethodPost {
			req, _ = http.NewRequest(method, e.ts.URL+Prefix+"login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, e.ts.URL+Prefix+"login?t="+form.Get("t"), nil)
		}
		if addr != "" {
			req.Header.Set("X-Forwarded-For", addr)
		}
		return c.do(req)
	}
	link, _, err := e.srv.MintLink(t.Context(), orgID, e.now)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	tok := url.Values{"t": {u.Query().Get("t")}}

	for i := range 4 {
		if res := from(http.MethodGet, "", tok); res.StatusCode != http.StatusOK {
			t.Fatalf("try %d: %d", i+2, res.StatusCode)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res := from(method, "", tok)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "3" {
			t.Fatalf("%s over the limit: %d, Retry-After %q", method, res.StatusCode, res.Header.Get("Retry-After"))
		}
		if want := e.srv.text.get("vi", "err_too_many_tries"); !strings.Contains(res.Body, want) || want == "err_too_many_tries" {
			t.Fatalf("%s over the limit: the page lacks %q:\n%s", method, want, res.Body)
		}
		if res.Header.Get("Set-Cookie") != "" {
			t.Fatalf("%s over the limit set a cookie", method)
		}
	}
	if got := lim.count("dashboard-login:127.0.0.1"); got != 7 {
		t.Fatalf("127.0.0.1 counted %d tries, want 7", got)
	}
	// the refused POST spent nothing: the link works from another address
	if res := from(http.MethodPost, "198.51.100.7", tok); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("another address: %d %s", res.StatusCode, res.Body)
	}
	if lim.count("dashboard-login:198.51.100.7") != 1 {
		t.Fatalf("the proxied address was not counted: %v", lim.calls)
	}
	// IPv6 counts per /64
	for range 5 {
		from(http.MethodGet, "2001:db8:1:2::5", nil)
	}
	if res := from(http.MethodGet, "2001:db8:1:2:ffff::9", nil); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("6th try from one /64: %d", res.StatusCode)
	}
	if res := from(http.MethodGet, "2001:db8:1:3::5", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("another /64: %d", res.StatusCode)
	}
	// signed-in pages count nothing, whatever the address's sign-ins did
	before := len(lim.calls)
	if res := signedIn.get(Prefix + "sessions"); res.StatusCode != http.StatusOK || len(lim.calls) != before {
		t.Fatalf("a signed-in page: %d, %d tries counted", res.StatusCode, len(lim.calls)-before)
	}

	// a failing limiter lets tries through: a link still has to be right
	lim.mu.Lock()
	lim.err = errors.New("redis down")
	lim.mu.Unlock()
	if res := from(http.MethodGet, "", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("limiter failing: %d", res.StatusCode)
	}
}

// The limits default to 20 tries a minute in bursts of 40.
func TestLoginLimitDefaults(t *testing.T) {
	e := newTestEnv(t, Config{})
	if e.srv.cfg.LoginTries != 20 || e.srv.cfg.LoginBurst != 40 {
		t.Fatalf("defaults %d/%d", e.srv.cfg.LoginTries, e.srv.cfg.LoginBurst)
	}
}
