package telegramtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, s *Server, method, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.URL()+"/bot"+Token+"/"+method, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestRecordsAndFails(t *testing.T) {
	s := New(t)
	if code, _ := call(t, s, "sendMessage", `{"chat_id":"1","text":"hi","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"x"}]]}}`); code != 200 {
		t.Fatalf("send: %d", code)
	}
	sent := s.Sent()
	if len(sent) != 1 || sent[0].Text != "hi" || sent[0].Keyboard[0][0].CallbackData != "x" {
		t.Fatalf("sent %+v", sent)
	}
	s.FailNext("sendMessage", "1", TooManyRequests(3))
	code, body := call(t, s, "sendMessage", `{"chat_id":"1","text":"hi"}`)
	if code != 429 || body["parameters"].(map[string]any)["retry_after"].(float64) != 3 {
		t.Fatalf("429: %d %v", code, body)
	}
	s.FailNext("sendMessage", "", Blocked())
	if code, body := call(t, s, "sendMessage", `{"chat_id":"2","text":"hi"}`); code != 403 || !strings.Contains(body["description"].(string), "blocked") {
		t.Fatalf("403: %d %v", code, body)
	}
	s.FailNext("sendMessage", "", Slow(100*time.Millisecond))
	began := time.Now()
	if code, _ := call(t, s, "sendMessage", `{"chat_id":"2","text":"hi"}`); code != 200 || time.Since(began) < 100*time.Millisecond {
		t.Fatalf("slow: %d after %v", code, time.Since(began))
	}
	if code, _ := call(t, s, "sendMessage", `{"chat_id":"2","text":""}`); code != 400 {
		t.Fatalf("empty text: %d", code)
	}
	if len(s.CallsTo("sendMessage")) != 5 {
		t.Fatalf("calls: %d", len(s.CallsTo("sendMessage")))
	}
	if _, err := s.WaitSent(2, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitSent(99, 10*time.Millisecond); err == nil {
		t.Fatal("WaitSent did not time out")
	}
}

func TestRateLimits(t *testing.T) {
	s := New(t, WithRateLimit(1, time.Second, 0))
	call(t, s, "sendMessage", `{"chat_id":"1","text":"a"}`)
	if code, _ := call(t, s, "sendMessage", `{"chat_id":"1","text":"b"}`); code != 429 {
		t.Fatalf("second message in a second to one chat: %d, want 429", code)
	}
	if code, _ := call(t, s, "sendMessage", `{"chat_id":"2","text":"c"}`); code != 200 {
		t.Fatalf("other chat: %d", code)
	}
	if s.Violations() != 1 {
		t.Fatalf("violations %d", s.Violations())
	}
}

func TestWrongToken(t *testing.T) {
	s := New(t)
	resp, err := http.Post(s.URL()+"/botWRONG/getMe", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
