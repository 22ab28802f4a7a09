package zalotest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
}

func call(t *testing.T, s *Server, token, method string, params any) (int, answer) {
	t.Helper()
	body, _ := json.Marshal(params)
	resp, err := http.Post(s.URL()+"/bot"+token+"/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a answer
	_ = json.Unmarshal(raw, &a)
	return resp.StatusCode, a
}

func TestServerMethods(t *testing.T) {
	s := New(t)
	if st, a := call(t, s, "1:wrong", "getMe", nil); st != 401 || a.OK || a.ErrorCode != 401 {
		t.Fatalf("wrong token: %d %+v", st, a)
	}
	if _, a := call(t, s, Token, "getMe", nil); !a.OK || !strings.Contains(string(a.Result), BotID) {
		t.Fatalf("getMe: %+v", a)
	}
	if st, a := call(t, s, Token, "sendMessage", map[string]string{"chat_id": "c", "text": strings.Repeat("🙂", 1000)}); st != 200 || !a.OK {
		t.Fatalf("2000 units: %d %+v", st, a)
	}
	if st, a := call(t, s, Token, "sendMessage", map[string]string{"chat_id": "c", "text": strings.Repeat("a", 2001)}); st != 200 || a.OK || a.ErrorCode != 400 {
		t.Fatalf("2001 characters: %d %+v", st, a)
	}
	if _, a := call(t, s, Token, "sendMessage", map[string]string{"chat_id": "c", "text": " "}); a.OK {
		t.Fatal("empty text accepted")
	}
	if _, a := call(t, s, Token, "sendPhoto", map[string]string{"chat_id": "c", "photo": "ftp://x/y"}); a.OK {
		t.Fatal("ftp photo accepted")
	}
	if _, a := call(t, s, Token, "sendChatAction", map[string]string{"chat_id": "c", "action": "typing"}); !a.OK {
		t.Fatalf("sendChatAction: %+v", a)
	}
	if _, a := call(t, s, Token, "setWebhook", map[string]string{"url": "http://x", "secret_token": "12345678"}); a.OK {
		t.Fatal("http webhook accepted")
	}
	if _, a := call(t, s, Token, "setWebhook", map[string]string{"url": "https://x/webhook/zalo-bot", "secret_token": "1234567"}); a.OK {
		t.Fatal("short secret accepted")
	}
	if _, a := call(t, s, Token, "setWebhook", map[string]string{"url": "https://x/webhook/zalo-bot", "secret_token": "12345678"}); !a.OK {
		t.Fatalf("setWebhook: %+v", a)
	}
	if _, a := call(t, s, Token, "getWebhookInfo", nil); !strings.Contains(string(a.Result), "https://x/webhook/zalo-bot") {
		t.Fatalf("getWebhookInfo: %s", a.Result)
	}
	if _, a := call(t, s, Token, "deleteWebhook", nil); !a.OK || s.Webhook().URL != "" {
		t.Fatalf("deleteWebhook: %+v %+v", a, s.Webhook())
	}
	if _, a := call(t, s, Token, "sendDocument", nil); a.OK || a.ErrorCode != 400 {
		t.Fatalf("unknown method: %+v", a)
	}
	if n := len(s.Sent("c")); n != 1 {
		t.Fatalf("sent to c: %d", n)
	}
	if n := len(s.Calls()); n != 13 {
		t.Fatalf("%d calls recorded", n)
	}
	if c := s.CallsTo("sendMessage"); len(c) != 3 || c[1].OK || c[1].Status != 200 || c[0].ChatID != "c" {
		t.Fatalf("sendMessage calls %+v", c)
	}
}

func TestServerFailures(t *testing.T) {
	s := New(t)
	s.FailNext("sendMessage", 2, QuotaExceeded())
	s.FailAfter("sendMessage", 1, 1, ServerError(502))
	p := map[string]string{"chat_id": "c", "text": "x"}
	for i, want := range []int{429, 429, 200, 502, 200} {
		if st, _ := call(t, s, Token, "sendMessage", p); st != want {
			t.Fatalf("call %d: %d, want %d", i, st, want)
		}
	}
	s.FailNext("sendPhoto", 1, NotOK(404, "Not Found"))
	if st, a := call(t, s, Token, "sendPhoto", map[string]string{"chat_id": "c", "photo": "https://x/y.jpg"}); st != 200 || a.OK || a.ErrorCode != 404 {
		t.Fatalf("NotOK: %d %+v", st, a)
	}
	if n := len(s.Sent("")); n != 2 {
		t.Fatalf("%d sent", n)
	}
}

// sendPhoto fetches the address twice, as Zalo does, and records both.
func TestServerFetchesPhotos(t *testing.T) {
	s := New(t)
	var hits atomic.Int32
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) > 1 {
			http.Error(w, "gone", http.StatusGone) // a one-shot address
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte("png"))
	}))
	t.Cleanup(img.Close)
	if _, a := call(t, s, Token, "sendPhoto", map[string]string{"chat_id": "c", "photo": img.URL + "/p.png", "caption": "x"}); !a.OK {
		t.Fatalf("%+v", a)
	}
	m := s.Sent("c")[0]
	if len(m.Fetches) != PhotoFetches || m.Fetches[0].Status != 200 || string(m.Fetches[0].Data) != "png" || m.Fetches[1].Status != 410 {
		t.Fatalf("fetches %+v", m.Fetches)
	}
	// its own photos, for inbound events
	s.SetPhoto("a b.jpg", []byte("jpeg"), "image/jpeg")
	resp, err := http.Get(s.PhotoURL("a b.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(data) != "jpeg" || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("photo: %d %q", resp.StatusCode, data)
	}
}

