package webchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// CookieName is the visitor id cookie.
const CookieName = "gocua_visitor"

const (
	cookieMaxAge = 400 * 24 * time.Hour // browsers cap cookie lifetimes at 400 days
	maxLabel     = 200                  // characters of a tapped button's label
)

var (
	visitorRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	msgIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)
)

func validVisitor(id string) bool { return visitorRE.MatchString(id) }

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// requestOrigin is the origin a request comes from: its Origin header, else
// its Referer's origin; "" if neither.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return o
	}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host != "" {
		return ref.Scheme + "://" + ref.Host
	}
	return ""
}

// sameHost reports whether origin names the host the request was sent to.
func sameHost(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// allowedOrigin reports whether origin is the chat's own or a configured one.
func (a *Adapter) allowedOrigin(origin string, r *http.Request) bool {
	if sameHost(origin, r) {
		return true
	}
	n, err := normalizeOrigin(origin)
	return err == nil && a.origins[n]
}

// embeddedCrossSite reports whether the request comes from the chat embedded
// in an allowed ward website.
func (a *Adapter) embeddedCrossSite(r *http.Request) bool {
	if o := requestOrigin(r); o != "" {
		return !sameHost(o, r) && a.allowedOrigin(o, r)
	}
	return len(a.origins) > 0 && r.URL.Query().Get("embed") == "1" && r.Header.Get("Sec-Fetch-Dest") == "iframe"
}

// securityHeaders are sent with the page and the API.
func (a *Adapter) securityHeaders(w http.ResponseWriter) {
	ancestors := "'self'"
	for o := range a.origins {
		ancestors += " " + o
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
		"img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors "+ancestors)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// servePage is GET /chat: the chat page, in Vietnamese unless ?lang=en.
func (a *Adapter) servePage(w http.ResponseWriter, r *http.Request) {
	_, verr := a.visitor(w, r, true)
	lang, other := "vi", "en"
	if r.URL.Query().Get("lang") == "en" {
		lang, other = "en", "vi"
	}
	var buf bytes.Buffer
	err := a.page.Execute(&buf, map[string]any{
		"Lang":      lang,
		"T":         a.locale[lang],
		"OtherLang": other,
		"Other":     a.locale[other],
		"Embed":     r.URL.Query().Get("embed") == "1",
		"Busy":      verr != nil,
		"Version":   a.assets["chat.js"].etag[1:9] + a.assets["chat.css"].etag[1:9],
	})
	if err != nil {
		a.log.Error("render chat page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	a.securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if verr != nil {
		a.log.Warn("web chat: new visitor refused", "err", verr)
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	_, _ = w.Write(buf.Bytes())
}

// serveAsset serves one embedded file, revalidated by ETag.
func (a *Adapter) serveAsset(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := a.assets[name]
		w.Header().Set("Content-Type", f.ctype)
		w.Header().Set("ETag", f.etag)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if name == "widget.js" { // loaded by ward websites
			w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	}
}

// sendRequest is the body of POST /chat/api/send.
type sendRequest struct {
	ID     string `json:"id"`     // client-generated message id: retries reuse it
	Seq    int64  `json:"seq"`    // the visitor's increasing message counter
	Text   string `json:"text"`   // typed text or a /command
	Data   string `json:"data"`   // a tapped button's data
	Label  string `json:"label"`  // the tapped button's text, shown in the history
	Silent bool   `json:"silent"` // not shown in the history (the page's automatic /start)

	empty bool // text or data was sent, but bot.CleanText left nothing of it
}

// apiError answers a JSON error.
func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// serveSend is POST /chat/api/send: one resident message.
func (a *Adapter) serveSend(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o == "" || !a.allowedOrigin(o, r) {
		a.log.Warn("web chat send refused: origin not allowed", "origin", o)
		apiError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		apiError(w, http.StatusUnsupportedMediaType, "want application/json")
		return
	}
	vid, _ := a.visitor(w, r, false)
	if vid == "" {
		apiError(w, http.StatusForbidden, "no valid visitor cookie: open /chat first")
		return
	}
	if ok, retry := a.addrSends.reserve(platform.ClientAddr(r), a.cfg.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(retry.Seconds())), 1)))
		a.log.Info("web chat send rate limited for the address")
		apiError(w, http.StatusTooManyRequests, "too many messages from this address")
		return
	}
	log := a.log.With("visitor", vid)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Warn("web chat send refused: body too large", "limit", a.cfg.MaxBody)
			apiError(w, http.StatusRequestEntityTooLarge, "message too large")
			return
		}
		apiError(w, http.StatusBadRequest, "could not read body")
		return
	}
	req, status, problem := decodeSend(body)
	if status != 0 {
		log.Warn("web chat send refused", "status", status, "problem", problem, "bytes", len(body))
		apiError(w, status, problem)
		return
	}
	if ok, retry := a.limits.reserve(vid, a.cfg.Now()); !ok {
		secs := int(math.Ceil(retry.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		log.Info("web chat send rate limited")
		apiError(w, http.StatusTooManyRequests, "too many messages")
		return
	}
	key := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: vid}
	now := a.cfg.Now()
	in := bot.Inbound{Key: key, UpdateID: req.ID, Seq: req.Seq, UserID: vid, At: now}
	shown := req.Text
	switch {
	case req.empty: // answered like a message without text
		in.Kind = bot.InMedia
	case req.Data != "":
		in.Kind, in.Data, shown = bot.InButton, req.Data, req.Label
	case strings.HasPrefix(req.Text, "/"):
		in.Kind = bot.InCommand
		cmd, args, _ := strings.Cut(req.Text[1:], " ")
		in.Command, in.Args = strings.ToLower(cmd), strings.TrimSpace(args)
	default:
		in.Kind, in.Text = bot.InText, req.Text
	}
	// Not the request's context: a page closing must not abort a commit half way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.HandleTimeout)
	defer cancel()
	if shown != "" && !req.Silent {
		msg, err := json.Marshal(message{ID: req.ID, From: fromResident, Text: shown, At: now.UTC()})
		if err == nil {
			var added bool
			_, added, err = a.hist.AppendHistory(ctx, key, req.ID, msg)
			if added {
				a.hub.notify(vid)
			}
		}
		if err != nil {
			log.Error("web chat message not stored", "err", err)
			w.Header().Set("Retry-After", "2")
			apiError(w, http.StatusServiceUnavailable, "temporarily unavailable")
			return
		}
	}
	if err := a.handle(ctx, in); err != nil {
		log.Error("web chat message not handled; the page will retry", "kind", int(in.Kind), "err", err)
		w.Header().Set("Retry-After", "2")
		apiError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`+"\n")
}

// handle runs the core; a panic becomes an error (503: the page retries)
// instead of a dropped connection.
func (a *Adapter) handle(ctx context.Context, in bot.Inbound) (err error) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("web chat handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = errors.New("webchat: handler panicked")
		}
	}()
	return a.h.Handle(ctx, in)
}

// decodeSend parses and checks a send body, and cleans what the resident
// wrote with bot.CleanText. A non-zero status says why it is refused.
func decodeSend(body []byte) (req sendRequest, status int, problem string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, http.StatusBadRequest, "malformed JSON"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, http.StatusBadRequest, "trailing data after the JSON object"
	}
	switch {
	case !msgIDRE.MatchString(req.ID):
		return req, http.StatusBadRequest, "id must be 8 to 64 letters, digits, - or _"
	case req.Seq <= 0:
		return req, http.StatusBadRequest, "seq must be above 0"
	case (strings.TrimSpace(req.Text) == "") == (req.Data == ""):
		return req, http.StatusBadRequest, "send exactly one of text and data"
	}
	req.Text = strings.TrimSpace(bot.CleanText(req.Text))
	req.Data = bot.CleanText(req.Data)
	req.Label = strings.TrimSpace(bot.CleanText(req.Label))
	req.empty = req.Text == "" && req.Data == ""
	switch {
	case utf8.RuneCountInString(req.Text) > MaxText:
		return req, http.StatusRequestEntityTooLarge, fmt.Sprintf("text is over %d characters", MaxText)
	case len(req.Data) > MaxCallbackData:
		return req, http.StatusBadRequest, fmt.Sprintf("data is over %d bytes", MaxCallbackData)
	case utf8.RuneCountInString(req.Label) > maxLabel:
		return req, http.StatusBadRequest, fmt.Sprintf("label is over %d characters", maxLabel)
	}
	return req, 0, ""
}

// parseSince reads the last sequence number a page has: the Last-Event-ID
// header of a reconnecting EventSource, else ?since=.
func parseSince(r *http.Request) (int64, bool) {
	s := r.Header.Get("Last-Event-ID")
	if s == "" {
		s = r.URL.Query().Get("since")
	}
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// requireVisitor returns the request's visitor, issuing one if needed; it
// answers 429 itself when the address may not create more.
func (a *Adapter) requireVisitor(w http.ResponseWriter, r *http.Request) (string, bool) {
	vid, err := a.visitor(w, r, true)
	if err != nil {
		a.log.Warn("web chat: new visitor refused", "err", err)
		w.Header().Set("Retry-After", "60")
		apiError(w, http.StatusTooManyRequests, "too many new visitors from this address")
		return "", false
	}
	return vid, true
}

// checkGetOrigin refuses cross-site reads from origins that are not allowed.
func (a *Adapter) checkGetOrigin(w http.ResponseWriter, r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && !a.allowedOrigin(o, r) {
		apiError(w, http.StatusForbidden, "origin not allowed")
		return false
	}
	return true
}

// serveHistory is GET /chat/api/history?since=N.
func (a *Adapter) serveHistory(w http.ResponseWriter, r *http.Request) {
	if !a.checkGetOrigin(w, r) {
		return
	}
	vid, ok := a.requireVisitor(w, r)
	if !ok {
		return
	}
	since, ok := parseSince(r)
	if !ok {
		apiError(w, http.StatusBadRequest, "since must be a number")
		return
	}
	msgs, err := a.readHistory(r.Context(), vid, since)
	if err != nil {
		a.log.Error("web chat history", "visitor", vid, "err", err)
		apiError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"messages": msgs})
}

// readHistory returns visitor's messages after since, with their Seq set.
func (a *Adapter) readHistory(ctx context.Context, vid string, since int64) ([]message, error) {
	items, err := a.hist.History(ctx, bot.ConvKey{Channel: bot.ChannelWeb, ChatID: vid}, since)
	if err != nil {
		return nil, err
	}
	msgs := make([]message, 0, len(items))
	for _, it := range items {
		var m message
		if err := json.Unmarshal(it.Data, &m); err != nil {
			a.log.Warn("web chat history: undecodable message skipped", "visitor", vid, "seq", it.Seq)
			continue
		}
		m.Seq = it.Seq
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// serveEvents is GET /chat/api/events: a Server-Sent Events stream of the
// visitor's messages after Last-Event-ID (or ?since=), then live ones.
func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	if !a.checkGetOrigin(w, r) {
		return
	}
	vid, ok := a.requireVisitor(w, r)
	if !ok {
		return
	}
	since, ok := parseSince(r)
	if !ok {
		apiError(w, http.StatusBadRequest, "Last-Event-ID / since must be a number")
		return
	}
	// subscribe before the first read, so nothing appended in between is missed
	wake, unsubscribe, err := a.hub.subscribe(vid, a.cfg.MaxStreams, a.cfg.MaxStreamsTotal)
	if err != nil {
		w.Header().Set("Retry-After", "10")
		if errors.Is(err, errTooManyStreams) {
			a.log.Warn("web chat: open event streams at their cap", "cap", a.cfg.MaxStreamsTotal)
			apiError(w, http.StatusServiceUnavailable, "too many open chats right now")
			return
		}
		apiError(w, http.StatusTooManyRequests, "too many open chat windows")
		return
	}
	defer unsubscribe()

	rc := http.NewResponseController(w)
	// nothing more is read from this connection: lift the server's ReadTimeout
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	write := func(s string) error {
		// the server's WriteTimeout would otherwise end the stream
		_ = rc.SetWriteDeadline(time.Now().Add(a.cfg.Keepalive + 10*time.Second))
		if _, err := io.WriteString(w, s); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write("retry: 3000\n\n") != nil {
		return
	}
	last := since
	catchUp := func() error {
		msgs, err := a.readHistory(r.Context(), vid, last)
		if err != nil {
			if r.Context().Err() == nil {
				a.log.Warn("web chat stream: history read failed", "visitor", vid, "err", err)
			}
			return nil // the next wake-up or keepalive tries again
		}
		var b strings.Builder
		for _, m := range msgs {
			data, err := json.Marshal(m)
			if err != nil {
				continue
			}
			fmt.Fprintf(&b, "id: %d\nevent: message\ndata: %s\n\n", m.Seq, data)
			last = m.Seq
		}
		if b.Len() == 0 {
			return nil
		}
		return write(b.String())
	}
	if catchUp() != nil {
		return
	}
	tick := time.NewTicker(a.cfg.Keepalive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.done:
			return
		case <-wake:
			if catchUp() != nil {
				return
			}
		case <-tick.C:
			if write(": keepalive\n\n") != nil || catchUp() != nil {
				return
			}
		}
	}
}
