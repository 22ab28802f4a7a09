package oa

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

const privateText = "mật khẩu bí mật 001203004567"

// signed is the signature header for body with the timestamp ts.
func signed(body []byte, ts string) string {
	return "mac=" + oatest.Sign(oatest.AppID, body, ts, oatest.SecretKey)
}

func TestWebhookRefusals(t *testing.T) {
	f := newFixture(t, nil, []string{privateText, "bí mật"})
	ts := oatest.Millis(f.clock.Now())
	huge := oatest.UserText(oatest.UserID(1), "m1", strings.Repeat("bí mật ", 2<<20/9), f.clock.Now())
	tests := []struct {
		name string
		body string
		want int
	}{
		{"2 MiB body", string(huge), 413},
		{"unterminated", `{`, 400},
		{"not JSON", `bí mật`, 400},
		{"not an object", `[1,2]`, 400},
		{"null", `null`, 400},
		{"empty", ``, 400},
		{"a string", `"bí mật"`, 400},
		{"no app_id", `{"event_name":"user_send_text","timestamp":"` + ts + `","message":{"text":"bí mật"}}`, 400},
		{"no event_name", `{"app_id":"` + oatest.AppID + `","timestamp":"` + ts + `"}`, 400},
		{"no timestamp", `{"app_id":"` + oatest.AppID + `","event_name":"user_send_text","message":{"text":"bí mật"}}`, 400},
		{"timestamp not a number", `{"app_id":"` + oatest.AppID + `","event_name":"user_send_text","timestamp":"bí mật"}`, 400},
		{"timestamp in seconds with a fraction", `{"app_id":"` + oatest.AppID + `","event_name":"user_send_text","timestamp":1700000000.5}`, 400},
		{"app_id of the wrong type", `{"app_id":{"x":1},"event_name":"user_send_text","timestamp":"` + ts + `"}`, 400},
		{"event_name of the wrong type", `{"app_id":"` + oatest.AppID + `","event_name":7,"timestamp":"` + ts + `"}`, 400},
		{"trailing garbage", `{"app_id":"` + oatest.AppID + `","event_name":"follow","timestamp":"` + ts + `"} bí mật`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A signature header is present (even a right one): the body
			// is refused for what it is.
			if got := f.postRaw([]byte(tt.body), signed([]byte(tt.body), ts)); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	if n := f.inbox.pending(); n != 0 {
		t.Fatalf("%d refused events queued", n)
	}
	if strings.Contains(f.logs.String(), "bí mật") {
		t.Fatalf("a body reached the logs:\n%s", f.logs.String())
	}
}

func TestWebhookMethodNotAllowed(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := oatest.UserText(oatest.UserID(1), "m1", "chào", f.clock.Now())
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodDelete} {
		req := httptest.NewRequest(m, WebhookPath, bytes.NewReader(body))
		req.Header.Set(SignatureHeader, signed(body, oatest.Millis(f.clock.Now())))
		w := httptest.NewRecorder()
		f.a.ServeHTTP(w, req)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Fatalf("%s: %d (Allow %q)", m, w.Code, w.Header().Get("Allow"))
		}
	}
	if f.inbox.pending() != 0 {
		t.Fatal("queued")
	}
}

