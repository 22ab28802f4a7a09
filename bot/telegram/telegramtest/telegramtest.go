// Package telegramtest is a fake Telegram Bot API server for tests. It
// speaks the wire format go-telegram/bot uses (every method as
// multipart/form-data, uploads included; JSON and url-encoded bodies work
// too), records every call, checks messages the way Telegram does (HTML
// entities, 4096 UTF-16 units, 1024 for captions, 64-byte callback data, 200
// characters for a tap's answer), and fails like Telegram on demand: 429 with
// retry_after, 403 "blocked", 500, slow answers, and rate limits per chat,
// per group and overall.
//
// Besides sendMessage it serves sendPhoto, sendDocument, sendVoice,
// sendAudio and sendVideo (recorded in Sent with their Method and File),
// editMessageText (Edits), answerCallbackQuery (Answers), and getFile with
// the file download path for files a test registers with AddFile.
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
	"unicode/utf8"
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
	// ContentType is the body's media type (multipart/form-data,
	// application/json, …); Length its Content-Length (-1: chunked).
	ContentType string
	Length      int64
}

// Btn is one inline keyboard button as received (copy_text is ignored).
type Btn struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// SentMessage is one successful send: a sendMessage, or a media message
// (sendPhoto, sendDocument…) whose Text is its caption and File its file.
type SentMessage struct {
	Method    string // "sendMessage", "sendPhoto", …
	ChatID    string
	Text      string // as sent (HTML when ParseMode is HTML); a media message's caption
	Plain     string // after entity parsing: what the resident reads
	ParseMode string
	Keyboard  [][]Btn
	// ReplyKeyboard is a reply keyboard sent instead of inline buttons:
	// its buttons, or Removed when the message takes it away.
	ReplyKeyboard *ReplyKeyboard
	MessageID     int // increasing per chat, from 1, as Telegram's
	File          *SentFile
	At            time.Time
}

// SentFile is the file of a media message: a file_id that was sent, or an
// upload (Name, Size and Data of the bytes received).
type SentFile struct {
	FileID   string // the file_id sent, or the one given to an upload
	Uploaded bool
	Name     string // an upload's file name
	Size     int
	Data     []byte
}

// Edit is one successful editMessageText.
type Edit struct {
	ChatID    string
	MessageID int
	Text      string
	Plain     string
	ParseMode string
	Keyboard  [][]Btn
	At        time.Time
}

// Answer is one successful answerCallbackQuery.
type Answer struct {
	CallbackQueryID string
	Text            string
	ShowAlert       bool
	At              time.Time
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

// Violation is one send or edit refused with 429 because it broke a rate
// limit.
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
// per-chat limit, like Telegram's 20 messages a minute per group. Every send
// and every edit to the group counts, as it does for Telegram.
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
	edits      []Edit
	answers    []Answer
	fail       []pendingFailure
	violations []Violation
	byChat     map[string][]time.Time
	byGroup    map[string][]time.Time
	recent     []time.Time
	lastID     map[string]int                // last message id per chat
	messages   map[string]map[int]*storedMsg // what each chat's messages hold now
	files      map[string][]byte             // by file_id
	paths      map[string]string             // file_path → file_id
	uploads    int
	webhook    WebhookInfo
	onSend     func(SentMessage)
	changed    chan struct{} // closed and replaced on every successful send
}

// storedMsg is a sent message as it is now, to edit it.
type storedMsg struct {
	text   string // "" for a media message: it has no text to edit
	markup string // canonical keyboard JSON
}

type pendingFailure struct {
	method, chat string
	f            Failure
}

// New starts a fake server that is closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{
		done:     make(chan struct{}),
		byChat:   make(map[string][]time.Time),
		byGroup:  make(map[string][]time.Time),
		lastID:   make(map[string]int),
		messages: make(map[string]map[int]*storedMsg),
		files:    make(map[string][]byte),
		paths:    make(map[string]string),
		changed:  make(chan struct{}),
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

// Edits returns the successful editMessageText calls, in order.
func (s *Server) Edits() []Edit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.edits)
}

// Answers returns the successful answerCallbackQuery calls, in order.
func (s *Server) Answers() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answers)
}

// MediaSent returns the media messages successfully sent (Sent without the
// sendMessage ones).
func (s *Server) MediaSent() []SentMessage {
	var out []SentMessage
	for _, m := range s.Sent() {
		if m.File != nil {
			out = append(out, m)
		}
	}
	return out
}

