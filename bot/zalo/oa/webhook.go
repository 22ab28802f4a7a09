package oa

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// commitTimeout bounds the inbox write: Zalo wants the webhook answered
// within 2 s.
const commitTimeout = 1500 * time.Millisecond

// ServeHTTP is POST /webhook/zalo-oa. It answers 405 to other methods, 401
// to a request without SignatureHeader, 413 to a body over MaxBody, 400 to
// malformed JSON or an event without app_id, event_name or timestamp, 403
// to a wrong signature, an event of another app, or a timestamp older than
// MaxAge or further than MaxSkew in the future (a replay), and 200 to
// events gocua does not handle (seen and received receipts, kinds it does
// not know). Every other event is decoded, queued with one write to the
// inbox and answered 200 — or 503 when the inbox refused it. The core is
// never called here (Run does); the body is never logged: it holds
// personal data.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !platform.AllowPost(w, r) {
		return
	}
	sig := r.Header.Get(SignatureHeader)
	if strings.TrimSpace(sig) == "" {
		a.log.Warn("zalo oa webhook refused: no signature", "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, ok := platform.ReadBody(w, r, a.cfg.MaxBody, a.log)
	if !ok {
		return
	}
	ev, err := decodeEvent(body)
	if err != nil {
		// Only the size: a JSON decoder's error can quote the body.
		a.log.Warn("zalo oa webhook refused: malformed event", "bytes", len(body))
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	ts := string(ev.Timestamp)
	if ts == "" { // see TimestampHeader
		ts = strings.TrimSpace(r.Header.Get(TimestampHeader))
		ev.Timestamp = flexString(ts)
	}
	at, ok := millis(ts)
	log := a.log.With("event", logName(ev.EventName))
	if retry := r.Header.Get("num_retry"); retry != "" && len(retry) < 8 {
		log = log.With("num_retry", retry)
	}
	if !ok {
		log.Warn("zalo oa webhook refused: no usable timestamp", "bytes", len(body))
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if string(ev.AppID) != a.cfg.AppID {
		log.Warn("zalo oa webhook refused: event of another app", "app_id", logName(string(ev.AppID)))
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if !Verify(a.cfg.AppID, body, ts, a.cfg.SecretKey, sig) {
		log.Warn("zalo oa webhook refused: wrong signature (is GOCUA_ZALO_OA_SECRET_KEY the OA secret key?)", "remote", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	now := a.now()
	if sent := time.UnixMilli(at); sent.Before(now.Add(-a.cfg.MaxAge)) || sent.After(now.Add(a.cfg.MaxSkew)) {
		log.Warn("zalo oa webhook refused: stale or future timestamp", "age", now.Sub(sent).Round(time.Second))
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ins, reason := convert(ev, a.cfg.OAID)
	if len(ins) == 0 {
		log.Debug("zalo oa event acknowledged and ignored", "reason", reason)
		w.WriteHeader(http.StatusOK)
		return
	}
	log = log.With("chat_id", ins[0].Key.ChatID, "update", ins[0].UpdateID)
	data, err := encodeEntry(ins)
	if err != nil {
		log.Error("zalo oa event not queued", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), commitTimeout)
	defer cancel()
	if err := a.inbox.InboxAdd(ctx, bot.ChannelZaloOA, data); err != nil {
		// Zalo re-sends only when the connection fails; a 5xx at least
		// shows up in the OA's webhook health.
		log.Error("zalo oa event not queued: inbox unavailable", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	log.Debug("zalo oa event queued")
	w.WriteHeader(http.StatusOK)
}

// logName is s when it is a short identifier, fit for a log line, else a
// placeholder: an event name or app id comes from an unverified body.
func logName(s string) string {
	if s == "" || len(s) > 64 || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	}) >= 0 {
		return "?"
	}
	return s
}
