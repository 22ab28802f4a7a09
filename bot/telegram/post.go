package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	tgbot "github.com/go-telegram/bot"

	"github.com/gocua/gocua/bot"
)

// Post sends a message to chatID and returns its message id.
//
// It is for the volunteers' group (the queue board), paced by its caller,
// not by the core's sender. Rendering, limits and errors are Deliver's: a
// text over MaxText or bad buttons wrap ErrInvalidMessage, a 429 is a
// *bot.RetryAfterError.
func (a *Adapter) Post(ctx context.Context, chatID, text string, buttons [][]bot.Button) (messageID string, err error) {
	if chatID == "" {
		return "", fmt.Errorf("%w: post without a chat", ErrInvalidMessage)
	}
	params, err := textParams(chatID, text, buttons)
	if err != nil {
		return "", fmt.Errorf("%w: post to %s: %w", ErrInvalidMessage, chatID, err)
	}
	var msg struct {
		ID int64 `json:"message_id"`
	}
	if err := a.call(ctx, "sendMessage", params, &msg); err != nil {
		return "", mapError("sendMessage", err)
	}
	return strconv.FormatInt(msg.ID, 10), nil
}

// Edit replaces the text and buttons of a message the bot sent; "message is not modified" is not an error;
// a message that no longer exists returns an error wrapping bot.ErrRejected.
//
// No buttons removes the message's keyboard. Rendering, limits and the
// other errors are Post's.
func (a *Adapter) Edit(ctx context.Context, chatID, messageID, text string, buttons [][]bot.Button) error {
	id, err := strconv.Atoi(messageID)
	if chatID == "" || err != nil || id <= 0 {
		return fmt.Errorf("%w: edit of message %q in chat %q", ErrInvalidMessage, messageID, chatID)
	}
	p, err := textParams(chatID, text, buttons)
	if err != nil {
		return fmt.Errorf("%w: edit of message %s in %s: %w", ErrInvalidMessage, messageID, chatID, err)
	}
	err = a.call(ctx, "editMessageText", &tgbot.EditMessageTextParams{
		ChatID: p.ChatID, MessageID: id, Text: p.Text, ParseMode: p.ParseMode,
		LinkPreviewOptions: p.LinkPreviewOptions, ReplyMarkup: p.ReplyMarkup,
	}, nil)
	if errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "message is not modified") {
		return nil
	}
	return mapError("editMessageText", err)
}
