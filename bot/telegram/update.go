package telegram

import (
	"cmp"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-telegram/bot/models"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
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
	// What a message carries besides text is decoded only when converted,
	// leniently: an attachment Telegram describes in a shape this adapter
	// does not expect becomes MediaOther instead of refusing the update.
	Photo     json.RawMessage `json:"photo"`
	Document  json.RawMessage `json:"document"`
	Animation json.RawMessage `json:"animation"`
	Voice     json.RawMessage `json:"voice"`
	Audio     json.RawMessage `json:"audio"`
	Video     json.RawMessage `json:"video"`
	VideoNote json.RawMessage `json:"video_note"`
	Sticker   json.RawMessage `json:"sticker"`
	Location  json.RawMessage `json:"location"`
	Contact   json.RawMessage `json:"contact"`
	ReplyTo   json.RawMessage `json:"reply_to_message"`
}

// file is the part of a Document, Voice, Audio, Video, VideoNote, Sticker or
// PhotoSize the adapter reads.
type file struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
	MIMEType string `json:"mime_type"`
	FileSize int64  `json:"file_size"`
	Width    int64  `json:"width"`
	Height   int64  `json:"height"`
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

// parseConfig is what convert needs to know about this bot.
type parseConfig struct {
	// volunteerChat is the volunteers' group (0 = none): button taps there
	// reach the core.
	volunteerChat int64
	// botID is the bot's own user id: only a reply to one of its messages
	// sets Inbound.ReplyTo.
	botID int64
}

