package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLoginLinkWorksOnce(t *testing.T) {
	e := newTestEnv(t, Config{PublicURL: "https://ward.example"})
	link, ttl, err := e.srv.MintLink(t.Context(), orgID, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if ttl != 10*time.Minute || !strings.HasPrefix(link, "https://ward.example/dashboard/login?t=") {
		t.Fatalf("link %q ttl %v", link, ttl)
	}
	u, _ := url.Parse(link)
	tok := u.Query().Get("t")

	c := e.anon()
	// opening the link (a chat app's preview does) spends nothing
	for range 2 {
		if res := c.get(Prefix + "login?t=" + tok); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `name="t" value="`+tok+`"`) {
			t.Fatalf("login page: %d %s", res.StatusCode, res.Body)
		}
	}
	res := c.post(Prefix+"login", url.Values{"t": {tok}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix {
		t.Fatalf("login: %d %v", res.StatusCode, res.Header)
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"gocua_dash=", "HttpOnly", "SameSite=Strict", "Secure", "Path=/dashboard/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	if res := c.get(Prefix + "sessions"); res.StatusCode != http.StatusOK {
		t.Fatalf("signed in page: %d", res.StatusCode)
	}

	// a used link is refused, from any browser
	other := e.anon()
	if res := other.post(Prefix+"login", url.Values{"t": {tok}}); res.StatusCode != http.StatusForbidden || res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("used link: %d %v", res.StatusCode, res.Header)
	}
	// an expired one too
	link2, _, _ := e.srv.MintLink(t.Context(), orgID, e.now.Add(-11*time.Minute))
	u2, _ := url.Parse(link2)
	if res := other.post(Prefix+"login", url.Values{"t": {u2.Query().Get("t")}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("expired link: %d", res.StatusCode)
	}
	// a minted one never reaches the store
	for _, bad := range []string{"", "x", strings.Repeat("A", 43) + "=", strings.Repeat("é", 30), "../../etc"} {
		if res := other.post(Prefix+"login", url.Values{"t": {bad}}); res.StatusCode != http.StatusBadRequest {
			t.Errorf("token %q: %d", bad, res.StatusCode)
		}
	}
	// a suspended volunteer's link signs nobody in
	link3, _, _ := e.srv.MintLink(t.Context(), suspID, e.now)
	u3, _ := url.Parse(link3)
	if res := other.post(Prefix+"login", url.Values{"t": {u3.Query().Get("t")}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("suspended: %d", res.StatusCode)
	}
	// a cross-site form post is refused before the token is spent
	link4, _, _ := e.srv.MintLink(t.Context(), orgID, e.now)
	u4, _ := url.Parse(link4)
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+Prefix+"login", strings.NewReader(url.Values{"t": {u4.Query().Get("t")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if res := other.do(req); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", res.StatusCode)
	}
	if res := other.post(Prefix+"login", url.Values{"t": {u4.Query().Get("t")}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the link should still work: %d", res.StatusCode)
	}
}

func TestSessionsRevokeAndLogout(t *testing.T) {
	e := newTestEnv(t, Config{})
	phone, laptop := e.login(volID), e.login(volID)
	list := phone.get(Prefix + "sessions")
	if strings.Count(list.Body, "/revoke") != 1 { // the other device's; this one is marked
		t.Fatalf("sessions page: %s", list.Body)
	}
	// the laptop's session is number 2
	if res := phone.post(Prefix+"sessions/2/revoke", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if res := laptop.get(Prefix + "sessions"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), Prefix+"login") {
		t.Fatalf("revoked session still works: %d", res.StatusCode)
	}
	// a volunteer cannot revoke someone else's session
	other := e.login(vol2ID)
	if res := other.post(Prefix+"sessions/1/revoke", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("revoke another's: %d", res.StatusCode)
	}
	// logout ends the session and clears the cookie
	if res := phone.post(Prefix+"logout", nil); res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", res.StatusCode, res.Header)
	}
	if res := phone.get(Prefix + "sessions"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %d", res.StatusCode)
	}
	// a suspended member's session ends with the rights
	e.st.mu.Lock()
	v := e.st.vols[vol2ID]
	v.Status = "suspended"
	e.st.vols[vol2ID] = v
	e.st.mu.Unlock()
	if res := other.get(Prefix + "sessions"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("suspended session: %d", res.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newTestEnv(t, Config{PublicURL: "https://ward.example"})
	c := e.login(orgID)
	for _, path := range []string{Prefix + "login", Prefix + "sessions", Prefix + "assets/app.css", Prefix + "nope"} {
		res := c.get(path)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("Strict-Transport-Security") == "" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	// no inline script or style on a page
	body := c.get(Prefix + "sessions").Body
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
		t.Errorf("inline script or style: %s", body)
	}
	// no HSTS over plain http
	plain := newTestEnv(t, Config{})
	if h := plain.anon().get(Prefix + "login").Header; h.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS over http")
	}
}

func TestLanguageSwitch(t *testing.T) {
	e := newTestEnv(t, Config{})
	c := e.login(volID)
	if body := c.get(Prefix + "sessions").Body; !strings.Contains(body, "Phiên đăng nhập") {
		t.Fatalf("not Vietnamese first: %s", body)
	}
	res := c.get(Prefix + "lang?to=en&back=" + url.QueryEscape(Prefix+"sessions"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix+"sessions" {
		t.Fatalf("switch: %d %v", res.StatusCode, res.Header)
	}
	if body := c.get(Prefix + "sessions").Body; !strings.Contains(body, "Sessions") || !strings.Contains(body, `lang="en"`) {
		t.Fatalf("not English: %s", body)
	}
	// the way back never leaves the dashboard
	for _, back := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "/chat"} {
		res := c.get(Prefix + "lang?to=vi&back=" + url.QueryEscape(back))
		if res.Header.Get("Location") != Prefix {
			t.Errorf("back %q → %q", back, res.Header.Get("Location"))
		}
	}
}
