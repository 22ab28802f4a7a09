package zalo

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
)

// sendMessageParams is sendMessage's body: plain text, no parse_mode
// (flow texts' **bold** is dropped, not rendered).
type sendMessageParams struct {
	ChatID string `json:"chat_id"`
	Text   string `json:"text"`
}

type sendPhotoParams struct {
	ChatID  string `json:"chat_id"`
	Photo   string `json:"photo"`
	Caption string `json:"caption,omitempty"`
}

type chatActionParams struct {
	ChatID string `json:"chat_id"`
	Action string `json:"action"`
}

// Deliver sends one message. It implements bot.Deliverer.
//
// The text is plain (bot.PlainText) and its buttons become numbered lines
// with the locale's "reply 1, 2 or 3" (bot.RenderMenu, in out.Lang or
// Config.DefaultLang); link buttons are listed with their address. A
// rendered text over MaxText goes as several sendMessage calls, the menu
// lines together in the last. After a message with payload buttons was
// sent, its numbered choices become the chat's menu (Menus); a message
// without keeps the one before. A retried delivery does not send again the
// parts an earlier attempt of this process sent.
//
// Media: only a photo (bot.MediaPhoto) can be sent, with the text as its
// caption; any other kind is refused with an error wrapping
// bot.ErrRejected, text included (sending the caption alone would hide
// that the file never arrived). The photo goes as an address Zalo fetches,
// several times, so it must stay valid: an https:// ref is sent as it is; a
// "web:<id>" upload, and a file fetched from Telegram ("telegram:<file_id>",
// WithFetcher) or from Zalo ("zalo-bot:<url>") and stored as an upload, are
// served by MediaHandler under Config.PublicURL. Without PublicURL,
// WithUploads or a webhook secret such photos are refused (bot.ErrRejected).
//
// Errors: 429 is a *bot.RetryAfterError, 400 and 404 wrap bot.ErrRejected,
// 401 wraps ErrUnauthorized, anything else is a plain error worth retrying.
func (a *Adapter) Deliver(ctx context.Context, out bot.Outbound) error {
	if out.Key.Channel != bot.ChannelZaloBot || out.Key.ChatID == "" {
		return fmt.Errorf("zalo: message %s is for channel %q: %w", out.ID, out.Key.Channel, bot.ErrRejected)
	}
	parts := a.render(out)
	if out.Media == nil && len(parts) == 0 {
		return fmt.Errorf("zalo: message %s: %w: no text", out.ID, bot.ErrRejected)
	}
	if out.Media != nil {
		if err := a.checkPhoto(out); err != nil {
			return err
		}
	}
	key := out.Key.ChatID + " " + out.ID
	done, _ := a.progress.get(key)
	step := 0
	if out.Media != nil {
		caption := ""
		if len(parts) > 0 {
			caption, parts = parts[0], parts[1:]
		}
		if done <= step {
			if err := a.sendPhoto(ctx, out, caption); err != nil {
				return err
			}
			a.progress.put(key, step+1)
		}
		step++
	}
	for _, p := range parts {
		if done <= step {
			if err := a.call(ctx, "sendMessage", sendMessageParams{ChatID: out.Key.ChatID, Text: p}, nil); err != nil {
				return err
			}
			a.progress.put(key, step+1)
		}
		step++
	}
	a.progress.forget(key)
	a.rememberMenu(ctx, out)
	return nil
}

// render is out's text as it goes out, in pieces of at most MaxText: the
// plain text, then its buttons as numbered lines. When the whole is too
// long the text is cut (bot.SplitText) and the menu lines stay together,
// after the last piece or, when they do not fit there, on their own. Pieces
// with nothing to read are left out, so the result may be empty.
func (a *Adapter) render(out bot.Outbound) []string {
	lang := cmp.Or(out.Lang, a.cfg.DefaultLang)
	body := strings.ToValidUTF8(bot.PlainText(out.Text), "\uFFFD")
	menu := bot.RenderMenu(a.texts, lang, "", out.Buttons)
	var pieces []string
	if whole := body + menu; bot.TextLen(whole) <= MaxText {
		pieces = []string{whole}
	} else {
		pieces = bot.SplitText(body, MaxText)
		if menu != "" {
			if last := pieces[len(pieces)-1]; strings.TrimSpace(last) != "" && bot.TextLen(last+menu) <= MaxText {
				pieces[len(pieces)-1] = last + menu
			} else {
				pieces = append(pieces, bot.SplitText(strings.TrimLeft(menu, "\n"), MaxText)...)
			}
		}
	}
	kept := pieces[:0]
	for _, p := range pieces {
		if p = strings.Trim(p, "\n"); strings.TrimSpace(p) != "" {
			kept = append(kept, p)
		}
	}
	return kept
}

// rememberMenu keeps out's numbered choices as the chat's menu; a message
// without choices forgets it, so that "2" written to a volunteer (whose
// messages have no buttons) reads as text, never as a tap on an older
// message's button. The message is out already: a failure only means the
// resident's "2" reads wrongly, so it is logged, not returned (a retry
// would send the message twice).
func (a *Adapter) rememberMenu(ctx context.Context, out bot.Outbound) {
	if a.menus == nil {
		return
	}
	if err := a.menus.SetMenu(ctx, out.Key, bot.NumberButtons(out.Buttons)); err != nil {
		a.log.Error("zalo bot menu not stored: the resident's numbered answer may read wrongly",
			"chat_id", out.Key.ChatID, "message", out.ID, "err", err)
	}
}

// typing shows the resident that something is coming (a photo takes a
// while to prepare). Best effort: failures are only logged.
func (a *Adapter) typing(ctx context.Context, chatID string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.call(ctx, "sendChatAction", chatActionParams{ChatID: chatID, Action: "typing"}, nil); err != nil {
		a.log.Debug("zalo sendChatAction failed", "chat_id", chatID, "err", err)
	}
}
