// Package telegramtest is a fake Telegram Bot API server for tests. It
// speaks the wire format go-telegram/bot uses (every method as
// multipart/form-data; JSON and url-encoded bodies work too), records every
// call, checks messages the way Telegram does (HTML entities, 4096 UTF-16
// units, 64-byte callback data), and fails like Telegram on demand: 429 with
// retry_after, 403 "blocked", 500, slow answers, and rate limits per chat,
// per group and overall.
package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// Token is the bot token the fake server accepts.
const Token = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"

// BotID is the bot's user id (the number before the colon of Token).
const BotID = 123456789

// Call is one recorded API call with its parameters as strings (JSON values
// such as reply_markup as JSON text).
type Call struct {
	Method string
	Params map[string]string
	At     time.Time
}

// Btn is one inline keyboard button as received (copy_text is ignored).
type Btn struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// SentMessage is one successful sendMessage.
type SentMessage struct {
	ChatID    string
	Text      string // as sent (HTML when ParseMode is HTML)
	Plain     string // after entity parsing: what the resident reads
	ParseMode string
	Keyboard  [][]Btn
	MessageID int
	At        time.Time
}

// Failure is a programmed answer for one call.
type Failure struct {
	Status      int           // HTTP status and error_code; 0 = succeed (after Delay)
	Description string        // Telegram's description
	RetryAfter  int           // parameters.retry_after in seconds (429)
	Delay       time.Duration // wait before answering
}

// TooManyRequests is Telegram's 429 asking to wait seconds.
func TooManyRequests(seconds int) Failure {
	return Failure{Status: http.StatusTooManyRequests, Description: fmt.Sprintf("Too Many Requests: retry after %d", seconds), RetryAfter: seconds}
}

// Blocked is Telegram's 403 for a resident who blocked the bot.
func Blocked() Failure {
	return Failure{Status: http.StatusForbidden, Description: "Forbidden: bot was blocked by the user"}
}

// ServerError is a 500.
func ServerError() Failure {
	return Failure{Status: http.StatusInternalServerError, Description: "Internal Server Error"}
}

// Slow answers normally after d.
func Slow(d time.Duration) Failure { return Failure{Delay: d} }

// Rate is at most N messages per Per. The zero Rate is no limit.
type Rate struct {
	N   int
	Per time.Duration
}

// PerSecond is n messages a second.
func PerSecond(n int) Rate { return Rate{N: n, Per: time.Second} }

// PerMinute is n messages a minute.
func PerMinute(n int) Rate { return Rate{N: n, Per: time.Minute} }

// Violation is one sendMessage refused with 429 because it broke a rate limit.
type Violation struct {
	ChatID     string
	Limit      string // "chat", "group" or "global"
	RetryAfter int    // seconds, as answered
	At         time.Time
}

// WebhookInfo is the webhook as last set with setWebhook.
type WebhookInfo struct {
	URL            string
	SecretToken    string
	AllowedUpdates []string
	MaxConnections int
}

// Option configures a Server.
type Option func(*Server)

// WithRateLimit answers sendMessage with 429 like Telegram when one chat gets
// more than perChat messages per perChatWindow, or all chats together more
// than global a second (0: no limit). Refused messages do not count.
func WithRateLimit(perChat int, perChatWindow time.Duration, global int) Option {
	return WithRates(Rate{N: perChat, Per: perChatWindow}, PerSecond(global))
}

// WithRates is WithRateLimit with any period for both limits; Telegram's
// published ones are WithRates(PerSecond(1), PerSecond(30)) with
// WithGroupRateLimit(PerMinute(20)).
func WithRates(perChat, global Rate) Option {
	return func(s *Server) { s.perChat, s.global = perChat, global }
}

// WithGroupRateLimit limits each group chat (negative chat id) on top of the
// per-chat limit, like Telegram's 20 messages a minute per group.
func WithGroupRateLimit(perGroup Rate) Option {
	return func(s *Server) { s.perGroup = perGroup }
}

// Server is the fake Bot API. All methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	done chan struct{} // closed at cleanup: slow answers stop waiting

	perChat, perGroup, global Rate

	mu         sync.Mutex
	calls      []Call
	sent       []SentMessage
	fail       []pendingFailure
	violations []Violation
	byChat     map[string][]time.Time
	byGroup    map[string][]time.Time
	recent     []time.Time
	nextID     int
	webhook    WebhookInfo
	onSend     func(SentMessage)
	changed    chan struct{} // closed and replaced on every successful send
}

type pendingFailure struct {
	method, chat string
	f            Failure
}

// New starts a fake server that is closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{
		done:    make(chan struct{}),
		byChat:  make(map[string][]time.Time),
		byGroup: make(map[string][]time.Time),
		changed: make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.done)
		s.srv.Close()
	})
	return s
}

