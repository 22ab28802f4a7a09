package telegram

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	tgbot "github.com/go-telegram/bot"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// Tapper is a Handler that answers button taps (bot.Service implements it).
// When the adapter's Handler is one, a tap is handled with HandleTap and then
// answered with its Ack; otherwise the tap is answered at once, without
// text, and handed to Handle.
type Tapper interface {
	HandleTap(ctx context.Context, in bot.Inbound) (bot.Ack, error)
}

// MaxAnswerText is Telegram's limit for a tap's notice (answerCallbackQuery
// text), in characters; the adapter counts UTF-16 code units, which is never
// more lenient.
const MaxAnswerText = 200

// SecretHeader carries the webhook secret Telegram was given in setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookPath is where Telegram posts updates.
const WebhookPath = "/webhook/telegram"

// ServeHTTP is POST /webhook/telegram. It answers 405 to other methods, 401
// to a missing or wrong secret (and to every call when no secret is
// configured), 413 to a body over MaxBody, 400 to malformed JSON or a missing
// update_id, 200 to updates the core does not handle, and for the rest 200
// once the core took the update or 503 so Telegram sends it again. The body
// is never logged: it holds personal data.
//
// Every button tap is answered (answerCallbackQuery), so its spinner stops:
// with the core's Ack after HandleTap when the Handler is a Tapper (without
// text when it failed), otherwise at once, before Handle.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !platform.AllowPost(w, r) {
		return
	}
	if !a.authorized(r.Header.Get(SecretHeader)) {
		a.log.Warn("telegram webhook refused: wrong or missing secret", "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, ok := platform.ReadBody(w, r, a.cfg.MaxBody, a.log)
	if !ok {
		return
	}
	u, err := decodeUpdate(body)
	if err != nil {
		// Only the size: the error text of a JSON decoder can quote the body.
		a.log.Warn("telegram webhook refused: malformed update", "bytes", len(body))
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	log := a.log.With("update_id", *u.ID, "kind", u.kindName())
	in, ok := convert(u, a.now(), a.parse)
	tapper, _ := a.h.(Tapper)
	queryID := ""
	if q := u.CallbackQuery; q != nil {
		queryID = q.ID
	}
	tapping := ok && in.Kind == bot.InButton && tapper != nil
	if queryID != "" && !tapping {
		// First, so the button's spinner stops even if the core is slow.
		a.answerCallback(r.Context(), log, queryID, bot.Ack{})
	}
	if !ok {
		log.Debug("telegram update acknowledged and ignored")
		w.WriteHeader(http.StatusOK)
		return
	}
	log = log.With("chat_id", in.Key.ChatID)
	if a.h == nil {
		log.Error("telegram update refused: no handler configured")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if tapping {
		// The core's answer is the tap's notice, so it is sent after the
		// core ran, failed or not (then without text).
		var ack bot.Ack
		err = a.handle(r.Context(), log, func(ctx context.Context) (err error) {
			ack, err = tapper.HandleTap(ctx, in)
			return err
		})
		if err != nil {
			ack = bot.Ack{}
		}
		if queryID != "" {
			a.answerCallback(r.Context(), log, queryID, ack)
		}
	} else {
		err = a.handle(r.Context(), log, func(ctx context.Context) error { return a.h.Handle(ctx, in) })
	}
	switch {
	case errors.Is(err, bot.ErrBusy):
		log.Warn("telegram update refused: too many in flight; Telegram will retry")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	case err != nil && !errors.Is(err, bot.ErrDuplicate):
		log.Error("telegram update not handled; Telegram will retry", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// authorized compares the header with the configured secret in constant time.
// With no secret configured nothing is authorized.
func (a *Adapter) authorized(got string) bool {
	want := a.cfg.WebhookSecret
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// handle runs the core with a context that Telegram hanging up does not
// cancel (a commit must not stop half way), bounded by HandleTimeout. A panic
// in the core becomes an error, so the update is retried and logged through
// slog rather than net/http's logger.
func (a *Adapter) handle(rctx context.Context, log *slog.Logger, run func(context.Context) error) error {
	return platform.RunCore(rctx, a.cfg.HandleTimeout, log, run)
}

// answerCallback stops the button's spinner, showing ack's text as a notice
// (or an alert to dismiss). Failures (for example "query is too old" on a
// re-delivery) are harmless and only logged.
func (a *Adapter) answerCallback(ctx context.Context, log *slog.Logger, id string, ack bot.Ack) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	text := truncateUnits(strings.ToValidUTF8(ack.Text, "\uFFFD"), MaxAnswerText)
	params := &tgbot.AnswerCallbackQueryParams{CallbackQueryID: id, Text: text, ShowAlert: ack.Alert && text != ""}
	if err := a.call(ctx, "answerCallbackQuery", params, nil); err != nil {
		log.Warn("telegram answerCallbackQuery failed", "err", err)
	}
}

// truncateUnits cuts s to at most limit UTF-16 code units on a rune
// boundary, ending a cut text with "…".
func truncateUnits(s string, limit int) string {
	units := 0
	for i, r := range s {
		if units+utf16.RuneLen(r) > limit {
			// s[:i] fits; the ellipsis (one unit) takes the last rune's place
			cut := s[:i]
			if units > limit-1 {
				_, size := utf8.DecodeLastRuneInString(cut)
				cut = cut[:len(cut)-size]
			}
			return cut + "…"
		}
		units += utf16.RuneLen(r)
	}
	return s
}
