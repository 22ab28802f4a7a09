// Package oatest is a fake Zalo Official Account platform for tests: the
// OpenAPI endpoints gocua calls and the OAuth token endpoint, in one
// httptest server, plus signed webhook events (events.go).
//
// It behaves like Zalo where gocua depends on it: every OpenAPI call must
// carry the current access token in an access_token header (else error
// -216); refresh tokens are single-use and rotate, and a refresh kills the
// previous access token at once; answers are HTTP 200 with
// {"error": code, "message": …, "data": …}. It checks messages the way
// gocua expects Zalo to (text ≤ 2000 characters, ≤ 5 buttons, titles ≤ 100
// characters, known attachment ids, JPEG or PNG uploads ≤ 1 MiB), records
// everything, and fails on demand: queued error codes for the next calls,
// per-user errors, HTTP errors, expired access tokens and attachments,
// refused or failing refreshes, slow refreshes. It also serves files at
// /files/<name>, for the attachment URLs of inbound events.
package oatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

// The app and OA the server plays. Ids are 19 digits, as Zalo's are: more
// than float64 holds exactly.
const (
	AppID        = "3608465249409039671"
	AppSecret    = "app-secret-key-for-oauth"      // the secret_key header of OAuth calls
	SecretKey    = "oa-secret-key-for-the-webhook" // the OA secret key, for webhook MACs
	OAID         = "3886132808788086451"
	RefreshToken = "seed-refresh-token"
)

// OpenAPI and OAuth paths served.
const (
	PathCS     = "/v3.0/oa/message/cs"
	PathUpload = "/v2.0/oa/upload/image"
	PathToken  = "/v4/oa/access_token"
)

// Zalo's limits as the server checks them.
const (
	MaxText        = 2000
	MaxButtons     = 5
	MaxButtonTitle = 100
	MaxPayload     = 1000
	MaxImage       = 1 << 20
)

// Call is one request to an OpenAPI or OAuth path, refused or not.
type Call struct {
	Path   string
	Header http.Header
	Code   int // the Zalo error answered (0: success)
	HTTP   int // the HTTP status answered
	At     time.Time
}

// Button is one button of a sent message.
type Button struct {
	Title   string
	Type    string // "oa.query.hide", "oa.open.url", …
	Payload string // a query button's payload
	URL     string // a link button's address
}

// SentMessage is one cs message the server accepted.
type SentMessage struct {
	UserID       string
	Text         string
	Buttons      []Button
	AttachmentID string // a media message's image
	Image        []byte // its bytes, as uploaded
	MessageID    string
	At           time.Time
}

// Upload is one image the server accepted.
type Upload struct {
	AttachmentID string
	Name         string
	ContentType  string // the part's header
	Data         []byte
}

// RefreshFailure is a programmed answer to the next refresh call.
type RefreshFailure int

const (
	// RefreshServerError answers HTTP 502: transient, nothing rotates.
	RefreshServerError RefreshFailure = iota + 1
	// RefreshRateLimited answers error -32: transient, nothing rotates.
	RefreshRateLimited
	// RefreshRefused refuses the refresh token as Zalo does an invalid one.
	RefreshRefused
)

// Server is the fake platform. All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu           sync.Mutex
	access       string // the access token that works now ("" none)
	refresh      string // the refresh token that works now
	pairs        int
	refreshes    int // successful refreshes
	expiresIn    any
	refreshDelay time.Duration
	failRefresh  []RefreshFailure
	calls        []Call
	sent         []SentMessage
	uploads      []Upload
	images       map[string][]byte // attachment id → bytes
	expired      map[string]bool
	failCS       []int
	failHTTP     []int
	failUpload   []int
	userCodes    map[string]int
	files        map[string]file
	changed      chan struct{}
}

type file struct {
	contentType string
	data        []byte
}

