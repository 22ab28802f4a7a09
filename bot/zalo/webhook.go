package zalo

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// SecretHeader carries the webhook secret Zalo was given in setWebhook.
const SecretHeader = "X-Bot-Api-Secret-Token"

// WebhookPath is where Zalo posts events.
const WebhookPath = "/webhook/zalo-bot"

// ServeHTTP is POST /webhook/zalo-bot. It answers 405 to other methods, 403
// to a missing or wrong secret (and to every call when no secret is
// configured), 413 to a body over MaxBody, 400 to malformed JSON, a body
// without event_name, or a known event without message_id or chat.id; 200
// to events the core does not handle (unknown names, group chats, bots); and
// for the rest 200 once the core took the event (or had it already) or 503
// so Zalo sends it again. The body is never logged: it holds personal data.
//
// A text that is not a command is first read against the chat's numbered
// menu (Menus): a choice's number or label reaches the core as the button it
// names (bot.InButton); anything else, or a chat without a menu, as text.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !platform.AllowPost(w, r) {
		return
	}
	if !a.authorized(r.Header.Get(SecretHeader)) {
		a.log.Warn("zalo bot webhook refused: wrong or missing secret", "remote", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	body, ok := platform.ReadBody(w, r, a.cfg.MaxBody, a.log)
	if !ok {
		return
	}
	ev, err := decodeUpdate(body)
	if err != nil {
		// Only the size: the error text of a JSON decoder can quote the body.
		a.log.Warn("zalo bot webhook refused: malformed update", "bytes", len(body))
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	log := a.log.With("event", eventName(ev))
	in, v, why := convert(ev, a.now())
	switch v {
	case invalid:
		log.Warn("zalo bot webhook refused: "+why, "bytes", len(body))
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	case ignore:
		log.Debug("zalo bot event acknowledged and ignored", "why", why)
		w.WriteHeader(http.StatusOK)
		return
	}
	log = log.With("message_id", in.UpdateID, "chat_id", in.Key.ChatID)
	if a.h == nil {
		log.Error("zalo bot event refused: no handler configured")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	err = a.handle(r.Context(), log, func(ctx context.Context) error {
		in, err := a.chooseMenu(ctx, in)
		if err != nil {
			return err
		}
		return a.h.Handle(ctx, in)
	})
	if err != nil && !errors.Is(err, bot.ErrDuplicate) {
		log.Error("zalo bot event not handled; Zalo will retry", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// authorized compares the header with the configured secret in constant
// time. With no secret configured nothing is authorized.
func (a *Adapter) authorized(got string) bool {
	want := a.cfg.WebhookSecret
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// chooseMenu makes a text that answers the chat's numbered menu the button
// tap it stands for. A chat without a menu, or a text that names none of
// its choices, stays text. Failing to read the menu is an error: reading
// "2" as text would answer the resident wrongly, and Zalo delivers again.
func (a *Adapter) chooseMenu(ctx context.Context, in bot.Inbound) (bot.Inbound, error) {
	if in.Kind != bot.InText || a.menus == nil {
		return in, nil
	}
	m, err := a.menus.Menu(ctx, in.Key)
	if err != nil {
		return in, fmt.Errorf("zalo: reading the chat's menu: %w", err)
	}
	if b, ok := m.Choose(in.Text); ok && b.Data != "" {
		in.Kind, in.Data, in.Text = bot.InButton, b.Data, ""
	}
	return in, nil
}

// handle runs the core with a context that Zalo hanging up does not cancel
// (a commit must not stop half way), bounded by HandleTimeout. A panic in
// the core becomes an error, so the event is retried and logged through
// slog rather than net/http's logger.
func (a *Adapter) handle(rctx context.Context, log *slog.Logger, run func(context.Context) error) error {
	return platform.RunCore(rctx, a.cfg.HandleTimeout, log, run)
}
