// Package zalotest is a fake Zalo Bot Platform API server for tests. It
// speaks the Bot API's wire format (POST /bot<token>/<method>, parameters as
// JSON, a form or the query string; answers {ok, result} or {ok:false,
// error_code, description}), records every call, checks messages the way
// Zalo does (text and caption 1 to 2000 characters, counted here in UTF-16
// units, which is never more lenient; a photo by http(s) address), and fails
// on demand: HTTP 429 "Quota exceeded", ok:false with any error_code on
// HTTP 200, HTTP 5xx.
//
// It serves getMe, sendMessage, sendPhoto, sendChatAction, setWebhook,
// getWebhookInfo and deleteWebhook. A wrong token is answered 401, an
// unknown method 400 ("bad method name"), both ok:false like Zalo. Like
// Zalo, sendPhoto fetches the photo's address — twice, as Zalo may — before
// answering, and records what each fetch got, so a test can check the
// address stays valid. Photos for inbound image events are served at
// /photos/<name> (SetPhoto). updates.go builds and posts webhook bodies.
//
// Validation failures are answered on HTTP 200 with ok:false (the
// documented "HTTP 200 does not mean success"); the token refusal on HTTP
// 401.
package zalotest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// Token is the bot token the fake server accepts.
const Token = "2718281828459045235:zalo-TEST_token-xYz"

// BotID is the bot's id as getMe gives it.
const BotID = "1459232241454765289"

// MaxText is Zalo's limit for a text or a caption.
const MaxText = 2000

// PhotoFetches is how many times sendPhoto fetches a photo's address.
const PhotoFetches = 2

// maxPhoto is the largest photo a fetch reads, in bytes.
const maxPhoto = 20 << 20

// Call is one recorded API call: its method, the parameters tests look at
// most, all parameters as strings (JSON values other than strings as JSON
// text), and how it was answered.
type Call struct {
	Method  string
	ChatID  string
	Text    string
	Photo   string
	Caption string
	Action  string
	Params  map[string]string
	Status  int  // HTTP status answered
	OK      bool // whether the answer was ok:true
	At      time.Time
}

// Fetch is what one fetch of a photo's address got.
type Fetch struct {
	Status int    // HTTP status; 0 when the request failed
	MIME   string // Content-Type answered
	Data   []byte
	Err    string // the request's error, if any
}

// SentMessage is one successful sendMessage or sendPhoto.
type SentMessage struct {
	Method    string // "sendMessage" or "sendPhoto"
	ChatID    string
	Text      string // sendMessage's text
	Photo     string // sendPhoto's address
	Caption   string
	MessageID string
	Date      int64   // epoch milliseconds, as Zalo answers
	Fetches   []Fetch // sendPhoto: each fetch of the address, in order
	At        time.Time
}

// Failure is a programmed answer for one call.
type Failure struct {
	HTTPStatus  int    // the HTTP status (0: 200)
	ErrorCode   int    // error_code of the ok:false body (0: none)
	Description string // description of the body
	RetryAfter  int    // a Retry-After header, in seconds (0: none)
	Body        string // when set, the body as it is instead of JSON
	Delay       time.Duration
}

// QuotaExceeded is Zalo's 429 ("Quota exceeded"), on HTTP 429.
func QuotaExceeded() Failure {
	return Failure{HTTPStatus: http.StatusTooManyRequests, ErrorCode: 429, Description: "Quota exceeded"}
}

// NotOK is ok:false with code on HTTP 200, as Zalo answers most refusals.
func NotOK(code int, description string) Failure {
	return Failure{ErrorCode: code, Description: description}
}

// ServerError is an HTTP status (a 5xx) with a body that is not the API's,
// as a proxy in front of Zalo answers.
func ServerError(status int) Failure {
	return Failure{HTTPStatus: status, Body: "<html>" + http.StatusText(status) + "</html>"}
}

// Slow answers normally after d.
func Slow(d time.Duration) Failure { return Failure{Delay: d} }

// WebhookInfo is the webhook as last set with setWebhook.
type WebhookInfo struct {
	URL         string
	SecretToken string
}

// Option configures a Server.
type Option func(*Server)

// WithFetchClient sets the client sendPhoto fetches photos with (default:
// a plain client with a 10 s timeout).
func WithFetchClient(c *http.Client) Option { return func(s *Server) { s.fetchc = c } }

// Server is the fake Bot Platform API. All methods are safe for concurrent
// use.
type Server struct {
	srv    *httptest.Server
	fetchc *http.Client
	done   chan struct{}

	mu      sync.Mutex
	calls   []Call
	sent    []SentMessage
	fail    []pendingFailure
	webhook WebhookInfo
	photos  map[string]photo
	lastID  int
	changed chan struct{} // closed and replaced on every successful send
}

type photo struct {
	data []byte
	mime string
}

