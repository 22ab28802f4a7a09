package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/zalo"
	"github.com/gocua/gocua/bot/zalo/oa"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

// secretsOfZaloAndDashboard drives, for TestSecretsNeverLogged, the paths
// that carry the Zalo keys and the dashboard's tokens: Zalo bot messages
// (the token is in every Bot API path) with a refused webhook call and a
// Bot API failure; Zalo OA messages (signed with the OA secret key; the
// access token comes from a refresh with the app secret and the refresh
// token) with a forged signature, an expired access token and a refresh
// that fails; the organizer's /dashboard link, its page, its sign-in, a
// page with the session cookie, a second sign-in with the spent link, a
// made-up cookie; `gocua dashboard link`. It returns every secret that went
// by, by what it is, for the log scan, and what the CLI printed to stderr.
func secretsOfZaloAndDashboard(t *testing.T, h *harness, zb *zalotest.Server, oas *oatest.Server, org int64, dbURL, otp string) (map[string]string, string) {
	t.Helper()
	ctx := context.Background()
	secrets := map[string]string{
		"the Zalo bot token": zalotest.Token[strings.IndexByte(zalotest.Token, ':')+1:], "the Zalo bot webhook secret": zaloSecret,
		"the OA app secret": oatest.AppSecret, "the OA secret key": oatest.SecretKey, "the OA's first refresh token": oatest.RefreshToken,
	}
	seenTokens := func(when string) {
		if a := oas.AccessToken(); a != "" {
			secrets["the OA access token "+when] = a
		}
		secrets["the OA refresh token "+when] = oas.CurrentRefreshToken()
	}

	// the Zalo bot: a message and its reply, a wrong secret, a failed send
	chat := newZaloChat()
	zaloSay := func(text string) int {
		u := zalotest.Text("zs"+strconv.FormatInt(zaloIDs.Add(1), 10), chat, text)
		u.Date = time.Now().UnixMilli() + zaloIDs.Add(1)
		code, err := zalotest.PostURL(ctx, webhookClient, h.url+zalo.WebhookPath, zaloSecret, u.Body())
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	if code := zaloSay("mã OTP " + otp); code != http.StatusOK {
		t.Fatalf("zalo bot webhook: %d", code)
	}
	waitUntil(t, 10*time.Second, "the Zalo bot's reply", func() bool { return len(zb.Sent(chat)) > 0 })
	wrong := zalotest.Text("zs-wrong", chat, otp)
	wrong.Date = time.Now().UnixMilli()
	if code, err := zalotest.PostURL(ctx, webhookClient, h.url+zalo.WebhookPath, "wrong-"+zaloSecret, wrong.Body()); err != nil || code != http.StatusForbidden {
		t.Errorf("zalo bot webhook with a wrong secret: %d %v", code, err)
	}
	sent := len(zb.Sent(chat))
	zb.FailNext("sendMessage", 1, zalotest.ServerError(http.StatusBadGateway))
	if code := zaloSay("/menu"); code != http.StatusOK {
		t.Fatalf("zalo bot webhook: %d", code)
	}
	waitUntil(t, 20*time.Second, "the Zalo bot's reply after a failed send", func() bool { return len(zb.Sent(chat)) > sent })

	// the Zalo OA: a message and its reply, a forged signature, an expired
	// access token, a refresh that fails once
	user := oatest.UserID(int(zaloIDs.Add(1)))
	oaSay := func(text string) {
		at := time.Now().Add(time.Duration(oaClock.Add(1)) * time.Millisecond)
		if code := oatest.Post(t, h.url+oa.WebhookPath, oatest.UserText(user, "oas"+strconv.FormatInt(zaloIDs.Add(1), 10), text, at)); code != http.StatusOK {
			t.Fatalf("zalo oa webhook: %d", code)
		}
	}
	oaSay("mã OTP " + otp)
	waitUntil(t, 20*time.Second, "the OA's reply", func() bool { return len(oas.Sent(user)) > 0 })
	seenTokens("at first")
	forged := oatest.Request(t, h.url+oa.WebhookPath, oatest.UserText(user, "oas-forged", otp, time.Now()))
	forged.Header.Set("X-ZEvent-Signature", "mac="+strings.Repeat("0", 64))
	if resp, err := http.DefaultClient.Do(forged); err != nil || resp.StatusCode == http.StatusOK {
		t.Errorf("a forged OA event: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	sent = len(oas.Sent(user))
	oas.ExpireAccess()
	oas.FailRefreshNext(oatest.RefreshServerError)
	oaSay("/menu")
	waitUntil(t, 30*time.Second, "the OA's reply after a new access token", func() bool { return len(oas.Sent(user)) > sent })
	seenTokens("after the refresh")

	// the organizer's /dashboard link from the bot, used once
	h.send(textUpdate(nextUpdateID(), org, "/dashboard"))
	h.settle()
	re := regexp.MustCompile(`https?://\S+/dashboard/login\?t=([A-Za-z0-9_-]{43})`)
	var tok string
	waitUntil(t, 10*time.Second, "the dashboard link", func() bool {
		for _, m := range h.sentTo(org) {
			all := m.Text
			for _, row := range m.Keyboard {
				for _, b := range row {
					all += " " + b.URL
				}
			}
			if s := re.FindStringSubmatch(all); s != nil {
				tok = s[1]
			}
		}
		return tok != ""
	})
	secrets["the dashboard link's token"] = tok
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, cookie string, form url.Values) *http.Response {
		t.Helper()
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, h.url+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "gocua_dash", Value: cookie})
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := do(http.MethodGet, "/dashboard/login?t="+tok, "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the link's page: %d", resp.StatusCode)
	}
	resp := do(http.MethodPost, "/dashboard/login", "", url.Values{"t": {tok}})
	var session string
	for _, ck := range resp.Cookies() {
		if ck.Name == "gocua_dash" {
			session = ck.Value
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == "" {
		t.Fatalf("sign in: %d, cookie %q", resp.StatusCode, session)
	}
	secrets["the dashboard session cookie"] = session
	if resp := do(http.MethodGet, "/dashboard/", session, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the overview with the session: %d", resp.StatusCode)
	}
	if resp := do(http.MethodPost, "/dashboard/login", "", url.Values{"t": {tok}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the spent link: %d", resp.StatusCode)
	}
	madeUp := strings.Repeat("A", 42) + "Q"
	if resp := do(http.MethodGet, "/dashboard/", madeUp, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a made-up session cookie: %d", resp.StatusCode)
	}

	// `gocua dashboard link` on the command line: the link goes to stdout only
	env := map[string]string{
		"GOCUA_DATABASE_URL": dbURL, "GOCUA_ADMINS": "telegram:" + strconv.FormatInt(org, 10), "GOCUA_LOG_LEVEL": "debug",
	}
	var out, errs bytes.Buffer
	if code := Run(ctx, []string{"dashboard", "link", "telegram:" + strconv.FormatInt(org, 10)}, func(k string) string { return env[k] }, nil, &out, &errs); code != 0 {
		t.Fatalf("gocua dashboard link: %d %s", code, errs.String())
	}
	s := re.FindStringSubmatch(out.String())
	if s == nil {
		t.Fatalf("gocua dashboard link printed %q", out.String())
	}
	secrets["the command line's link token"] = s[1]
	return secrets, fmt.Sprintf("gocua dashboard link (stderr): %s", errs.String())
}
