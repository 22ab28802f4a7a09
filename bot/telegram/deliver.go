package telegram

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/gocua/gocua/bot"
)

// inlineKeyboard is our own reply_markup: the library's button type always
// sends an empty copy_text object, which Telegram may reject.
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// Deliver sends one message. It implements bot.Deliverer: a 429 becomes a
// *bot.RetryAfterError, "blocked"/"deactivated"/"chat not found" wrap
// bot.ErrUnreachable. Splitting and pacing are the core sender's job; a
// message over Telegram's limits is refused here rather than cut silently.
func (a *Adapter) Deliver(ctx context.Context, out bot.Outbound) error {
	text := ToHTML(out.Text)
	if n := len(utf16.Encode([]rune(text))); n > MaxText {
		return fmt.Errorf("telegram: message %s is %d UTF-16 units, over %d", out.ID, n, MaxText)
	}
	params := &tgbot.SendMessageParams{
		ChatID:             out.Key.ChatID,
		Text:               text,
		ParseMode:          models.ParseModeHTML,
		LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: tgbot.True()},
	}
	if len(out.Buttons) > 0 {
		kb := inlineKeyboard{InlineKeyboard: make([][]inlineButton, 0, len(out.Buttons))}
		for _, row := range out.Buttons {
			r := make([]inlineButton, 0, len(row))
			for _, b := range row {
				if b.URL == "" && len(b.Data) > MaxCallbackData {
					return fmt.Errorf("telegram: message %s: callback data %q is over %d bytes", out.ID, b.Data, MaxCallbackData)
				}
				r = append(r, inlineButton{Text: b.Text, CallbackData: b.Data, URL: b.URL})
			}
			kb.InlineKeyboard = append(kb.InlineKeyboard, r)
		}
		params.ReplyMarkup = kb
	}
	_, err := a.client.SendMessage(ctx, params)
	return mapError(err)
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	var tmr *tgbot.TooManyRequestsError
	switch {
	case errors.As(err, &tmr):
		return &bot.RetryAfterError{After: time.Duration(max(tmr.RetryAfter, 1)) * time.Second, Err: err}
	case errors.Is(err, tgbot.ErrorForbidden):
		return fmt.Errorf("%w: %w", bot.ErrUnreachable, err)
	case errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "chat not found"):
		return fmt.Errorf("%w: %w", bot.ErrUnreachable, err)
	}
	return fmt.Errorf("telegram: %w", err)
}