type pendingFailure struct {
	method string
	skip   int // calls of method to let through first
	n      int
	f      Failure
}

// New starts a fake server that is closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{
		fetchc:  &http.Client{Timeout: 10 * time.Second},
		done:    make(chan struct{}),
		photos:  make(map[string]photo),
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

// URL is the server's base URL (Config.APIURL).
func (s *Server) URL() string { return s.srv.URL }

// Token is the bot token the server accepts.
func (s *Server) Token() string { return Token }

// SetPhoto serves data as mime at PhotoURL(name), like a photo on Zalo's
// CDN that an image event points to.
func (s *Server) SetPhoto(name string, data []byte, mime string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.photos[name] = photo{data: slices.Clone(data), mime: mime}
}

// PhotoURL is the address of a photo set with SetPhoto.
func (s *Server) PhotoURL(name string) string { return s.srv.URL + "/photos/" + url.PathEscape(name) }

// FailNext makes the next n calls of method (at least one) answer with f.
// Failures queue up per method, in order.
func (s *Server) FailNext(method string, n int, f Failure) {
	n = max(n, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, pendingFailure{method: method, n: n, f: f})
}

// FailAfter lets the next skip calls of method through, then makes the n
// after them (at least one) answer with f: a long message failing half
// way.
func (s *Server) FailAfter(method string, skip, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, pendingFailure{method: method, skip: max(skip, 0), n: max(n, 1), f: f})
}

// SetWebhookURL registers a webhook as if setWebhook had been called
// elsewhere ("" for none).
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = WebhookInfo{URL: u}
}

// Webhook returns the webhook as set by the last setWebhook (zero after
// deleteWebhook).
func (s *Server) Webhook() WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook
}

// Calls returns every call so far, refused ones (a wrong token included)
// too, in the order received.
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

// Sent returns the messages successfully sent to chatID ("" for every
// chat), in the order received.
func (s *Server) Sent(chatID string) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SentMessage
	for _, m := range s.sent {
		if chatID == "" || m.ChatID == chatID {
			m.Fetches = slices.Clone(m.Fetches)
			out = append(out, m)
		}
	}
	return out
}

// WaitSent waits until at least n messages were sent (to any chat) and
// returns them, or what was sent with an error when ctx ends first.
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
			sent := s.Sent("")
			return sent, fmt.Errorf("zalotest: %d messages sent, want %d: %w", len(sent), n, ctx.Err())
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, "/photos/"); ok {
		s.servePhoto(w, r, name)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, _ := strings.Cut(rest, "/")
	params, err := readParams(r)
	now := time.Now()
	call := Call{Method: method, Params: params, At: now,
		ChatID: params["chat_id"], Text: params["text"], Photo: params["photo"], Caption: params["caption"], Action: params["action"]}
	if !ok || token != Token || method == "" {
		s.record(call, http.StatusUnauthorized, false)
		writeFailure(w, Failure{HTTPStatus: http.StatusUnauthorized, ErrorCode: 401, Description: "Unauthorized"})
		return
	}
	if err != nil {
		s.record(call, http.StatusBadRequest, false)
		writeFailure(w, NotOK(400, "Bad Request: "+err.Error()))
		return
	}
	if f, failed := s.takeFailure(method); failed {
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
		if f.HTTPStatus != 0 || f.ErrorCode != 0 || f.Body != "" {
			s.record(call, statusOf(f), false)
			writeFailure(w, f)
			return
		}
	}
	status, ok, result := s.dispatch(r.Context(), method, params, now)
	s.record(call, status, ok)
	if !ok {
		writeFailure(w, result.(Failure))
		return
	}
	writeOK(w, result)
}

