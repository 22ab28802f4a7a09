// Package floor is the bot cmd/gocua-load measures gocua against: the
// cheapest bot with gocua's I/O shape, built with go-telegram/bot (which only
// bot/telegram and its packages import). Per update it does one read and one
// write of the chat's counter and one sendMessage; its webhook answers 200
// only once the reply was sent (go-telegram/bot's own WebhookHandler answers
// as soon as the update is queued in memory, which would lose it in a
// crash), and 500 when anything failed, so that Telegram posts the update
// again.
package floor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Store keeps a count per chat: the floor's one read and one write (the load
// tool gives it Redis GET and SET).
type Store interface {
	Get(ctx context.Context, chat int64) (int64, error)
	Set(ctx context.Context, chat int64, n int64) error
}

// Sender sends messages through go-telegram/bot.
type Sender struct{ b *tgbot.Bot }

// NewSender makes a Sender for the Bot API at apiURL.
func NewSender(apiURL, token string, client *http.Client) (*Sender, error) {
	opts := []tgbot.Option{tgbot.WithServerURL(apiURL), tgbot.WithSkipGetMe()}
	if client != nil {
		opts = append(opts, tgbot.WithHTTPClient(client.Timeout, client))
	}
	b, err := tgbot.New(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	return &Sender{b: b}, nil
}

// Send sends text to chat.
func (s *Sender) Send(ctx context.Context, chat int64, text string) error {
	_, err := s.b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: chat, Text: text})
	return err
}

// Echo is the floor's webhook: POST an update, it counts the chat and sends
// the text back.
type Echo struct {
	Secret string // the X-Telegram-Bot-Api-Secret-Token every call must carry
	Store  Store
	Sender *Sender
	Log    *slog.Logger
}

// ServeHTTP takes one update: decode, read and write the chat's count,
// sendMessage the text back, then 200.
func (e *Echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != e.Secret {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	var u models.Update
	if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
		http.Error(w, "bad update", http.StatusBadRequest)
		return
	}
	if u.Message == nil || u.Message.Text == "" {
		w.WriteHeader(http.StatusOK) // nothing to echo
		return
	}
	ctx, chat := r.Context(), u.Message.Chat.ID
	n, err := e.Store.Get(ctx, chat)
	if err != nil {
		e.fail(w, "store get", err)
		return
	}
	if err := e.Store.Set(ctx, chat, n+1); err != nil {
		e.fail(w, "store set", err)
		return
	}
	if err := e.Sender.Send(ctx, chat, u.Message.Text); err != nil {
		e.fail(w, "sendMessage", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (e *Echo) fail(w http.ResponseWriter, what string, err error) {
	e.Log.Warn("update failed", "step", what, "err", err)
	http.Error(w, what+" failed", http.StatusInternalServerError)
}

// CountTTL is how long the load tool keeps a chat's count.
const CountTTL = time.Hour
