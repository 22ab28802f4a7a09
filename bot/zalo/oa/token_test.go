package oa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

const tokenName = "zalo-oa:" + oatest.AppID

// Two replicas sharing the token store both find the access token dead at
// once: Zalo is asked for exactly one new pair (a second refresh with the
// same refresh token would be refused, and the pair lost), and every
// message goes out.
func TestTwoReplicasRefreshOnce(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	a1, a2 := f.a, f.adapter(t, func(c *Config) {})
	if err := a1.Deliver(ctx, outbound("p1", oatest.UserID(1), "x")); err != nil {
		t.Fatal(err)
	}
	if err := a2.Deliver(ctx, outbound("p2", oatest.UserID(2), "x")); err != nil {
		t.Fatal(err)
	}
	if n := f.api.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes before the race, want 1 (the second replica uses the stored pair)", n)
	}
	locks := f.tokens.lockCalls()
	f.api.ExpireAccess()
	f.api.SetRefreshDelay(100 * time.Millisecond)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		a := a1
		if i%2 == 1 {
			a = a2
		}
		wg.Go(func() {
			<-start
			errs <- a.Deliver(ctx, outbound(fmt.Sprintf("race/%d", i), oatest.UserID(10+i), "cùng lúc"))
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.api.Refreshes(); n != 2 {
		t.Fatalf("%d refreshes, want exactly one more", n)
	}
	if n := f.tokens.lockCalls() - locks; n < 1 || n > 2 {
		t.Fatalf("%d LockToken calls, want one per replica at most", n)
	}
	for i := range 10 {
		if s := f.api.Sent(oatest.UserID(10 + i)); len(s) != 1 {
			t.Fatalf("message %d: sent %d times", i, len(s))
		}
	}
	if tok := f.tokens.get(tokenName); tok.Access != f.api.AccessToken() || tok.Refresh != f.api.CurrentRefreshToken() {
		t.Fatal("the stored pair is not the one Zalo issued last")
	}
}

// A refresh token Zalo refuses stops sending on Zalo OA until the operator
// acts: Deliver says what to do, Health reports it, nothing more is asked
// of Zalo, and it is logged once.
func TestRefreshTokenRefused(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	f.api.Revoke()
	err := f.a.Deliver(ctx, outbound("1", oatest.UserID(1), "x"))
	var re *ReauthorizeError
	if !errors.As(err, &re) {
		t.Fatalf("err %v, want a ReauthorizeError", err)
	}
	if errors.Is(err, bot.ErrRejected) || errors.Is(err, bot.ErrUnreachable) {
		t.Fatal("a ReauthorizeError must leave messages in the outbox")
	}
	// it waits like a rate limit: the sender keeps the message without
	// spending its tries, so it is not given up after a few minutes
	if ra := (*bot.RetryAfterError)(nil); !errors.As(err, &ra) || ra.After != reauthorizeWait {
		t.Fatalf("err %v, want a RetryAfterError of %s", err, reauthorizeWait)
	}
	msg := re.Error()
	for _, want := range []string{
		"Zalo refused the refresh token", "error -14014", "Invalid refresh_token",
		f.api.URL() + "/v4/oa/permission?app_id=" + oatest.AppID, "grant_type=authorization_code", "code_verifier",
		"GOCUA_ZALO_OA_REFRESH_TOKEN", "restart gocua", "the other channels keep working",
	} {
		if !strings.Contains(msg, want) {
			t.Fatalf("message lacks %q:\n%s", want, msg)
		}
	}
	ok, detail := f.a.Health()
	if ok || detail != msg {
		t.Fatalf("Health = %v, %q", ok, detail)
	}
	calls := len(f.api.Calls())
	for i := range 3 {
		if err := f.a.Deliver(ctx, outbound(fmt.Sprint(i), oatest.UserID(1), "x")); !errors.As(err, &re) {
			t.Fatalf("err %v", err)
		}
	}
	// another replica reads the refusal from the store
	a2 := f.adapter(t, nil)
	if err := a2.Deliver(ctx, outbound("r2", oatest.UserID(1), "x")); !errors.As(err, &re) {
		t.Fatalf("second replica: err %v", err)
	}
	if ok, _ := a2.Health(); ok {
		t.Fatal("second replica healthy")
	}
	if n := len(f.api.Calls()) - calls; n != 0 {
		t.Fatalf("%d more calls to Zalo after the refusal", n)
	}
	if n := strings.Count(f.logs.String(), "zalo oa cannot send: the app must be authorized again"); n != 2 {
		t.Fatalf("refusal logged %d times, want once per replica:\n%s", n, f.logs.String())
	}
	if tok := f.tokens.get(tokenName); tok.Broken == "" {
		t.Fatalf("refusal not stored: %+v", tok)
	}

	// the operator authorizes again, configures the new refresh token and
	// restarts: the new seed replaces the broken pair
	fresh := f.api.Authorize()
	a3 := f.adapter(t, func(c *Config) { c.RefreshToken = fresh })
	if err := a3.Deliver(ctx, outbound("r3", oatest.UserID(1), "x")); err != nil {
		t.Fatal(err)
	}
	if ok, detail := a3.Health(); !ok || detail != "" {
		t.Fatalf("Health after re-authorizing = %v, %q", ok, detail)
	}
}

// A refresh that fails for a while (-32, 5xx) stores nothing: the next
// send refreshes with the same refresh token.
func TestRefreshTransientFailure(t *testing.T) {
	for _, fail := range []oatest.RefreshFailure{oatest.RefreshServerError, oatest.RefreshRateLimited} {
		t.Run(fmt.Sprint(fail), func(t *testing.T) {
			f := newFixture(t, nil, nil)
			ctx := context.Background()
			f.api.FailRefreshNext(fail)
			err := f.a.Deliver(ctx, outbound("1", oatest.UserID(1), "x"))
			var re *ReauthorizeError
			if err == nil || errors.As(err, &re) || !plainError(err) {
				t.Fatalf("err %v, want a plain error", err)
			}
			if ok, _ := f.a.Health(); !ok {
				t.Fatal("unhealthy after a transient failure")
			}
			if tok := f.tokens.get(tokenName); tok.Refresh != oatest.RefreshToken || tok.Broken != "" {
				t.Fatalf("stored %+v", tok)
			}
			if err := f.a.Deliver(ctx, outbound("1", oatest.UserID(1), "x")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// expires_in comes as a string or a number; without it, 25 hours.
func TestRefreshExpiresIn(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want time.Duration
	}{
		{"90000", 90000 * time.Second},
		{90000, 90000 * time.Second},
		{"3600", time.Hour},
		{7200.0, 2 * time.Hour},
		{nil, 90000 * time.Second},
		{"soon", 90000 * time.Second},
		{-5, 90000 * time.Second},
	} {
		t.Run(fmt.Sprint(tt.v), func(t *testing.T) {
			f := newFixture(t, nil, nil)
			f.api.SetExpiresIn(tt.v)
			if err := f.a.Deliver(context.Background(), outbound("1", oatest.UserID(1), "x")); err != nil {
				t.Fatal(err)
			}
			if got := f.tokens.get(tokenName).Expires.Sub(f.clock.Now()); got != tt.want {
				t.Fatalf("expires in %s, want %s", got, tt.want)
			}
		})
	}
}

// An access token about to expire is refreshed before it is used.
func TestRefreshBeforeExpiry(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	if err := f.a.Deliver(ctx, outbound("1", oatest.UserID(1), "x")); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(25*time.Hour - 10*time.Minute)
	if err := f.a.Deliver(ctx, outbound("2", oatest.UserID(1), "x")); err != nil {
		t.Fatal(err)
	}
	if n := f.api.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes with 10 minutes left, want 1", n)
	}
	f.clock.Add(6 * time.Minute)
	if err := f.a.Deliver(ctx, outbound("3", oatest.UserID(1), "x")); err != nil {
		t.Fatal(err)
	}
	if n := f.api.Refreshes(); n != 2 {
		t.Fatalf("%d refreshes with 4 minutes left, want 2", n)
	}
	for _, c := range f.api.CallsTo(oatest.PathCS) {
		if c.Code != 0 {
			t.Fatalf("a call was refused (%d): the token was not refreshed ahead", c.Code)
		}
	}
}

// The OAuth call carries the app secret in its header and a form body.
func TestRefreshRequest(t *testing.T) {
	f := newFixture(t, nil, nil)
	if err := f.a.Deliver(context.Background(), outbound("1", oatest.UserID(1), "x")); err != nil {
		t.Fatal(err)
	}
	calls := f.api.CallsTo(oatest.PathToken)
	if len(calls) != 1 || calls[0].Code != 0 {
		t.Fatalf("token calls %+v", calls)
	}
	h := calls[0].Header
	if h.Get("secret_key") != oatest.AppSecret || !strings.HasPrefix(h.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Fatalf("headers %v", h)
	}
	// the wrong secret is a refusal like any other
	g := newFixture(t, func(c *Config) { c.AppSecret = "wrong" }, []string{"wrong"})
	var re *ReauthorizeError
	if err := g.a.Deliver(context.Background(), outbound("1", oatest.UserID(1), "x")); !errors.As(err, &re) {
		t.Fatalf("err %v", err)
	}
}

// Health is true before the first send: New makes no call.
func TestNewMakesNoCall(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.APIURL, c.OAuthURL = "http://127.0.0.1:1", "http://127.0.0.1:1" }, nil)
	if ok, detail := f.a.Health(); !ok || detail != "" {
		t.Fatalf("Health = %v, %q", ok, detail)
	}
	if len(f.api.Calls()) != 0 || f.tokens.lockCalls() != 0 {
		t.Fatal("New called out")
	}
	if _, err := New(Config{AppID: "1"}, nil, nil, nil, nil, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "app secret, OA secret key, refresh token, handler, inbox, tokens") {
		t.Fatalf("err %v", err)
	}
}

// A pair deleted from the store between the seed and the refresh starts
// again from the configured seed instead of being taken for broken.
func TestRefreshAfterPairDeleted(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	if _, err := f.a.storedToken(ctx); err != nil {
		t.Fatal(err)
	}
	f.tokens.mu.Lock()
	delete(f.tokens.m, tokenName)
	f.tokens.mu.Unlock()
	if err := f.a.Deliver(ctx, outbound("1", oatest.UserID(1), "x")); err != nil {
		t.Fatal(err)
	}
	if tok := f.tokens.get(tokenName); tok.Access != f.api.AccessToken() || tok.Seed != seedHash(oatest.RefreshToken) {
		t.Fatalf("stored %+v", tok)
	}
}
