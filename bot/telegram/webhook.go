package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/gocua/gocua/bot"
)

// SecretHeader carries the webhook secret Telegram was given in setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// ServeHTTP is POST /webhook/telegram.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(SecretHeader)
	if a.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.WebhookSecret)) != 1 {
		a.log.Warn("webhook refused: wrong or missing secret", "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.log.Warn("webhook refused: body too large", "limit", a.cfg.MaxBody)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read body", http.StatusBadRequest)
		return
	}
	var upd models.Update
	if err := json.Unmarshal(body, &upd); err != nil || upd.ID == 0 {
		// the body holds personal data: log only that it was malformed
		a.log.Warn("webhook refused: malformed update", "bytes", len(body))
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	in, ok := a.convert(&upd)
	log := a.log.With("update_id", upd.ID)
	if !ok {
		log.Debug("update acknowledged and ignored")
		w.WriteHeader(http.StatusOK)
		return
	}
	if upd.CallbackQuery != nil {
		a.answerCallback(r.Context(), upd.CallbackQuery.ID)
	}
	// Not the request's context: Telegram hanging up must not abort a commit half way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.HandleTimeout)
	defer cancel()
	if err := a.h.Handle(ctx, in); err != nil {
		log.Error("update not handled; Telegram will retry", "chat", in.Key.ChatID, "kind", int(in.Kind), "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// answerCallback stops the button's spinner straight away; failures (for
// example "query is too old" on a re-delivery) are harmless.
func (a *Adapter) answerCallback(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := a.client.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: id}); err != nil {
		a.log.Debug("answerCallbackQuery failed", "err", err)
	}
}

// convert turns a Telegram update into the core's Inbound. ok is false for
// updates the core does not handle (groups, channels, unknown kinds).
func (a *Adapter) convert(u *models.Update) (bot.Inbound, bool) {
	in := bot.Inbound{UpdateID: strconv.FormatInt(u.ID, 10), Seq: u.ID}
	switch {
	case u.Message != nil:
		m := u.Message
		if m.Chat.Type != models.ChatTypePrivate {
			return in, false
		}
		a.fromMessage(&in, m)
		switch text := m.Text; {
		case strings.HasPrefix(text, "/"):
			in.Kind = bot.InCommand
			cmd, args, _ := strings.Cut(text[1:], " ")
			cmd, _, _ = strings.Cut(cmd, "@") // "/start@gocua_bot"
			in.Command, in.Args = strings.ToLower(cmd), strings.TrimSpace(args)
		case text != "":
			in.Kind, in.Text = bot.InText, text
		default:
			in.Kind, in.Text = bot.InMedia, m.Caption
		}
	case u.EditedMessage != nil:
		if u.EditedMessage.Chat.Type != models.ChatTypePrivate {
			return in, false
		}
		a.fromMessage(&in, u.EditedMessage)
		in.Kind = bot.InEdited
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		chat, typ := q.From.ID, models.ChatTypePrivate
		switch {
		case q.Message.Message != nil:
			chat, typ = q.Message.Message.Chat.ID, q.Message.Message.Chat.Type
		case q.Message.InaccessibleMessage != nil:
			chat, typ = q.Message.InaccessibleMessage.Chat.ID, q.Message.InaccessibleMessage.Chat.Type
		}
		if typ != models.ChatTypePrivate || q.Data == "" {
			return in, false
		}
		in.Key = bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(chat, 10)}
		in.Kind, in.Data = bot.InButton, q.Data
		in.UserID, in.Name, in.LangHint = strconv.FormatInt(q.From.ID, 10), fullName(q.From), q.From.LanguageCode
		in.At = time.Now()
	case u.MyChatMember != nil:
		cm := u.MyChatMember
		if cm.Chat.Type != models.ChatTypePrivate {
			return in, false
		}
		in.Key = bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(cm.Chat.ID, 10)}
		in.UserID, in.Name = strconv.FormatInt(cm.From.ID, 10), fullName(cm.From)
		in.At = time.Unix(int64(cm.Date), 0)
		switch cm.NewChatMember.Type {
		case models.ChatMemberTypeBanned, models.ChatMemberTypeLeft:
			in.Kind = bot.InBlocked
		case models.ChatMemberTypeMember:
			in.Kind = bot.InUnblocked
		default:
			return in, false
		}
	default:
		return in, false
	}
	return in, true
}

func (a *Adapter) fromMessage(in *bot.Inbound, m *models.Message) {
	in.Key = bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(m.Chat.ID, 10)}
	in.At = time.Unix(int64(m.Date), 0)
	if m.From != nil {
		in.UserID, in.Name, in.LangHint = strconv.FormatInt(m.From.ID, 10), fullName(*m.From), m.From.LanguageCode
	}
}

func fullName(u models.User) string {
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}
