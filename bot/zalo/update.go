package zalo

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// Event names the Bot Platform sends.
const (
	EventText        = "message.text.received"
	EventImage       = "message.image.received"
	EventSticker     = "message.sticker.received"
	EventVoice       = "message.voice.received"
	EventUnsupported = "message.unsupported.received"
)

// RefPrefix starts the Media.Ref of a file a Zalo resident sent:
// "zalo-bot:<the address Zalo gave>" (see OpenMedia).
const RefPrefix = "zalo-bot:"

// wire is a webhook body: the documented envelope {ok, result:{event_name,
// message}} or, as some senders post it, the bare event.
type wire struct {
	Result *event `json:"result"`
	event
}

// event is the part of a Zalo update the adapter reads.
type event struct {
	Name    *string  `json:"event_name"`
	Message *message `json:"message"`
}

type message struct {
	ID      zid    `json:"message_id"`
	Date    msDate `json:"date"`
	From    *user  `json:"from"`
	Chat    *chat  `json:"chat"`
	Text    string `json:"text"`
	Caption string `json:"caption"`
	// Attachments are read leniently: a field in a shape the adapter does
	// not expect is taken as absent rather than refusing the event.
	Photo    lenientString `json:"photo"`
	PhotoURL lenientString `json:"photo_url"`
	Sticker  lenientString `json:"sticker"`
	URL      lenientString `json:"url"`
	VoiceURL lenientString `json:"voice_url"`
}

type user struct {
	ID          zid           `json:"id"`
	DisplayName lenientString `json:"display_name"`
	IsBot       bool          `json:"is_bot"`
}

type chat struct {
	ID   zid           `json:"id"`
	Type lenientString `json:"chat_type"`
}

// maxID bounds an id taken into a key, in bytes; Zalo's are 20-odd
// hexadecimal digits or 19 decimal ones.
const maxID = 128

// zid is one of Zalo's ids: opaque strings, never numbers (a 19-digit id
// would lose digits as a float). A JSON number is taken by its literal text,
// so an id sent as a number still keeps every digit. Only letters, digits and
// "-", "_", "." are accepted: an id goes into keys and addresses.
type zid string

func (v *zid) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*v = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != "" && !validID(s) {
			return errBadID
		}
		*v = zid(s)
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		s := string(b)
		if !allDigits(strings.TrimPrefix(s, "-")) || !validID(s) {
			return errBadID // 1.5, 1e3
		}
		*v = zid(s)
		return nil
	}
	return errBadID
}

var errBadID = errors.New("zalo: malformed id")

func validID(s string) bool {
	if s == "" || len(s) > maxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// msDate is a date in epoch milliseconds (Telegram's are seconds). A
// number, or a string of digits; anything else (or out of range) is 0, and
// the event is stamped with the time it arrived.
type msDate int64

// maxDate is the year 9999 in epoch milliseconds.
const maxDate = 253402300799999

func (d *msDate) UnmarshalJSON(b []byte) error {
	*d = 0
	s := strings.Trim(string(b), `"`)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 0 && n <= maxDate {
			*d = msDate(n)
		}
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && f >= 1 && f <= maxDate {
		*d = msDate(f)
	}
	return nil
}

// lenientString is a string field that anything but a string leaves empty.
type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
	var v string
	if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &v) == nil {
		*s = lenientString(v)
	} else {
		*s = ""
	}
	return nil
}

var errNoEvent = errors.New("zalo: no event_name")

// decodeUpdate parses a webhook body, in its envelope or bare. Only
// malformed JSON (an id of the wrong type included) or a body without an
// event name is an error; unknown fields and event names are not.
func decodeUpdate(body []byte) (*event, error) {
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	ev := &w.event
	if w.Result != nil {
		ev = w.Result
	}
	if ev.Name == nil {
		return nil, errNoEvent
	}
	return ev, nil
}

// verdict is what convert makes of an event.
type verdict int

const (
	accept  verdict = iota // hand it to the core
	ignore                 // acknowledge, do nothing
	invalid                // refuse as malformed (400)
)