// AddFile registers a file Telegram keeps, for getFile and its download
// (and as a file_id a media message may send).
func (s *Server) AddFile(fileID string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addFileLocked(fileID, data)
}

func (s *Server) addFileLocked(fileID string, data []byte) {
	s.files[fileID] = slices.Clone(data)
	s.paths["files/"+fileID] = fileID
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
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.download(w, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, _ := strings.Cut(rest, "/")
	if !ok || token != Token || method == "" {
		writeErr(w, Failure{Status: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	params, files, err := readParams(r)
	if err != nil {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: " + err.Error()})
		return
	}
	now := time.Now()
	s.mu.Lock()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	s.calls = append(s.calls, Call{Method: method, Params: params, At: now, ContentType: ct, Length: r.ContentLength})
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
	case "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo":
		s.sendMedia(w, method, params, files, now)
	case "editMessageText":
		s.editMessageText(w, params, now)
	case "answerCallbackQuery":
		s.answerCallbackQuery(w, params, now)
	case "getFile":
		s.getFile(w, params)
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
		chat := params["chat_id"]
		s.mu.Lock()
		if v, limited := s.limitLocked(chat, now, true); limited {
			s.violations = append(s.violations, v)
			s.mu.Unlock()
			writeErr(w, TooManyRequests(v.RetryAfter))
			return
		}
		if m := s.messages[chat][id]; m != nil {
			m.markup = canonicalMarkup(kb)
		}
		s.mu.Unlock()
		writeOK(w, map[string]any{
			"message_id": id, "date": now.Unix(),
			"chat":         map[string]any{"id": atoi(params["chat_id"]), "type": chatType(params["chat_id"])},
			"reply_markup": map[string]any{"inline_keyboard": kb},
		})
	default: // anything else: recorded, ok
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

	msg := SentMessage{Method: "sendMessage", ChatID: chat, Text: text, Plain: plain, ParseMode: p["parse_mode"], Keyboard: kb,
		ReplyKeyboard: parseReplyKeyboard(p["reply_markup"]), At: now}
	msg, ok := s.recordSend(w, msg, &storedMsg{text: text, markup: canonicalMarkup(kb)})
	if !ok {
		return
	}
	writeOK(w, map[string]any{
		"message_id": msg.MessageID, "date": now.Unix(), "text": plain,
		"chat": map[string]any{"id": atoi(chat), "type": chatType(chat)},
	})
}

// recordSend applies the rate limits to a send and, when it is allowed,
// gives it the chat's next message id and records it. It has answered 429
// when ok is false.
func (s *Server) recordSend(w http.ResponseWriter, msg SentMessage, stored *storedMsg) (SentMessage, bool) {
	s.mu.Lock()
	if v, limited := s.limitLocked(msg.ChatID, msg.At, false); limited {
		s.violations = append(s.violations, v)
		s.mu.Unlock()
		writeErr(w, TooManyRequests(v.RetryAfter))
		return msg, false
	}
	s.lastID[msg.ChatID]++
	msg.MessageID = s.lastID[msg.ChatID]
	if s.messages[msg.ChatID] == nil {
		s.messages[msg.ChatID] = make(map[int]*storedMsg)
	}
	s.messages[msg.ChatID][msg.MessageID] = stored
	s.sent = append(s.sent, msg)
	onSend := s.onSend
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if onSend != nil {
		onSend(msg)
	}
	return msg, true
}

// mediaField is the parameter that carries each media method's file.
var mediaField = map[string]string{
	"sendPhoto": "photo", "sendDocument": "document", "sendVoice": "voice",
	"sendAudio": "audio", "sendVideo": "video",
}

// sendMedia is sendPhoto, sendDocument, sendVoice, sendAudio and sendVideo:
// a file_id or an uploaded file, with an optional caption of at most 1024
// UTF-16 units after entity parsing.
func (s *Server) sendMedia(w http.ResponseWriter, method string, p map[string]string, files map[string]upload, now time.Time) {
	chat, caption, field := p["chat_id"], p["caption"], mediaField[method]
	if chat == "" {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: chat_id is empty"})
		return
	}
	plain := caption
	if strings.EqualFold(p["parse_mode"], "HTML") {
		var err error
		if plain, err = parseHTML(caption); err != nil {
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: can't parse entities: " + err.Error()})
			return
		}
	}
	if len(utf16.Encode([]rune(plain))) > 1024 {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: message caption is too long"})
		return
	}
	kb, err := parseKeyboard(p["reply_markup"])
	if err != nil {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: " + err.Error()})
		return
	}
	var f SentFile
	if up, ok := files[field]; ok {
		if len(up.data) == 0 {
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: file must be non-empty"})
			return
		}
		f = SentFile{Uploaded: true, Name: up.name, Size: len(up.data), Data: up.data}
	} else {
		id := p[field]
		switch {
		case id == "":
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: there is no " + field + " in the request"})
			return
		case !validFileID(id):
			writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: wrong file identifier/HTTP URL specified"})
			return
		}
		s.mu.Lock()
		data := s.files[id]
		s.mu.Unlock()
		f = SentFile{FileID: id, Size: len(data), Data: slices.Clone(data)}
	}
	if f.Uploaded {
		s.mu.Lock()
		s.uploads++
		f.FileID = "upload-" + strconv.Itoa(s.uploads)
		s.addFileLocked(f.FileID, f.Data)
		s.mu.Unlock()
	}
	msg := SentMessage{Method: method, ChatID: chat, Text: caption, Plain: plain, ParseMode: p["parse_mode"], Keyboard: kb, File: &f, At: now}
	msg, ok := s.recordSend(w, msg, &storedMsg{markup: canonicalMarkup(kb)})
	if !ok {
		return
	}
	desc := map[string]any{"file_id": f.FileID, "file_unique_id": "u" + f.FileID, "file_size": f.Size}
	var media any = desc
	switch field {
	case "photo":
		desc["width"], desc["height"] = 1, 1
		media = []any{desc}
	case "video":
		desc["width"], desc["height"], desc["duration"] = 1, 1, 1
	case "voice", "audio":
		desc["duration"] = 1
	}
	res := map[string]any{
		"message_id": msg.MessageID, "date": now.Unix(), field: media,
		"chat": map[string]any{"id": atoi(chat), "type": chatType(chat)},
	}
	if plain != "" {
		res["caption"] = plain
	}
	writeOK(w, res)
}

// editMessageText replaces a sent message's text and keyboard, refusing like
// Telegram an unknown message, a media message and an edit that changes
// nothing.
func (s *Server) editMessageText(w http.ResponseWriter, p map[string]string, now time.Time) {
	chat, text := p["chat_id"], p["text"]
	id, err := strconv.Atoi(p["message_id"])
	if chat == "" || err != nil {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: message identifier is not specified"})
		return
	}
	plain := text
	if strings.EqualFold(p["parse_mode"], "HTML") {
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
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: MESSAGE_TOO_LONG"})
		return
	}
	kb, err := parseKeyboard(p["reply_markup"])
	if err != nil {
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: " + err.Error()})
		return
	}
	markup := canonicalMarkup(kb)
	s.mu.Lock()
	m := s.messages[chat][id]
	var refuse string
	switch {
	case m == nil:
		refuse = "Bad Request: message to edit not found"
	case m.text == "":
		refuse = "Bad Request: there is no text in the message to edit"
	case m.text == text && m.markup == markup:
		refuse = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
	}
	if refuse != "" {
		s.mu.Unlock()
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: refuse})
		return
	}
	if v, limited := s.limitLocked(chat, now, true); limited {
		s.violations = append(s.violations, v)
		s.mu.Unlock()
		writeErr(w, TooManyRequests(v.RetryAfter))
		return
	}
	m.text, m.markup = text, markup
	s.edits = append(s.edits, Edit{ChatID: chat, MessageID: id, Text: text, Plain: plain, ParseMode: p["parse_mode"], Keyboard: kb, At: now})
	s.mu.Unlock()
	writeOK(w, map[string]any{
		"message_id": id, "date": now.Unix(), "edit_date": now.Unix(), "text": plain,
		"chat": map[string]any{"id": atoi(chat), "type": chatType(chat)},
	})
}

// answerCallbackQuery records a tap's answer; its text is at most 200
// characters (counted here in UTF-16 units).
func (s *Server) answerCallbackQuery(w http.ResponseWriter, p map[string]string, now time.Time) {
	a := Answer{CallbackQueryID: p["callback_query_id"], Text: p["text"], ShowAlert: p["show_alert"] == "true", At: now}
	switch {
	case a.CallbackQueryID == "":
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: query is too old and response timeout expired or query ID is invalid"})
		return
	case len(utf16.Encode([]rune(a.Text))) > 200 || !utf8.ValidString(a.Text):
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: MESSAGE_TOO_LONG"})
		return
	}
	s.mu.Lock()
	s.answers = append(s.answers, a)
	s.mu.Unlock()
	writeOK(w, true)
}

// maxDownload is the largest file the Bot API lets a bot download.
const maxDownload = 20 << 20

// getFile describes a file registered with AddFile (or uploaded).
func (s *Server) getFile(w http.ResponseWriter, p map[string]string) {
	id := p["file_id"]
	s.mu.Lock()
	data, ok := s.files[id]
	s.mu.Unlock()
	switch {
	case !ok:
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: invalid file_id"})
		return
	case len(data) > maxDownload:
		writeErr(w, Failure{Status: http.StatusBadRequest, Description: "Bad Request: file is too big"})
		return
	}
	writeOK(w, map[string]any{"file_id": id, "file_unique_id": "u" + id, "file_size": len(data), "file_path": "files/" + id})
}

// download serves GET /file/bot<token>/<file_path>.
func (s *Server) download(w http.ResponseWriter, rest string) {
	token, path, _ := strings.Cut(rest, "/")
	if token != Token {
		http.Error(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	id, ok := s.paths[path]
	data := s.files[id]
	s.mu.Unlock()
	if !ok {
		http.Error(w, `{"ok":false,"error_code":404,"description":"Not Found"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// validFileID reports whether id could be a Telegram file_id (URL-safe
// base64): a "telegram:" prefix or a path is refused like a wrong id.
func validFileID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return id != ""
}

// canonicalMarkup is a keyboard as comparable JSON ("" for none).
func canonicalMarkup(kb [][]Btn) string {
	if len(kb) == 0 {
		return ""
	}
	b, _ := json.Marshal(kb)
	return string(b)
}

// limitLocked applies the rate limits to one send (or, when edit is true,
// one edit, which counts only against the group limit) at now. It records
// the call when it is allowed, and describes the violation when not.
func (s *Server) limitLocked(chat string, now time.Time, edit bool) (Violation, bool) {
	isGroup := strings.HasPrefix(chat, "-")
	windows := []struct {
		name string
		rate Rate
		on   bool
		sent []time.Time
	}{
		{"chat", s.perChat, s.perChat.N > 0 && !edit, s.byChat[chat]},
		{"group", s.perGroup, s.perGroup.N > 0 && isGroup, s.byGroup[chat]},
		{"global", s.global, s.global.N > 0 && !edit, s.recent},
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

// ReplyKeyboard is a reply keyboard (keyboard buttons under the input
// field) or its removal.
type ReplyKeyboard struct {
	Buttons [][]KeyButton
	Removed bool
}

// KeyButton is one reply keyboard button.
type KeyButton struct {
	Text           string `json:"text"`
	RequestContact bool   `json:"request_contact"`
}

func parseReplyKeyboard(markup string) *ReplyKeyboard {
	var kb struct {
		Keyboard       [][]KeyButton `json:"keyboard"`
		RemoveKeyboard bool          `json:"remove_keyboard"`
	}
	if markup == "" || json.Unmarshal([]byte(markup), &kb) != nil || (kb.Keyboard == nil && !kb.RemoveKeyboard) {
		return nil
	}
	return &ReplyKeyboard{Buttons: kb.Keyboard, Removed: kb.RemoveKeyboard}
}

func atoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func chatType(chat string) string {
	if strings.HasPrefix(chat, "-") {
		return "supergroup"
	}
	return "private"
}

// upload is a file part of a multipart call.
type upload struct {
	name string
	data []byte
}

// readParams reads a Bot API call's parameters from a multipart, JSON or
// url-encoded body, plus the query string, and a multipart body's files.
func readParams(r *http.Request) (map[string]string, map[string]upload, error) {
	out := map[string]string{}
	files := map[string]upload{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		// A method without parameters arrives as an empty body, with no
		// closing boundary: no parameters, not an error.
		err := r.ParseMultipartForm(10 << 20)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
		if r.MultipartForm != nil {
			for k, v := range r.MultipartForm.Value {
				out[k] = v[0]
			}
			for k, v := range r.MultipartForm.File {
				f, err := v[0].Open()
				if err != nil {
					return nil, nil, err
				}
				data, err := io.ReadAll(f)
				f.Close()
				if err != nil {
					return nil, nil, err
				}
				files[k] = upload{name: v[0].Filename, data: data}
			}
		}
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return nil, nil, err
		}
		var m map[string]json.RawMessage
		if len(body) > 0 {
			if err := json.Unmarshal(body, &m); err != nil {
				return nil, nil, err
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
			return nil, nil, err
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
	return out, files, nil
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