// dispatch runs one method: ok with its result, or the Failure to answer.
func (s *Server) dispatch(ctx context.Context, method string, p map[string]string, now time.Time) (int, bool, any) {
	refuse := func(desc string) (int, bool, any) { return http.StatusOK, false, NotOK(400, desc) }
	switch method {
	case "getMe":
		return http.StatusOK, true, map[string]any{"id": BotID, "account_name": "bot.gocuaTest", "account_type": "BASIC", "can_join_groups": false}
	case "sendMessage":
		chat, text := p["chat_id"], p["text"]
		switch n := units(text); {
		case chat == "":
			return refuse("Bad Request: chat_id is required")
		case strings.TrimSpace(text) == "":
			return refuse("Bad Request: text is required")
		case n > MaxText:
			return refuse(fmt.Sprintf("Bad Request: text is %d characters, over %d", n, MaxText))
		}
		m := s.addSent(SentMessage{Method: method, ChatID: chat, Text: text, At: now})
		return http.StatusOK, true, map[string]any{"message_id": m.MessageID, "date": m.Date}
	case "sendPhoto":
		chat, addr, caption := p["chat_id"], p["photo"], p["caption"]
		u, err := url.Parse(addr)
		switch {
		case chat == "":
			return refuse("Bad Request: chat_id is required")
		case addr == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return refuse("Bad Request: photo must be an http(s) address")
		case units(caption) > MaxText:
			return refuse(fmt.Sprintf("Bad Request: caption is %d characters, over %d", units(caption), MaxText))
		}
		fetches := make([]Fetch, PhotoFetches)
		for i := range fetches {
			fetches[i] = s.fetch(ctx, addr)
		}
		m := s.addSent(SentMessage{Method: method, ChatID: chat, Photo: addr, Caption: caption, Fetches: fetches, At: now})
		return http.StatusOK, true, map[string]any{"message_id": m.MessageID, "date": m.Date}
	case "sendChatAction":
		if p["chat_id"] == "" || p["action"] != "typing" {
			return refuse("Bad Request: chat_id and action typing are required")
		}
		return http.StatusOK, true, nil
	case "setWebhook":
		hook, sec := p["url"], p["secret_token"]
		switch n := len([]rune(sec)); {
		case !strings.HasPrefix(hook, "https://"):
			return refuse("Bad Request: url must be https")
		case n < 8 || n > 256:
			return refuse("Bad Request: secret_token must be 8 to 256 characters")
		}
		s.mu.Lock()
		s.webhook = WebhookInfo{URL: hook, SecretToken: sec}
		s.mu.Unlock()
		return http.StatusOK, true, map[string]any{"url": hook, "updated_at": now.UnixMilli()}
	case "getWebhookInfo":
		return http.StatusOK, true, map[string]any{"url": s.Webhook().URL, "updated_at": now.UnixMilli()}
	case "deleteWebhook":
		s.mu.Lock()
		s.webhook = WebhookInfo{}
		s.mu.Unlock()
		return http.StatusOK, true, map[string]any{"url": "", "updated_at": now.UnixMilli()}
	}
	return refuse("Bad Request: bad method name")
}

func (s *Server) addSent(m SentMessage) SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	m.MessageID = fmt.Sprintf("82599fa32f56%08x", s.lastID)
	m.Date = m.At.UnixMilli()
	s.sent = append(s.sent, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return m
}

func (s *Server) record(c Call, status int, ok bool) {
	c.Status, c.OK = status, ok
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// takeFailure uses up one programmed failure of method, if any.
func (s *Server) takeFailure(method string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.fail {
		p := &s.fail[i]
		if p.method == method && p.skip > 0 {
			p.skip--
			return Failure{}, false
		}
		if p.method == method && p.n > 0 {
			p.n--
			f := p.f
			if p.n == 0 {
				s.fail = slices.Delete(s.fail, i, i+1)
			}
			return f, true
		}
	}
	return Failure{}, false
}

// fetch GETs a photo's address as Zalo does when it sends a photo.
func (s *Server) fetch(ctx context.Context, addr string) Fetch {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return Fetch{Err: err.Error()}
	}
	req.Header.Set("User-Agent", "zalotest-photo-fetcher")
	resp, err := s.fetchc.Do(req)
	if err != nil {
		return Fetch{Err: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPhoto))
	f := Fetch{Status: resp.StatusCode, MIME: resp.Header.Get("Content-Type"), Data: data}
	if err != nil {
		f.Err = err.Error()
	}
	return f
}

func (s *Server) servePhoto(w http.ResponseWriter, r *http.Request, name string) {
	name, _ = url.PathUnescape(name)
	s.mu.Lock()
	p, ok := s.photos[name]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if p.mime != "" {
		w.Header().Set("Content-Type", p.mime)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(p.data)))
	_, _ = w.Write(p.data)
}

// units counts text as UTF-16 code units.
func units(s string) int { return len(utf16.Encode([]rune(s))) }

func statusOf(f Failure) int {
	if f.HTTPStatus == 0 {
		return http.StatusOK
	}
	return f.HTTPStatus
}

// readParams reads a call's parameters from a JSON, url-encoded or
// multipart body, plus the query string.
func readParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return out, err
		}
		var m map[string]json.RawMessage
		if len(body) > 0 {
			if err := json.Unmarshal(body, &m); err != nil {
				return out, fmt.Errorf("body is not a JSON object")
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
	case "multipart/form-data":
		if err := r.ParseMultipartForm(10 << 20); err != nil {
			return out, err
		}
		for k, v := range r.MultipartForm.Value {
			out[k] = v[0]
		}
	default:
		if err := r.ParseForm(); err != nil {
			return out, err
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
	body := map[string]any{"ok": true}
	if result != nil {
		body["result"] = result
	}
	_ = json.NewEncoder(w).Encode(body)
}

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(statusOf(f))
		_, _ = io.WriteString(w, f.Body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(statusOf(f))
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": f.ErrorCode, "description": f.Description})
}
