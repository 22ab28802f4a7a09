package dashboard

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// concrete fills a route's wildcards.
func concrete(path string) string {
	path = strings.ReplaceAll(path, "{$}", "")
	return regexp.MustCompile(`\{([a-z]+)\.?\.?\.?\}`).ReplaceAllStringFunc(path, func(w string) string {
		switch w {
		case "{code}":
			return "a1"
		case "{what}":
			return "tickets"
		}
		return "1"
	})
}

// TestEveryRouteChecksTheRole walks every guarded route as nobody, as a
// volunteer, as an organizer, and with a POST lacking its CSRF token.
func TestEveryRouteChecksTheRole(t *testing.T) {
	e := newTestEnv(t, Config{})
	anon := e.anon()
	if len(e.srv.Routes()) < 10 {
		t.Fatalf("only %d routes", len(e.srv.Routes()))
	}
	for _, rt := range e.srv.Routes() {
		path := Prefix + concrete(rt.Path)
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			vol, org := e.login(volID), e.login(orgID) // a route may sign out
			send := func(c *client, form url.Values) response {
				if rt.Method == http.MethodGet {
					if rt.Path == "events" {
						path += "?topic=nope" // a stream would not end
					}
					return c.get(path)
				}
				return c.post(path, form)
			}
			// nobody
			res := send(anon, nil)
			if rt.Method == http.MethodGet && (res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), Prefix+"login")) ||
				rt.Method == http.MethodPost && res.StatusCode != http.StatusUnauthorized {
				t.Errorf("signed out: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			// a volunteer
			res = send(vol, nil)
			switch {
			case rt.Role == Organizer && res.StatusCode != http.StatusForbidden:
				t.Errorf("volunteer on an organizer route: %d", res.StatusCode)
			case rt.Role == Volunteer && (res.StatusCode == http.StatusForbidden && !strings.Contains(res.Body, "err_csrf") && rt.Method == http.MethodGet ||
				res.StatusCode == http.StatusUnauthorized):
				t.Errorf("volunteer on a volunteer route: %d", res.StatusCode)
			}
			// a POST without the token, or with another session's, is refused
			if rt.Method == http.MethodPost {
				for _, c := range []url.Values{{"csrf": {""}}, {"csrf": {vol.csrf}}} {
					if res := send(org, c); res.StatusCode != http.StatusForbidden {
						t.Errorf("POST with csrf %q: %d", c.Get("csrf"), res.StatusCode)
					}
				}
			}
			// an organizer is let in everywhere
			if res := send(org, nil); res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusUnauthorized {
				t.Errorf("organizer: %d %s", res.StatusCode, res.Body)
			}
		})
	}
}
