package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/gocua/gocua/bot"
)

// inlineKeyboard is gocua's own reply_markup. The library's button type sends
// every button with an empty "copy_text" object, which Telegram has answered
// with BUTTON_COPY_TEXT_INVALID; SendMessageParams.ReplyMarkup takes any value.
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

// replyKeyboard asks for the user's own phone number (request_contact),
// with a second, plain button to decline; removeKeyboard takes it away.
type replyKeyboard struct {
	Keyboard        [][]keyButton `json:"keyboard"`
	OneTimeKeyboard bool          `json:"one_time_keyboard"`
	ResizeKeyboard  bool          `json:"resize_keyboard"`
}

type keyButton struct {
	Text           string `json:"text"`
	RequestContact bool   `json:"request_contact,omitempty"`
}

type removeKeyboard struct {
	RemoveKeyboard bool `json:"remove_keyboard"`
}

// contactMarkup is the reply_markup of a message that asks for the
// resident's phone number or takes that keyboard away (nil for neither).
func contactMarkup(out bot.Outbound) models.ReplyMarkup {
	switch {
	case out.AskContact != "":
		rows := [][]keyButton{{{Text: out.AskContact, RequestContact: true}}}
		if out.Decline != "" {
			rows = append(rows, []keyButton{{Text: out.Decline}})
		}
		return replyKeyboard{Keyboard: rows, OneTimeKeyboard: true, ResizeKeyboard: true}
	case out.ClearKeyboard:
		return removeKeyboard{RemoveKeyboard: true}
	}
	return nil
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// ErrInvalidMessage is wrapped by Deliver's errors for a message Telegram
// would refuse as it is (too long, bad buttons); sending it again cannot
// help. It wraps bot.ErrRejected, so the sender drops it at once.
var ErrInvalidMessage = fmt.Errorf("telegram: message breaks Telegram's limits: %w", bot.ErrRejected)

// Deliver sends one message: with sendMessage, or, when it carries Media,
// with sendPhoto, sendDocument, sendVoice, sendAudio or sendVideo and its
// text as the caption. It implements bot.Deliverer: a 429 becomes a
// *bot.RetryAfterError, a 403 (blocked, deactivated, never started) or 400
// "chat not found" wraps bot.ErrUnreachable, any other 400 (Telegram refuses
// the message as it is) and a message this adapter cannot send wrap
// bot.ErrRejected, anything else is a plain error worth retrying. Splitting
// and pacing are the core sender's job: a message over Telegram's limits is
// refused here, never cut.
func (a *Adapter) Deliver(ctx context.Context, out bot.Outbound) error {
	if out.Key.Channel != bot.ChannelTelegram {
		return fmt.Errorf("telegram: message %s is for channel %q: %w", out.ID, out.Key.Channel, bot.ErrRejected)
	}
	if out.Media != nil {
		return a.deliverMedia(ctx, out)
	}
	params, err := textParams(out.Key.ChatID, out.Text, out.Buttons)
	if err != nil {
		return fmt.Errorf("%w: message %s: %w", ErrInvalidMessage, out.ID, err)
	}
	if m := contactMarkup(out); m != nil {
		params.ReplyMarkup = m
	}
	params.AllowPaidBroadcast = out.Paid
	return mapError("sendMessage", a.call(ctx, "sendMessage", params, nil))
}

// textParams checks and renders a text message: not empty, at most MaxText
// UTF-16 units, valid buttons.
func textParams(chatID, text string, buttons [][]bot.Button) (*tgbot.SendMessageParams, error) {
	html, units := render(text)
	switch {
	case strings.TrimSpace(text) == "":
		return nil, errors.New("no text")
	case units > MaxText:
		return nil, fmt.Errorf("text is %d UTF-16 units, over %d", units, MaxText)
	}
	params := &tgbot.SendMessageParams{
		ChatID:             chatRef(chatID),
		Text:               html,
		ParseMode:          models.ParseModeHTML,
		LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: tgbot.True()},
	}
	markup, err := replyMarkup(buttons)
	if err != nil {
		return nil, err
	}
	params.ReplyMarkup = markup
	return params, nil
}

// chatRef is chat_id as the Bot API documents it: the number, or the
// @username of a channel.
func chatRef(chatID string) any {
	if n, err := strconv.ParseInt(chatID, 10, 64); err == nil {
		return n
	}
	return chatID
}

// replyMarkup is the inline keyboard for buttons, or nil for none.
func replyMarkup(buttons [][]bot.Button) (models.ReplyMarkup, error) {
	if len(buttons) == 0 {
		return nil, nil
	}
	kb, err := keyboard(buttons)
	if err != nil {
		return nil, err
	}
	return kb, nil
}

// keyboard builds the inline keyboard: URL buttons open the link, the others
// send their Data back as callback_data.
func keyboard(rows [][]bot.Button) (inlineKeyboard, error) {
	kb := inlineKeyboard{InlineKeyboard: make([][]inlineButton, 0, len(rows))}
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		r := make([]inlineButton, 0, len(row))
		for _, b := range row {
			switch {
			case strings.TrimSpace(b.Text) == "":
				return kb, errors.New("a button has no text")
			case b.URL != "":
				r = append(r, inlineButton{Text: b.Text, URL: b.URL})
			case b.Data == "":
				return kb, fmt.Errorf("button %q has neither data nor URL", b.Text)
			case len(b.Data) > MaxCallbackData:
				return kb, fmt.Errorf("button %q: callback data is %d bytes, over %d", b.Text, len(b.Data), MaxCallbackData)
			default:
				r = append(r, inlineButton{Text: b.Text, CallbackData: b.Data})
			}
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, r)
	}
	return kb, nil
}

// mapError turns the library's errors for a Bot API method into the core's
// vocabulary.
func mapError(method string, err error) error {
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
	case errors.Is(err, tgbot.ErrorBadRequest):
		// bad entities, an invalid button URL, too long…: the same request
		// would be refused again
		return fmt.Errorf("telegram: %s: %w: %w", method, bot.ErrRejected, err)
	}
	return fmt.Errorf("telegram: %s: %w", method, err)
}
