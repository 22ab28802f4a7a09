// Package telegramtest is a fake Telegram Bot API server for tests. It speaks
// the wire format go-telegram/bot uses (multipart/form-data, also JSON and
// url-encoded), records every call, and can be told to fail like Telegram
// does: 429 with retry_after, 403 "blocked", 500, slow answers, and rate
// limits enforced per chat and overall.
package telegramtest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Token is the bot token the fake server accepts.
const Token = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"

// Call is one recorded API call.
type Call struct {
	Method string
	Params map[string]string
	At     time.Time
}

// Btn is one inline keyboard button as received.
type Btn struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// SentMessage is one successful sendMessage.
type SentMessage struct {
	ChatID    string
	Text      string
	ParseMode string
	Keyboard  [][]Btn
	MessageID int
	At        time.Time
}

// Failure is a programmed answer for one call.
type Failure struct {
	Status      int           // HTTP status and error_code
	Description string        // Telegram's description
	RetryAfter  int           // parameters.retry_after (429)
	Delay       time.Duration // wait before answering (slow response); Status 0 means then succeed
}

// TooManyRequests is a 429 asking to wait seconds.
func TooManyRequests(seconds int) Failure {
	return Failure{Status: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", seconds), RetryAfter: seconds}
}

// Blocked is Telegram's 403 for a resident who blocked the bot.
func Blocked() Failure {
	return Failure{Status: 403, Description: "Forbidden: bot was blocked by the user"}
}

// ServerError is a 500.
func ServerError() Failure { return Failure{Status: 500, Description: "Internal Server Error"} }

// Slow delays the answer, then succeeds.
func Slow(d time.Duration) Failure { return Failure{Delay: d} }

// Option configures a Server.
type Option func(*Server)

// WithRateLimit makes the server answer 429 like Telegram when a chat gets
// more than perChat messages per perChatWindow, or all chats together more
// than global per second (0 = no limit).
func WithRateLimit(perChat int, perChatWindow time.Duration, global int) Option {
	return func(s *Server) { s.perChat, s.perChatWindow, s.global = perChat, perChatWindow, global }
}

// Server is the fake Bot API.
type Server struct {
	srv *httptest.Server

	perChat       int
	perChatWindow time.Duration
	global        int

	mu         sync.Mutex
	calls      []Call
	sent       []SentMessage
	fail       []pendingFailure
	violations int
	byChat     map[string][]time.Time
	recent     []time.Time
	nextID     int
	onSend     func(SentMessage)
	changed    chan struct{}
}

type pendingFailure struct {
	method, chat string
	f            Failure
}

// New starts a fake server closed at the end of the test.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{byChat: make(map[string][]time.Time), changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL (for GOCUA_TELEGRAM_API_URL / WithServerURL).
func (s *Server) URL() string { return s.srv.URL }

// Token is the token the server expects.
func (s *Server) Token() string { return Token }

// FailNext makes the next call of method (for chatID, or any chat if empty) fail with f.
func (s *Server) FailNext(method, chatID string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, pendingFailure{method, chatID, f})
}

// OnSend registers a function called (outside the lock) for every message sent.
func (s *Server) OnSend(f func(SentMessage)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSend = f
}

// Calls returns every call so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls of one method.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Sent returns the messages successfully sent, in the order received.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

// Violations counts calls refused because they broke the rate limits.
func (s *Server) Violations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.violations
}