// New starts a server that is closed when the test ends. Its refresh
// token is RefreshToken; no access token works until the first refresh.
func New(t testing.TB) *Server {
	s := &Server{
		refresh:   RefreshToken,
		expiresIn: "90000",
		images:    make(map[string][]byte),
		expired:   make(map[string]bool),
		userCodes: make(map[string]int),
		files:     make(map[string]file),
		changed:   make(chan struct{}),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL of both OpenAPI and OAuth.
func (s *Server) URL() string { return s.srv.URL }

// FileURL is the address of a file added with AddFile.
func (s *Server) FileURL(name string) string { return s.srv.URL + "/files/" + name }

// AddFile serves data at FileURL(name) with the Content-Type given ("" for none).
func (s *Server) AddFile(name, contentType string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = file{contentType, slices.Clone(data)}
}

// FailNext makes the next cs calls answer these Zalo error codes, one call
// each, in order (after the access token check); 0 lets that call succeed.
func (s *Server) FailNext(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCS = append(s.failCS, codes...)
}

// FailNextHTTP makes the next cs calls answer these HTTP statuses; 0 lets
// that call go on (to FailNext's codes, then success). They come before
// FailNext's codes.
func (s *Server) FailNextHTTP(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failHTTP = append(s.failHTTP, statuses...)
}

// FailUploadNext makes the next uploads answer these Zalo error codes.
func (s *Server) FailUploadNext(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUpload = append(s.failUpload, codes...)
}

// FailUser makes every cs call to userID answer code (0 clears it): -213
// for someone who does not follow the OA, -230 outside the 7-day window…
func (s *Server) FailUser(userID string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.userCodes, userID)
		return
	}
	s.userCodes[userID] = code
}

// FailRefreshNext programs the next refresh calls.
func (s *Server) FailRefreshNext(f ...RefreshFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRefresh = append(s.failRefresh, f...)
}

// SetRefreshDelay makes refresh calls wait d before answering (to widen
// race windows).
func (s *Server) SetRefreshDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshDelay = d
}

// SetExpiresIn sets the expires_in a refresh answers: a string (Zalo's
// "90000", the default), a number, or nil to leave it out.
func (s *Server) SetExpiresIn(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = v
}

// ExpireAccess makes the current access token stop working (Zalo then
// answers -216), as when it expires early or is revoked.
func (s *Server) ExpireAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = ""
}

// Revoke kills both tokens: every refresh is refused from now on, as when
// the OA admin removes the app's permission.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access, s.refresh = "", ""
}

// Authorize stands for an OA admin authorizing the app again (and the
// code exchanged): it issues a new refresh token, which it returns, and
// kills the old pair.
func (s *Server) Authorize() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pairs++
	s.access = ""
	s.refresh = fmt.Sprintf("refresh-%d-%s", s.pairs, randomHex(12))
	return s.refresh
}

// AccessToken is the access token that works now ("" when none does).
func (s *Server) AccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access
}

// CurrentRefreshToken is the refresh token that works now.
func (s *Server) CurrentRefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

// ExpireAttachment makes an uploaded image's attachment id answer -100.
func (s *Server) ExpireAttachment(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired[id] = true
}

// Refreshes counts the refresh calls that issued a new pair.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Calls returns every request so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsTo returns the requests to one path.
func (s *Server) CallsTo(path string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// Sent returns the messages accepted for userID, in order.
func (s *Server) Sent(userID string) []SentMessage {
	var out []SentMessage
	for _, m := range s.AllSent() {
		if m.UserID == userID {
			out = append(out, m)
		}
	}
	return out
}

// AllSent returns every message accepted, in order.
func (s *Server) AllSent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// Uploads returns the images accepted, in order.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.uploads)
}