func TestServerConcurrentUse(t *testing.T) {
	s := New(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			call(t, s, Token, "sendMessage", map[string]string{"chat_id": fmt.Sprint("c", i%3), "text": "x"})
			_ = s.Sent("c1")
			_ = s.Calls()
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if sent, err := s.WaitSent(ctx, 20); err != nil || len(sent) != 20 {
		t.Fatalf("%d sent: %v", len(sent), err)
	}
}

func TestUpdateBodies(t *testing.T) {
	var env struct {
		OK     bool `json:"ok"`
		Result struct {
			Event   string         `json:"event_name"`
			Message map[string]any `json:"message"`
		} `json:"result"`
	}
	if err := json.Unmarshal(Image("m", "c", "https://p/x.jpg", "cap").Body(), &env); err != nil {
		t.Fatal(err)
	}
	m := env.Result.Message
	if !env.OK || env.Result.Event != EventImage || m["photo"] != "https://p/x.jpg" || m["caption"] != "cap" || m["photo_url"] != nil ||
		m["date"].(float64) != DefaultDate || m["chat"].(map[string]any)["chat_type"] != "PRIVATE" {
		t.Fatalf("image body %+v", env)
	}
	u := Text("m", "c", "")
	u.Bare, u.Date = true, -1
	var bare map[string]any
	if err := json.Unmarshal(u.Body(), &bare); err != nil {
		t.Fatal(err)
	}
	msg := bare["message"].(map[string]any)
	if bare["event_name"] != EventText || bare["ok"] != nil || msg["date"] != nil || msg["text"] != "" {
		t.Fatalf("bare body %+v", bare)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(SecretHeader) != "s" {
			w.WriteHeader(403)
		}
	})
	if Post(h, "/", "s", nil).Code != 200 || Post(h, "/", "", nil).Code != 403 {
		t.Fatal("Post does not send the secret")
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if st, err := PostURL(context.Background(), nil, srv.URL, "s", u.Body()); err != nil || st != 200 {
		t.Fatalf("PostURL: %d %v", st, err)
	}
}