// WaitSent waits until at least n messages were sent or timeout passes.
func (s *Server) WaitSent(n int, timeout time.Duration) ([]SentMessage, error) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		if len(s.sent) >= n {
			out := append([]SentMessage(nil), s.sent...)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return s.Sent(), fmt.Errorf("telegramtest: %d messages sent, want %d", len(s.Sent()), n)
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/bot" + Token + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		writeErr(w, Failure{Status: 401, Description: "Unauthorized"})
		return
	}
	method := strings.TrimPrefix(r.URL.Path, prefix)
	params, err := readParams(r)
	if err != nil {
		writeErr(w, Failure{Status: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	now := time.Now()
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Params: params, At: now})
	chat := params["chat_id"]
	var f *Failure
	for i, p := range s.fail {
		if p.method == method && (p.chat == "" || p.chat == chat) {
			f = &p.f
			s.fail = append(s.fail[:i], s.fail[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if f != nil {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Status != 0 {
			writeErr(w, *f)
			return
		}
	}

	switch method {
	case "sendMessage":
		s.sendMessage(w, params, now)
	case "getMe":
		writeOK(w, map[string]any{"id": 123456789, "is_bot": true, "first_name": "gocua", "username": "gocua_test_bot"})
	case "getWebhookInfo":
		writeOK(w, map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": 0})
	case "answerCallbackQuery", "setWebhook", "deleteWebhook", "setMyCommands", "deleteMyCommands":
		writeOK(w, true)
	case "editMessageReplyMarkup", "editMessageText":
		writeOK(w, map[string]any{"message_id": 1, "date": now.Unix(), "chat": map[string]any{"id": atoi(params["chat_id"]), "type": "private"}})
	default:
		writeOK(w, true)
	}
}

func (s *Server) sendMessage(w http.ResponseWriter, p map[string]string, now time.Time) {
	chat := p["chat_id"]
	if chat == "" || p["text"] == "" {
		writeErr(w, Failure{Status: 400, Description: "Bad Request: message text is empty"})
		return
	}
	s.mu.Lock()
	if retry := s.limitLocked(chat, now); retry > 0 {
		s.violations++
		s.mu.Unlock()
		writeErr(w, TooManyRequests(retry))
		return
	}
	var kb struct {
		InlineKeyboard [][]Btn `json:"inline_keyboard"`
	}
	if m := p["reply_markup"]; m != "" {
		if err := json.Unmarshal([]byte(m), &kb); err != nil {
			s.mu.Unlock()
			writeErr(w, Failure{Status: 400, Description: "Bad Request: can't parse reply keyboard markup JSON object"})
			return
		}
	}
	s.nextID++
	msg := SentMessage{ChatID: chat, Text: p["text"], ParseMode: p["parse_mode"], Keyboard: kb.InlineKeyboard, MessageID: s.nextID, At: now}
	s.sent = append(s.sent, msg)
	onSend := s.onSend
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if onSend != nil {
		onSend(msg)
	}
	writeOK(w, map[string]any{
		"message_id": msg.MessageID, "date": now.Unix(), "text": msg.Text,
		"chat": map[string]any{"id": atoi(chat), "type": "private"},
	})
}

// limitLocked records a send and returns a retry_after (seconds) if it breaks a limit.
func (s *Server) limitLocked(chat string, now time.Time) int {
	if s.perChat > 0 {
		var keep []time.Time
		for _, t := range s.byChat[chat] {
			if now.Sub(t) < s.perChatWindow {
				keep = append(keep, t)
			}
		}
		if len(keep) >= s.perChat {
			s.byChat[chat] = keep
			return max(1, int((s.perChatWindow-now.Sub(keep[0])+time.Second-1)/time.Second))
		}
		s.byChat[chat] = append(keep, now)
	}
	if s.global > 0 {
		var keep []time.Time
		for _, t := range s.recent {
			if now.Sub(t) < time.Second {
				keep = append(keep, t)
			}
		}
		if len(keep) >= s.global {
			s.recent = keep
			return 1
		}
		s.recent = append(keep, now)
	}
	return 0
}

func atoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// readParams reads a Bot API call's parameters from multipart, url-encoded
// or JSON bodies.
func readParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(10 << 20); err != nil {
			return nil, err
		}
		for k, v := range r.MultipartForm.Value {
			out[k] = v[0]
		}
	case "application/json":
		var m map[string]any
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &m); err != nil {
				return nil, err
			}
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
				continue
			}
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range r.Form {
			out[k] = v[0]
		}
	}
	for k, v := range r.URL.Query() {
		if _, ok := out[k]; !ok {
			out[k] = v[0]
		}
	}
	return out, nil
}

func writeOK(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func writeErr(w http.ResponseWriter, f Failure) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	body := map[string]any{"ok": false, "error_code": f.Status, "description": f.Description}
	if f.RetryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": f.RetryAfter}
	}
	_ = json.NewEncoder(w).Encode(body)
}