// Events gocua does not handle are acknowledged without being queued.
func TestWebhookIgnoredEvents(t *testing.T) {
	f := newFixture(t, nil, []string{"bí mật"})
	now := f.clock.Now()
	user := oatest.UserID(3)
	tests := []struct {
		name string
		body []byte
	}{
		{"seen", oatest.Seen(user, []string{"a1", "b2"}, now)},
		{"received", oatest.Message("user_received_message", user, map[string]any{"msg_id": "a1"}, now)},
		{"click chat now", oatest.Message("user_click_chatnow", user, nil, now)},
		{"a kind Zalo adds later", oatest.Message("some_future_event", user, map[string]any{"text": "bí mật"}, now)},
		{"anonymous echo", oatest.Message("oa_send_anonymous_text", user, map[string]any{"msg_id": "x", "text": "bí mật"}, now)},
		{"text without a sender", bytes.Replace(oatest.UserText(user, "m1", "bí mật", now), []byte(`"sender":{"id":"`+user+`"}`), []byte(`"sender":{}`), 1)},
		{"text from a malformed id", bytes.ReplaceAll(oatest.UserText(user, "m1", "bí mật", now), []byte(user), []byte("12 34"))},
		{"follow without a follower", bytes.Replace(oatest.Follow(user, now), []byte(`"follower":{"id":"`+user+`"}`), []byte(`"follower":null`), 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.post(t, tt.body); got != 200 {
				t.Fatalf("status %d, want 200", got)
			}
		})
	}
	if n := f.inbox.pending(); n != 0 {
		t.Fatalf("%d ignored events queued: %q", n, f.inbox.queued())
	}
}

// The webhook answers only once the event is in the inbox, and 503 when
// the inbox refuses it; it never calls the core.
func TestWebhookCommitsToTheInbox(t *testing.T) {
	f := newFixture(t, nil, []string{privateText})
	now := f.clock.Now()
	f.rec.delay = time.Hour // a core this slow would make Zalo give up on the webhook
	start := time.Now()
	if got := f.post(t, oatest.UserText(oatest.UserID(1), "m1", privateText, now)); got != 200 {
		t.Fatalf("status %d", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("webhook took %s", d)
	}
	if n := f.inbox.pending(); n != 1 {
		t.Fatalf("%d entries queued, want 1", n)
	}
	if len(f.rec.got()) != 0 {
		t.Fatal("the webhook called the core")
	}
	f.inbox.addErr = errors.New("redis: connection refused")
	if got := f.post(t, oatest.UserText(oatest.UserID(1), "m2", privateText, now)); got != 503 {
		t.Fatalf("inbox down: status %d, want 503", got)
	}
	if !strings.Contains(f.logs.String(), "inbox unavailable") {
		t.Fatalf("failure not logged:\n%s", f.logs.String())
	}
}

// With the OA's id configured, events for another OA are ignored.
func TestWebhookOtherOA(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.OAID = oatest.OAID }, nil)
	now := f.clock.Now()
	user := oatest.UserID(1)
	const other = "1234567890123456789"
	for _, body := range [][]byte{
		bytes.Replace(oatest.UserText(user, "m1", "chào", now), []byte(oatest.OAID), []byte(other), 1),
		bytes.Replace(oatest.OAText(user, "m2", "chào", now), []byte(oatest.OAID), []byte(other), 1),
		bytes.Replace(oatest.Follow(user, now), []byte(oatest.OAID), []byte(other), 1),
	} {
		if got := f.post(t, body); got != 200 {
			t.Fatalf("status %d", got)
		}
	}
	if n := f.inbox.pending(); n != 0 {
		t.Fatalf("%d events of another OA queued", n)
	}
	if got := f.post(t, oatest.UserText(user, "m3", "chào", now)); got != 200 || f.inbox.pending() != 1 {
		t.Fatalf("own OA's event: status %d, %d queued", got, f.inbox.pending())
	}
}

// Zalo re-sends a failed webhook with the same body: it is queued again
// and the core recognises the update id.
func TestWebhookRetryQueuedWithSameUpdateID(t *testing.T) {
	f := newFixture(t, nil, nil)
	body := oatest.UserText(oatest.UserID(1), "96d3cdf3af150460909", "chào", f.clock.Now())
	f.post(t, body)
	f.clock.Add(5 * time.Minute)
	req := oatest.Request(t, WebhookPath, body)
	req.Header.Set("num_retry", "2")
	w := httptest.NewRecorder()
	f.a.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("retry: %d", w.Code)
	}
	q := f.queuedInbounds(t)
	if len(q) != 2 || q[0][0].UpdateID != "96d3cdf3af150460909" || q[1][0].UpdateID != q[0][0].UpdateID {
		t.Fatalf("queued %+v", q)
	}
}