// convert turns an update into the core's Inbound, every text a resident
// wrote passed through bot.CleanText. ok is false for updates
// the core does not handle: anything outside a private chat (channels, other
// groups, messages in the volunteers' group, a "private" chat whose id is
// not a user's), kinds gocua did not ask for,
// button taps without data. Button taps in the volunteers' group are
// handled, keyed by the group. now stamps button taps, which carry no date of
// their own.
func convert(u *update, now time.Time, pc parseConfig) (in bot.Inbound, ok bool) {
	in = bot.Inbound{UpdateID: strconv.FormatInt(*u.ID, 10), Seq: *u.ID, GlobalSeq: true}
	switch {
	case u.Message != nil:
		m := u.Message
		if !privateChat(m.Chat) {
			return in, false
		}
		fromMessage(&in, m)
		in.Media = parseMedia(m)
		in.ReplyTo = replyText(m.ReplyTo, pc.botID)
		in.Contact = parseContact(m)
		// A text that cleaning empties (only control characters) is
		// answered like a message without text.
		text := bot.CleanText(m.Text)
		if name, args, isCmd := platform.ParseCommand(text); isCmd {
			in.Kind, in.Command, in.Args = bot.InCommand, name, args
		} else if text != "" {
			in.Kind, in.Text = bot.InText, text
		} else {
			// InMedia always carries Media: what is not recognised (a
			// poll, a dice, a game, a text with nothing left) is MediaOther.
			in.Kind, in.Text = bot.InMedia, bot.CleanText(m.Caption)
			if in.Media == nil {
				in.Media = &bot.Media{Kind: bot.MediaOther}
			}
		}
	case u.EditedMessage != nil:
		m := u.EditedMessage
		if !privateChat(m.Chat) {
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
		if data == "" || (!privateChat(c) && !isVolunteerChat(c, pc.volunteerChat)) {
			return in, false
		}
		in.Key = key(c.ID)
		in.Kind, in.Data = bot.InButton, data
		setUser(&in, &q.From)
		in.At = now
	case u.MyChatMember != nil:
		cm := u.MyChatMember
		if !privateChat(cm.Chat) {
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

// privateChat reports whether c is a private chat with a user: its type
// says so and its id is a user's, above 0 (groups and channels have
// negative ids; an update that claims otherwise is not Telegram's).
func privateChat(c chat) bool {
	return c.Type == models.ChatTypePrivate && c.ID > 0
}

// isVolunteerChat reports whether c is the configured volunteers' group.
func isVolunteerChat(c chat, volunteerChat int64) bool {
	return volunteerChat != 0 && c.ID == volunteerChat &&
		(c.Type == models.ChatTypeGroup || c.Type == models.ChatTypeSupergroup)
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
	in.Name = oneLine(bot.CleanText(u.FirstName + " " + u.LastName))
	in.LangHint = bot.CleanText(u.LanguageCode)
}

// maxFileID bounds a file_id taken into a Ref; Telegram's are under 200
// characters.
const maxFileID = 256

// parseMedia reads what a message carries besides text, or nil for none.
// An attachment without a usable file_id, or in a shape this adapter does not
// expect, is MediaOther without a Ref, so a relayable kind always has one.
// An animation (a GIF) is MediaOther too: Telegram also describes it as a
// document, but a file_id of an animation cannot be sent as one.
func parseMedia(m *message) *bot.Media {
	switch {
	case present(m.Animation):
		return &bot.Media{Kind: bot.MediaOther}
	case present(m.Photo):
		var sizes []file
		if json.Unmarshal(m.Photo, &sizes) != nil {
			return &bot.Media{Kind: bot.MediaOther}
		}
		var best *file
		for i := range sizes {
			p := &sizes[i]
			if best == nil || p.Width*p.Height > best.Width*best.Height ||
				(p.Width*p.Height == best.Width*best.Height && p.FileSize > best.FileSize) {
				best = p
			}
		}
		if best == nil {
			return &bot.Media{Kind: bot.MediaOther}
		}
		return fileMedia(bot.MediaPhoto, best)
	case present(m.Document):
		return decodeFile(bot.MediaDocument, m.Document)
	case present(m.Voice):
		return decodeFile(bot.MediaVoice, m.Voice)
	case present(m.Audio):
		return decodeFile(bot.MediaAudio, m.Audio)
	case present(m.Video):
		return decodeFile(bot.MediaVideo, m.Video)
	case present(m.VideoNote):
		return decodeFile(bot.MediaVideo, m.VideoNote)
	case present(m.Sticker):
		md := decodeFile(bot.MediaSticker, m.Sticker)
		md.Kind = bot.MediaSticker // a sticker needs no Ref to be answered
		return md
	case present(m.Location):
		return &bot.Media{Kind: bot.MediaLocation}
	case present(m.Contact):
		return &bot.Media{Kind: bot.MediaContact}
	}
	return nil
}

// parseContact reads a shared contact card: its phone number (digits and a
// leading +, at most 20) and whether it is the sender's own.
func parseContact(m *message) *bot.Contact {
	if !present(m.Contact) {
		return nil
	}
	var c struct {
		Phone  string `json:"phone_number"`
		UserID int64  `json:"user_id"`
	}
	if json.Unmarshal(m.Contact, &c) != nil {
		return nil
	}
	phone := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '+' {
			return r
		}
		return -1
	}, c.Phone)
	if len(phone) < 6 || len(phone) > 20 {
		return nil
	}
	return &bot.Contact{Phone: phone, Own: m.From != nil && c.UserID != 0 && c.UserID == m.From.ID}
}

// present reports whether a field was sent with a value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

func decodeFile(kind bot.MediaKind, raw json.RawMessage) *bot.Media {
	var f file
	if json.Unmarshal(raw, &f) != nil {
		return &bot.Media{Kind: bot.MediaOther}
	}
	return fileMedia(kind, &f)
}

func fileMedia(kind bot.MediaKind, f *file) *bot.Media {
	if !validFileID(f.FileID) {
		return &bot.Media{Kind: bot.MediaOther}
	}
	return &bot.Media{
		Kind: kind,
		Ref:  refPrefix + f.FileID,
		Name: oneLine(bot.CleanText(f.FileName)),
		MIME: cleanMIME(f.MIMEType),
		Size: max(f.FileSize, 0),
	}
}

// refPrefix starts the Ref of a file kept by Telegram.
const refPrefix = "telegram:"

// validFileID reports whether id looks like a Telegram file_id (URL-safe
// base64), so a Ref never carries anything else into a later request.
func validFileID(id string) bool {
	if id == "" || len(id) > maxFileID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// cleanMIME keeps a MIME type that looks like one ("image/jpeg"), lower
// case, and drops anything else.
func cleanMIME(s string) string {
	s = strings.ToLower(strings.TrimSpace(bot.CleanText(s)))
	typ, sub, ok := strings.Cut(s, "/")
	if !ok || typ == "" || sub == "" || len(s) > 127 || strings.ContainsFunc(s, unicode.IsSpace) {
		return ""
	}
	return s
}

// oneLine joins the words of s with single spaces: names are shown inside
// other texts.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// replyText is the text, else the caption, of the message replied to,
// cleaned, when that message is the bot's own; "" otherwise. A resident's
// or volunteer's own message quoted back is never taken for one of the
// bot's ("#12 · …" typed by anyone).
func replyText(raw json.RawMessage, botID int64) string {
	if !present(raw) || botID == 0 {
		return ""
	}
	var r struct {
		From    *user  `json:"from"`
		Text    string `json:"text"`
		Caption string `json:"caption"`
	}
	if json.Unmarshal(raw, &r) != nil || r.From == nil || r.From.ID != botID {
		return ""
	}
	return cmp.Or(bot.CleanText(r.Text), bot.CleanText(r.Caption))
}
