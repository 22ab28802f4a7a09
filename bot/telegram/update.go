package telegram

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-telegram/bot/models"

	"github.com/gocua/gocua/bot"
)

// update is the part of a Telegram Update the adapter reads. It mirrors
// models.Update field for field but decodes only what the core needs: the
// library's models reject a whole update when any nested union (MessageOrigin,
// ChatMember, ReactionType, …) carries a type the library does not know yet,
// and answering such a valid update with 400 would make Telegram re-deliver it
// for a day and hold back every later message of that resident's chat.
type update struct {
	ID            *int64         `json:"update_id"`
	Message       *message       `json:"message"`
	EditedMessage *message       `json:"edited_message"`
	CallbackQuery *callbackQuery `json:"callback_query"`
	MyChatMember  *memberUpdate  `json:"my_chat_member"`
}

type chat struct {
	ID   int64           `json:"id"`
	Type models.ChatType `json:"type"`
}

type user struct {
	ID           int64  `json:"id"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	LanguageCode string `json:"language_code"`
}

type message struct {
	Date    int64  `json:"date"`
	Chat    chat   `json:"chat"`
	From    *user  `json:"from"`
	Text    string `json:"text"`
	Caption string `json:"caption"`
}

// callbackQuery.Message is a MaybeInaccessibleMessage: an inaccessible one
// (date 0) still carries its chat.
type callbackQuery struct {
	ID      string   `json:"id"`
	From    user     `json:"from"`
	Message *message `json:"message"`
	Data    string   `json:"data"`
}

type memberUpdate struct {
	Chat          chat  `json:"chat"`
	From          user  `json:"from"`
	Date          int64 `json:"date"`
	NewChatMember struct {
		Status models.ChatMemberType `json:"status"`
	} `json:"new_chat_member"`
}

var errNoUpdateID = errors.New("update_id missing")

// decodeUpdate parses a webhook body. Only malformed JSON or a missing
// update_id is an error; unknown fields and update kinds are not.
func decodeUpdate(body []byte) (*update, error) {
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, err
	}
	if u.ID == nil {
		return nil, errNoUpdateID
	}
	return &u, nil
}

// kindName names an update's kind for logs.
func (u *update) kindName() string {
	switch {
	case u.Message != nil:
		return "message"
	case u.EditedMessage != nil:
		return "edited_message"
	case u.CallbackQuery != nil:
		return "callback_query"
	case u.MyChatMember != nil:
		return "my_chat_member"
	}
	return "other"
}

// convert turns an update into the core's Inbound, every text a resident
// wrote passed through bot.CleanText. ok is false for updates
// the core does not handle: anything outside a private chat (the volunteers'
// group, channels), kinds gocua did not ask for, button taps without data.
// now stamps button taps, which carry no date of their own.
func convert(u *update, now time.Time) (in bot.Inbound, ok bool) {
	in = bot.Inbound{UpdateID: strconv.FormatInt(*u.ID, 10), Seq: *u.ID}
	switch {
	case u.Message != nil:
		m := u.Message
		if m.Chat.Type != models.ChatTypePrivate {
			return in, false
		}
		fromMessage(&in, m)
		// A text that cleaning empties (only control characters) is
		// answered like a message without text.
		text := bot.CleanText(m.Text)
		if name, args, isCmd := parseCommand(text); isCmd {
			in.Kind, in.Command, in.Args = bot.InCommand, name, args
		} else if text != "" {
			in.Kind, in.Text = bot.InText, text
		} else {
			in.Kind, in.Text = bot.InMedia, bot.CleanText(m.Caption)
		}
	case u.EditedMessage != nil:
		m := u.EditedMessage
		if m.Chat.Type != models.ChatTypePrivate {
			return in, false
		}
		fromMessage(&in, m)
		in.Kind = bot.InEdited
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		// Without the message (inline mode) the tap can only come from the
		// user's private chat with the bot, whose id is the user's id.
		c := chat{ID: q.From.ID, Type: models.ChatTypePrivate}
		if q.Message != nil {
			c = q.Message.Chat
		}
		data := bot.CleanText(q.Data)
		if c.Type != models.ChatTypePrivate || data == "" {
			return in, false
		}
		in.Key = key(c.ID)
		in.Kind, in.Data = bot.InButton, data
		setUser(&in, &q.From)
		in.At = now
	case u.MyChatMember != nil:
		cm := u.MyChatMember
		if cm.Chat.Type != models.ChatTypePrivate {
			return in, false
		}
		switch cm.NewChatMember.Status {
		case models.ChatMemberTypeBanned:
			in.Kind = bot.InBlocked
		case models.ChatMemberTypeMember:
			in.Kind = bot.InUnblocked
		default:
			return in, false
		}
		in.Key = key(cm.Chat.ID)
		setUser(&in, &cm.From)
		// Telegram's dates are whole seconds: a change stamped second T
		// happened before T+1, so it is ordered as of the end of its second,
		// after a 403 the sender saw within it. (Two changes in one second
		// keep their relative order: both are moved alike.)
		in.At = time.Unix(cm.Date, 0).Add(time.Second - time.Nanosecond)
	default:
		return in, false
	}
	return in, true
}

func key(chatID int64) bot.ConvKey {
	return bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(chatID, 10)}
}

func fromMessage(in *bot.Inbound, m *message) {
	in.Key = key(m.Chat.ID)
	in.At = time.Unix(m.Date, 0)
	if m.From != nil {
		setUser(in, m.From)
	}
}

func setUser(in *bot.Inbound, u *user) {
	in.UserID = strconv.FormatInt(u.ID, 10)
	// one line: a name is shown inside other texts ("Chào {name}")
	in.Name = strings.Join(strings.Fields(bot.CleanText(u.FirstName+" "+u.LastName)), " ")
	in.LangHint = bot.CleanText(u.LanguageCode)
}

// parseCommand splits "/Start@gocua_bot  install_vneid" into ("start",
// "install_vneid"). Text that does not start with "/" followed by a name is
// not a command.
func parseCommand(text string) (name, args string, ok bool) {
	rest, found := strings.CutPrefix(text, "/")
	if !found {
		return "", "", false
	}
	end := strings.IndexFunc(rest, unicode.IsSpace)
	if end < 0 {
		end = len(rest)
	}
	name, _, _ = strings.Cut(rest[:end], "@")
	if name == "" {
		return "", "", false
	}
	return strings.ToLower(name), strings.TrimSpace(rest[end:]), true
}