// WaitSent waits until at least n messages were accepted and returns them
// all, or what was sent with an error when ctx ends first.
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
			sent := s.AllSent()
			return sent, fmt.Errorf("oatest: %d messages sent, want %d: %w", len(sent), n, ctx.Err())
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok {
		s.serveFile(w, name)
		return
	}
	if r.Method != http.MethodPost {
		s.answer(w, r, http.StatusMethodNotAllowed, 0, map[string]any{"error": -201, "message": "method not allowed"})
		return
	}
	switch r.URL.Path {
	case PathToken:
		s.token(w, r)
	case PathCS:
		s.cs(w, r)
	case PathUpload:
		s.upload(w, r)
	default:
		s.answer(w, r, http.StatusNotFound, 0, map[string]any{"error": -209, "message": "API not supported"})
	}
}

func (s *Server) serveFile(w http.ResponseWriter, name string) {
	s.mu.Lock()
	f, ok := s.files[name]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, nil)
		return
	}
	if f.contentType != "" {
		w.Header().Set("Content-Type", f.contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	_, _ = w.Write(f.data)
}

// answer records the call and writes v as JSON.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status, code int, v any) {
	s.mu.Lock()
	s.calls = append(s.calls, Call{Path: r.URL.Path, Header: r.Header.Clone(), Code: code, HTTP: status, At: time.Now()})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func zaloError(code int, msg string) map[string]any {
	return map[string]any{"error": code, "message": msg}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// token is the OAuth token endpoint: refresh_token grants only.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		s.answer(w, r, http.StatusOK, -14003, oauthError(-14003, "Invalid parameter", "the body must be form-encoded"))
		return
	}
	s.mu.Lock()
	delay := s.refreshDelay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case r.Header.Get("secret_key") != AppSecret:
		s.answer(w, r, http.StatusOK, -14002, oauthError(-14002, "Invalid secret key", "secret_key is not the app's secret key"))
		return
	case r.PostForm.Get("app_id") != AppID:
		s.answer(w, r, http.StatusOK, -14001, oauthError(-14001, "Invalid app id", "app_id is invalid"))
		return
	case r.PostForm.Get("grant_type") != "refresh_token":
		s.answer(w, r, http.StatusOK, -14003, oauthError(-14003, "Invalid parameter", "unsupported grant_type"))
		return
	}
	s.mu.Lock()
	var fail RefreshFailure
	if len(s.failRefresh) > 0 {
		fail, s.failRefresh = s.failRefresh[0], s.failRefresh[1:]
	}
	rt := r.PostForm.Get("refresh_token")
	if fail == 0 && (rt == "" || rt != s.refresh) {
		fail = RefreshRefused
	}
	var ans map[string]any
	if fail == 0 {
		// single use: the old pair dies now, access token included
		s.pairs++
		s.refreshes++
		s.access = fmt.Sprintf("access-%d-%s", s.pairs, randomHex(12))
		s.refresh = fmt.Sprintf("refresh-%d-%s", s.pairs, randomHex(12))
		ans = map[string]any{"access_token": s.access, "refresh_token": s.refresh}
		if s.expiresIn != nil {
			ans["expires_in"] = s.expiresIn
		}
	}
	s.mu.Unlock()
	switch fail {
	case RefreshServerError:
		s.answer(w, r, http.StatusBadGateway, 0, map[string]any{"message": "bad gateway"})
	case RefreshRateLimited:
		s.answer(w, r, http.StatusOK, -32, map[string]any{"error": -32, "message": "Your application/OA reached limit call api"})
	case RefreshRefused:
		s.answer(w, r, http.StatusOK, -14014, oauthError(-14014, "Invalid parameter", "Invalid refresh_token"))
	default:
		s.answer(w, r, http.StatusOK, 0, ans)
	}
}

// oauthError is the shape integrations report for OAuth v4 refusals.
func oauthError(code int, name, reason string) map[string]any {
	return map[string]any{
		"error": code, "error_name": name, "error_reason": reason,
		"error_description": reason, "ref_doc": "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new",
	}
}

// authorized checks the access_token header against the current token.
func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := r.Header.Get("access_token")
	return tok != "" && tok == s.access
}