// URL is the server's base URL (for GOCUA_TELEGRAM_API_URL or tgbot.WithServerURL).
func (s *Server) URL() string { return s.srv.URL }

// Token is the bot token the server accepts.
func (s *Server) Token() string { return Token }

// FailNext makes the next call of method (to chatID, or to any chat when
// chatID is empty) answer with f. Failures queue up and are used once each.
func (s *Server) FailNext(method, chatID string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, pendingFailure{method, chatID, f})
}

// OnSend registers a function called for every message sent, outside the
// server's lock and before the answer is written.
func (s *Server) OnSend(f func(SentMessage)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSend = f
}

// Calls returns every call so far, including refused ones.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
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
	return slices.Clone(s.sent)
}

// Violations counts the sends refused for breaking a rate limit.
func (s *Server) Violations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.violations)
}

// ViolationLog returns the sends refused for breaking a rate limit.
func (s *Server) ViolationLog() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Webhook returns the webhook as set by the last setWebhook (zero after
// deleteWebhook).
func (s *Server) Webhook() WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.webhook
	w.AllowedUpdates = slices.Clone(w.AllowedUpdates)
	return w
}

// WaitSent waits until at least n messages were sent and returns all of them,
// or returns what was sent with an error when ctx ends first.
func (s *Server) WaitSent(ctx context.Context, n int) ([]SentMessage, error) {
	for {
		s.mu.Lock()
		if len(s.sent) >= n {
			out := slices.Clone(s.sent)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			sent := s.Sent()
			return sent, fmt.Errorf("telegramtest: %d messages sent, want %d: %w", len(sent), n, ctx.Err())
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, _ := strings.Cut(rest, "/")
	if !ok || token != Token || method == "" {
		writeErr(w, Failure{Status: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: " + err.Error()})
		return
	}
	now := time.Now()
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Params: params, At: now})
	f, failed := s.takeFailureLocked(method, params["chat_id"])
	s.mu.Unlock()
	if failed {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			}
		}
		if f.Status != 0 {
			writeErr(w, f)
			return
		}
	}

	switch method {
	case "sendMessage":
		s.sendMessage(w, params, now)
	case "getMe":
		writeOK(w, map[string]any{"id": BotID, "is_bot": true, "first_name": "gocua", "username": "gocua_test_bot"})
	case "setWebhook":
		s.setWebhook(w, params)
	case "deleteWebhook":
		s.mu.Lock()
		s.webhook = WebhookInfo{}
		s.mu.Unlock()
		writeOK(w, true)
	case "getWebhookInfo":
		wh := s.Webhook()
		info := map[string]any{"url": wh.URL, "has_custom_certificate": false, "pending_update_count": 0}
		if wh.URL != "" {
			info["max_connections"] = wh.MaxConnections
			info["allowed_updates"] = wh.AllowedUpdates
		}
		writeOK(w, info)
	case "setMyCommands":
		var cmds []struct {
			Command     string `json:"command"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal([]byte(params["commands"]), &cmds); err != nil {
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: can't parse commands"})
			return
		}
		writeOK(w, true)
	case "editMessageReplyMarkup":
		kb, err := parseKeyboard(params["reply_markup"])
		if err != nil {
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: " + err.Error()})
			return
		}
		id, _ := strconv.Atoi(params["message_id"])
		writeOK(w, map[string]any{
			"message_id": id, "date": now.Unix(),
			"chat":         map[string]any{"id": atoi(params["chat_id"]), "type": chatType(params["chat_id"])},
			"reply_markup": map[string]any{"inline_keyboard": kb},
		})
	default: // answerCallbackQuery and anything else: recorded, ok
		writeOK(w, true)
	}
}

// takeFailureLocked removes and returns the first programmed failure that
// matches.
func (s *Server) takeFailureLocked(method, chat string) (Failure, bool) {
	for i, p := range s.fail {
		if p.method == method && (p.chat == "" || p.chat == chat) {
			s.fail = slices.Delete(s.fail, i, i+1)
			return p.f, true
		}
	}
	return Failure{}, false
}

func (s *Server) setWebhook(w http.ResponseWriter, p map[string]string) {
	info := WebhookInfo{URL: p["url"], SecretToken: p["secret_token"], MaxConnections: 40}
	if !strings.HasPrefix(info.URL, "https://") {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"})
		return
	}
	if v := p["allowed_updates"]; v != "" {
		if err := json.Unmarshal([]byte(v), &info.AllowedUpdates); err != nil {
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: can't parse allowed updates"})
			return
		}
	}
	if v := p["max_connections"]; v != "" {
		info.MaxConnections, _ = strconv.Atoi(v)
	}
	s.mu.Lock()
	s.webhook = info
	s.mu.Unlock()
	writeOK(w, true)
}

func (s *Server) sendMessage(w http.ResponseWriter, p map[string]string, now time.Time) {
	chat, text := p["chat_id"], p["text"]
	if chat == "" {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: chat_id is empty"})
		return
	}
	plain := text
	if strings.EqualFold(p["parse_mode"], "HTML") {
		var err error
		if plain, err = parseHTML(text); err != nil {
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: can't parse entities: " + err.Error()})
			return
		}
	}
	switch n := len(utf16.Encode([]rune(plain))); {
	case strings.TrimSpace(plain) == "":
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: message text is empty"})
		return
	case n > 4096:
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: message is too long"})
		return
	}
	kb, err := parseKeyboard(p["reply_markup"])
	if err != nil {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: " + err.Error()})
		return
	}

	s.mu.Lock()
	if v, limited := s.limitLocked(chat, now); limited {
		s.violations = append(s.violations, v)
		s.mu.Unlock()
		writeErr(w, TooManyRequests(v.RetryAfter))
		return
	}
	s.nextID++
	msg := SentMessage{ChatID: chat, Text: text, Plain: plain, ParseMode: p["parse_mode"], Keyboard: kb, MessageID: s.nextID, At: now}
	s.sent = append(s.sent, msg)
	onSend := s.onSend
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if onSend != nil {
		onSend(msg)
	}
	writeOK(w, map[string]any{
		"message_id": msg.MessageID, "date": now.Unix(), "text": plain,
		"chat": map[string]any{"id": atoi(chat), "type": chatType(chat)},
	})
}

// limitLocked applies the rate limits to one send at now. It records the send
// when it is allowed, and describes the violation when not.
func (s *Server) limitLocked(chat string, now time.Time) (Violation, bool) {
	isGroup := strings.HasPrefix(chat, "-")
	windows := []struct {
		name string
		rate Rate
		on   bool
		sent []time.Time
	}{
		{"chat", s.perChat, s.perChat.N > 0, s.byChat[chat]},
		{"group", s.perGroup, s.perGroup.N > 0 && isGroup, s.byGroup[chat]},
		{"global", s.global, s.global.N > 0, s.recent},
	}
	var v Violation
	limited := false
	for i := range windows {
		w := &windows[i]
		if !w.on {
			continue
		}
		w.sent = slices.DeleteFunc(w.sent, func(t time.Time) bool { return now.Sub(t) >= w.rate.Per })
		if !limited && len(w.sent) >= w.rate.N {
			wait := w.rate.Per - now.Sub(w.sent[0])
			v = Violation{ChatID: chat, Limit: w.name, RetryAfter: max(1, int((wait+time.Second-1)/time.Second)), At: now}
			limited = true
		}
	}
	for i := range windows {
		if windows[i].on && !limited {
			windows[i].sent = append(windows[i].sent, now)
		}
	}
	if windows[0].on {
		s.byChat[chat] = windows[0].sent
	}
	if windows[1].on {
		s.byGroup[chat] = windows[1].sent
	}
	if windows[2].on {
		s.recent = windows[2].sent
	}
	return v, limited
}

// parseKeyboard reads an inline keyboard from reply_markup JSON and checks
// its buttons like Telegram.
func parseKeyboard(markup string) ([][]Btn, error) {
	if markup == "" {
		return nil, nil
	}
	var kb struct {
		InlineKeyboard [][]Btn `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(markup), &kb); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			switch {
			case b.Text == "":
				return nil, fmt.Errorf("BUTTON_TEXT_EMPTY")
			case b.URL != "" && b.CallbackData != "":
				return nil, fmt.Errorf("BUTTON_TYPE_INVALID")
			case b.URL == "" && (b.CallbackData == "" || len(b.CallbackData) > 64):
				return nil, fmt.Errorf("BUTTON_DATA_INVALID")
			}
		}
	}
	return kb.InlineKeyboard, nil
}

func atoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func chatType(chat string) string {
	if strings.HasPrefix(chat, "-") {
		return "supergroup"
	}
	return "private"
}

// readParams reads a Bot API call's parameters from a multipart, JSON or
// url-encoded body, plus the query string.
func readParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		// A method without parameters arrives as an empty body, with no
		// closing boundary: no parameters, not an error.
		err := r.ParseMultipartForm(10 << 20)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if r.MultipartForm != nil {
			for k, v := range r.MultipartForm.Value {
				out[k] = v[0]
			}
		}
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if len(body) > 0 {
			if err := json.Unmarshal(body, &m); err != nil {
				return nil, err
			}
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				out[k] = str
				continue
			}
			out[k] = string(raw)
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range r.PostForm {
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
