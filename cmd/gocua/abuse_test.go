package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot/dashboard"
)

// The dashboard's sign-in routes count tries per address in Redis, shared
// by every replica: with a burst of 3, two tries on one replica and one on
// another use it up, and the next, on either, is 429 with Retry-After and
// the dashboard's own page.
func TestDashboardSignInLimitedAcrossReplicas(t *testing.T) {
	opts := []option{withMain(func(m *Main) {
		m.DashboardTune = func(c *dashboard.Config) { c.LoginTries, c.LoginBurst = 20, 3 }
	})}
	a := start(t, nil, opts...)
	b := start(t, a.api, opts...)
	try := func(h *harness) (int, string, string) {
		t.Helper()
		resp, err := http.Get(h.url + "/dashboard/login?t=" + strings.Repeat("A", 42) + "Q")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
	}
	for i, h := range []*harness{a, a, b} {
		if code, _, _ := try(h); code != http.StatusOK {
			t.Fatalf("try %d: %d", i+1, code)
		}
	}
	for name, h := range map[string]*harness{"a": a, "b": b} {
		code, retry, body := try(h)
		if code != http.StatusTooManyRequests || retry != "3" || !strings.Contains(body, "đã thử đăng nhập quá nhiều lần") {
			t.Fatalf("replica %s over the limit: %d, Retry-After %q:\n%s", name, code, retry, body)
		}
	}
}