type csBody struct {
	Recipient struct {
		UserID string `json:"user_id"`
	} `json:"recipient"`
	Message struct {
		Text       string `json:"text"`
		Attachment *struct {
			Type    string `json:"type"`
			Payload struct {
				TemplateType string `json:"template_type"`
				Elements     []struct {
					MediaType    string `json:"media_type"`
					AttachmentID string `json:"attachment_id"`
				} `json:"elements"`
				Buttons []struct {
					Title   string          `json:"title"`
					Type    string          `json:"type"`
					Payload json.RawMessage `json:"payload"`
				} `json:"buttons"`
			} `json:"payload"`
		} `json:"attachment"`
	} `json:"message"`
}

func (s *Server) cs(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.answer(w, r, http.StatusOK, -216, zaloError(-216, "Access token is invalid"))
		return
	}
	s.mu.Lock()
	var status, code int
	if len(s.failHTTP) > 0 {
		status, s.failHTTP = s.failHTTP[0], s.failHTTP[1:]
	}
	if status == 0 && len(s.failCS) > 0 {
		code, s.failCS = s.failCS[0], s.failCS[1:]
	}
	s.mu.Unlock()
	switch {
	case status != 0:
		s.answer(w, r, status, 0, map[string]any{"message": http.StatusText(status)})
		return
	case code != 0:
		s.answer(w, r, http.StatusOK, code, zaloError(code, messageFor(code)))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.answer(w, r, http.StatusOK, -201, zaloError(-201, "Content-Type must be application/json"))
		return
	}
	var b csBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil {
		s.answer(w, r, http.StatusOK, -201, zaloError(-201, "body is invalid"))
		return
	}
	msg, code, why := s.check(&b)
	if code != 0 {
		s.answer(w, r, http.StatusOK, code, zaloError(code, why))
		return
	}
	msg.MessageID = randomHex(10)
	msg.At = time.Now()
	s.mu.Lock()
	s.sent = append(s.sent, msg)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.answer(w, r, http.StatusOK, 0, map[string]any{"error": 0, "message": "Success", "data": map[string]any{
		"message_id": msg.MessageID, "user_id": msg.UserID, "sent_time": fmt.Sprint(msg.At.UnixMilli()),
		"quota": map[string]any{"quota_type": "reply", "remain": "8", "total": "8"},
	}})
}