// convert turns an event into the core's Inbound, every text a resident
// wrote passed through bot.CleanText. Events of names gocua does not know,
// in group chats, or from bots are ignored; a known event without
// message_id or chat.id is invalid. A text event still becomes InText (or
// InCommand) here: whether it answers a numbered menu is decided against
// the chat's menu (chooseMenu). now stamps an event without a date.
func convert(ev *event, now time.Time) (bot.Inbound, verdict, string) {
	var in bot.Inbound
	name := *ev.Name
	switch name {
	case EventText, EventImage, EventSticker, EventVoice, EventUnsupported:
	default:
		return in, ignore, "unknown event"
	}
	m := ev.Message
	if m == nil || m.ID == "" || m.Chat == nil || m.Chat.ID == "" {
		return in, invalid, "message_id or chat.id missing"
	}
	if t := strings.ToUpper(string(m.Chat.Type)); t != "" && t != "PRIVATE" {
		return in, ignore, "not a private chat"
	}
	if m.From != nil && m.From.IsBot {
		return in, ignore, "sent by a bot"
	}
	in.Key = bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: string(m.Chat.ID)}
	in.UpdateID = string(m.ID)
	in.Seq = int64(m.Date)
	in.At = now
	if m.Date > 0 {
		in.At = time.UnixMilli(int64(m.Date))
	}
	if m.From != nil {
		in.UserID = string(m.From.ID)
		// one line: a name is shown inside other texts ("Chào {name}")
		in.Name = oneLine(bot.CleanText(string(m.From.DisplayName)))
	}
	switch name {
	case EventText:
		// A text that cleaning empties (only control characters) is
		// answered like a message without text.
		text := bot.CleanText(m.Text)
		if cmd, args, isCmd := platform.ParseCommand(text); isCmd {
			in.Kind, in.Command, in.Args = bot.InCommand, cmd, args
		} else if text != "" {
			in.Kind, in.Text = bot.InText, text
		} else {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaOther}
		}
	case EventImage:
		// like Telegram's photo with a caption: InMedia, the caption as Text
		in.Kind = bot.InMedia
		in.Text = bot.CleanText(m.Caption)
		if in.Text == "" {
			in.Text = bot.CleanText(m.Text)
		}
		in.Media = mediaAt(bot.MediaPhoto, string(m.Photo), string(m.PhotoURL))
	case EventSticker:
		in.Kind = bot.InMedia
		in.Media = &bot.Media{Kind: bot.MediaSticker}
		if u, ok := mediaURL(string(m.URL)); ok {
			in.Media.Ref = RefPrefix + u
		}
	case EventVoice:
		in.Kind = bot.InMedia
		in.Media = mediaAt(bot.MediaVoice, string(m.VoiceURL), string(m.URL))
	case EventUnsupported:
		// Zalo withholds what a protected resident (a child, a person with
		// a disability…) sent, by law: not malformed, answered by a person.
		in.Kind = bot.InProtected
	}
	return in, accept, ""
}

// mediaAt is a file of kind at the first usable address, or MediaOther
// (without a Ref) when none is: a relayable kind always has a Ref.
func mediaAt(kind bot.MediaKind, addrs ...string) *bot.Media {
	for _, a := range addrs {
		if u, ok := mediaURL(a); ok {
			return &bot.Media{Kind: kind, Ref: RefPrefix + u}
		}
	}
	return &bot.Media{Kind: bot.MediaOther}
}

// maxMediaURL bounds a file address taken into a Ref, in bytes.
const maxMediaURL = 2048

// mediaURL checks an address Zalo gave for a file: http(s), with a host,
// printable ASCII without spaces, at most maxMediaURL bytes. Where it may be
// fetched from is checked when it is fetched (NewFetchClient).
func mediaURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxMediaURL {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", false
	}
	return s, true
}

// oneLine joins the words of s with single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// eventName is an event's name fit for a log line: the known ones as they
// are, anything else as "other" (a name is what a sender chose).
func eventName(ev *event) string {
	switch n := *ev.Name; n {
	case EventText, EventImage, EventSticker, EventVoice, EventUnsupported:
		return n
	}
	return "other"
}
