package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// FuzzDashboardForms posts arbitrary form bodies, with a valid session
// and CSRF token, to every POST route: no input makes a handler panic or
// fail with a 500, and whatever reaches the core is well formed.
func FuzzDashboardForms(f *testing.F) {
	e := newTestEnv(f, Config{})
	e.st.tickets[1] = handoff.Ticket{ID: 1, Status: handoff.Assigned, Volunteer: orgID, Area: "a1",
		Resident: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}}
	c := e.login(orgID)
	u, _ := url.Parse(e.ts.URL)
	var cookie string
	for _, k := range c.http.Jar.Cookies(u.JoinPath(Prefix)) {
		if k.Name == sessionCookie {
			cookie = k.Value
		}
	}
	var posts []Route
	for _, rt := range e.srv.Routes() {
		if rt.Method == http.MethodPost && rt.Path != "logout" && rt.Path != "sessions/{id}/revoke" {
			posts = append(posts, rt)
		}
	}
	for _, seed := range []string{
		"nonce=00112233445566778899aabbccddeeff&text=Bác bấm vào nút Đăng ký",
		"nonce=00112233445566778899aabbccddeeff&category=vneid",
		"nonce=zz&capacity=51",
		"text=%ff%fe&audience=area:a1 and (lang:vi",
		"area=a1&actions=vneid&actions=level1&people=3&date=2026-12-01&nonce=00112233445566778899aabbccddeeff",
		"text=" + strings.Repeat("ạ", 5000),
		"&&==;%%",
	} {
		for i := range posts {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		rt := posts[int(which)%len(posts)]
		path := Prefix + concrete(rt.Path)
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body+"&csrf="+url.QueryEscape(c.csrf)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", path, body, w.Code, w.Body.String())
		}
		e.st.mu.Lock()
		for _, in := range e.st.inbound {
			if in.Key.Channel != bot.ChannelDashboard || !strings.HasPrefix(in.UpdateID, "web:") || len(in.UpdateID) != 36 {
				t.Fatalf("%s %q sent %+v", path, body, in)
			}
		}
		e.st.inbound = e.st.inbound[:0]
		e.st.mu.Unlock()
	})
}