// check validates a cs body and returns what it sends, or Zalo's error.
func (s *Server) check(b *csBody) (SentMessage, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user := b.Recipient.UserID
	m := SentMessage{UserID: user, Text: b.Message.Text}
	switch {
	case user == "" || strings.Trim(user, "0123456789") != "":
		return m, -201, "user_id is invalid"
	case s.userCodes[user] != 0:
		return m, s.userCodes[user], messageFor(s.userCodes[user])
	case len(utf16.Encode([]rune(m.Text))) > MaxText:
		return m, -201, "text is invalid: over 2000 characters"
	case b.Message.Attachment == nil && strings.TrimSpace(m.Text) == "":
		return m, -201, "message is empty"
	case b.Message.Attachment == nil:
		return m, 0, ""
	}
	at := b.Message.Attachment
	if at.Type != "template" {
		return m, -233, "attachment type is not supported"
	}
	p := at.Payload
	switch p.TemplateType {
	case "media":
		if len(p.Elements) != 1 || p.Elements[0].MediaType != "image" || p.Elements[0].AttachmentID == "" || len(p.Buttons) > 0 {
			return m, -201, "elements is invalid"
		}
		id := p.Elements[0].AttachmentID
		if s.expired[id] {
			return m, -100, "attachment_id was expired"
		}
		data, ok := s.images[id]
		if !ok {
			return m, -201, "attachment_id is invalid"
		}
		m.AttachmentID, m.Image = id, data
		return m, 0, ""
	case "":
	default:
		return m, -233, "template_type is not supported"
	}
	if len(p.Buttons) == 0 || len(p.Buttons) > MaxButtons {
		return m, -201, "buttons is invalid"
	}
	if strings.TrimSpace(m.Text) == "" {
		return m, -201, "text is required with buttons"
	}
	for _, btn := range p.Buttons {
		n := len(utf16.Encode([]rune(btn.Title)))
		if n == 0 || n > MaxButtonTitle {
			return m, -201, "button title is invalid"
		}
		got := Button{Title: btn.Title, Type: btn.Type}
		switch btn.Type {
		case "oa.query.hide", "oa.query.show":
			if json.Unmarshal(btn.Payload, &got.Payload) != nil || got.Payload == "" || len(got.Payload) > MaxPayload {
				return m, -201, "button payload is invalid"
			}
		case "oa.open.url":
			var u struct {
				URL string `json:"url"`
			}
			if json.Unmarshal(btn.Payload, &u) != nil || !strings.HasPrefix(u.URL, "http") {
				return m, -201, "button url is invalid"
			}
			got.URL = u.URL
		default:
			return m, -201, "button type is invalid"
		}
		m.Buttons = append(m.Buttons, got)
	}
	return m, 0, ""
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.answer(w, r, http.StatusOK, -216, zaloError(-216, "Access token is invalid"))
		return
	}
	s.mu.Lock()
	var code int
	if len(s.failUpload) > 0 {
		code, s.failUpload = s.failUpload[0], s.failUpload[1:]
	}
	s.mu.Unlock()
	if code != 0 {
		s.answer(w, r, http.StatusOK, code, zaloError(code, messageFor(code)))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 2*MaxImage)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		s.answer(w, r, http.StatusOK, -201, zaloError(-201, "file is invalid"))
		return
	}
	data, err := io.ReadAll(f)
	f.Close()
	switch ct := http.DetectContentType(data); {
	case err != nil:
		s.answer(w, r, http.StatusOK, -201, zaloError(-201, "file is invalid"))
		return
	case len(data) > MaxImage:
		s.answer(w, r, http.StatusOK, -201, zaloError(-201, "file size exceeds 1MB"))
		return
	case ct != "image/jpeg" && ct != "image/png":
		s.answer(w, r, http.StatusOK, -201, zaloError(-201, "only jpg and png are supported"))
		return
	}
	id := randomHex(16)
	s.mu.Lock()
	s.images[id] = data
	s.uploads = append(s.uploads, Upload{AttachmentID: id, Name: hdr.Filename, ContentType: hdr.Header.Get("Content-Type"), Data: data})
	s.mu.Unlock()
	s.answer(w, r, http.StatusOK, 0, map[string]any{"error": 0, "message": "Success", "data": map[string]any{"attachment_id": id}})
}

// messageFor is Zalo's message for an error code, roughly.
func messageFor(code int) string {
	switch code {
	case -32:
		return "Your application/OA reached limit call api"
	case -100:
		return "attachment_id was expired"
	case -201:
		return "Parameters are invalid"
	case -204:
		return "OA has been disabled"
	case -205:
		return "OA does not exist"
	case -211:
		return "Out of quota"
	case -213:
		return "User has not followed OA"
	case -216:
		return "Access token is invalid"
	case -220:
		return "Access token has expired or has been removed"
	case -223:
		return "OA has not authorized this API"
	case -224:
		return "OA needs a tier package to use this feature"
	case -227:
		return "User is banned or has been inactive for more than 45 days"
	case -230:
		return "User has not interacted with the OA in the past 7 days"
	case -232:
		return "User has not interacted with the OA or the last interaction has expired"
	case -233:
		return "Message type is invalid or not supported"
	case -240:
		return "MessageV2 API has been shut down"
	case -244:
		return "User has restricted this type of message from your OA"
	case -320:
		return "Your app needs to connect with Zalo Cloud Account"
	case -321:
		return "Zalo Cloud Account is out of money"
	}
	return "Unknown error"
}
