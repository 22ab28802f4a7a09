package oa

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// flexString is a JSON string, or a number kept as its literal text: Zalo
// sends ids and timestamps as strings, but a 19-digit id must never pass
// through float64 if one arrives as a number. null is "".
type flexString string

var errNotScalar = errors.New("not a string or a number")

// UnmarshalJSON reads a string, a number's literal text, or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errNotScalar
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case string(b) == "null":
		*f = ""
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*f = flexString(b) // the decoder has checked it is a number
	default:
		return errNotScalar
	}
	return nil
}

// event is the part of a webhook body the adapter reads. What differs
// between event kinds is kept raw and decoded leniently when converted: an
// attachment in a shape this adapter does not expect becomes MediaOther
// instead of refusing a valid, signed event.
type event struct {
	AppID     flexString      `json:"app_id"`
	OAID      flexString      `json:"oa_id"`
	EventName string          `json:"event_name"`
	Timestamp flexString      `json:"timestamp"`
	Sender    json.RawMessage `json:"sender"`
	Recipient json.RawMessage `json:"recipient"`
	Follower  json.RawMessage `json:"follower"`
	Message   json.RawMessage `json:"message"`
	Info      json.RawMessage `json:"info"`
}

var (
	errNotObject = errors.New("not a JSON object")
	errNoAppID   = errors.New("app_id missing")
	errNoEvent   = errors.New("event_name missing")
)

// decodeEvent parses a webhook body: a JSON object with app_id and
// event_name. Only malformed JSON, a body that is not an object, or
// envelope fields of the wrong type are errors; unknown fields and event
// kinds are not.
func decodeEvent(body []byte) (*event, error) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errNotObject
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, err
	}
	switch {
	case ev.AppID == "":
		return nil, errNoAppID
	case ev.EventName == "":
		return nil, errNoEvent
	}
	return &ev, nil
}

// millis parses an epoch-milliseconds timestamp.
func millis(s string) (int64, bool) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// party is a sender, recipient or follower.
type party struct {
	ID   flexString `json:"id"`
	Name string     `json:"display_name"` // not documented; read when present
}

func decodeParty(raw json.RawMessage) party {
	var p party
	if present(raw) && json.Unmarshal(raw, &p) != nil {
		return party{}
	}
	return p
}

// message is a user_send_* or oa_send_* event's message.
type message struct {
	MsgID       flexString   `json:"msg_id"`
	Text        string       `json:"text"`
	Attachments []attachment `json:"attachments"`
}

type attachment struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// payload is what the attachment kinds carry, as far as integrations
// describe them (Zalo documents the image's only): url and thumbnail
// (image, gif, audio, video), url, name and size (file), url and
// description (link), id and url (sticker), coordinates (location).
type payload struct {
	URL         string     `json:"url"`
	Name        string     `json:"name"`
	Size        flexString `json:"size"`
	Description string     `json:"description"`
}

// decodeMessage reads a message leniently: when its shape is unexpected,
// the text alone, or nothing.
func decodeMessage(raw json.RawMessage) message {
	var m message
	if !present(raw) {
		return m
	}
	if json.Unmarshal(raw, &m) == nil {
		return m
	}
	var textOnly struct {
		MsgID flexString `json:"msg_id"`
		Text  string     `json:"text"`
	}
	if json.Unmarshal(raw, &textOnly) == nil {
		return message{MsgID: textOnly.MsgID, Text: textOnly.Text}
	}
	return message{}
}

func decodePayload(raw json.RawMessage) payload {
	var p payload
	if present(raw) && json.Unmarshal(raw, &p) != nil {
		return payload{}
	}
	return p
}

// present reports whether a field was sent with a value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// convert turns a verified event into the core's Inbound(s): usually one;
// one per attachment when a message carries several; none for events gocua
// does not handle (reason then says why, for the logs). Every text a
// resident or an agent wrote passes through bot.CleanText. oaID, when not
// "", is this OA's id: events for another OA are ignored.
func convert(ev *event, oaID string) (ins []bot.Inbound, reason string) {
	ts, ok := millis(string(ev.Timestamp))
	if !ok {
		return nil, "no timestamp"
	}
	base := bot.Inbound{Seq: ts, At: time.UnixMilli(ts)}
	name := ev.EventName
	switch {
	case name == "follow" || name == "unfollow":
		f := decodeParty(ev.Follower)
		if f.ID == "" { // follow events name the follower; fall back to a sender
			f = decodeParty(ev.Sender)
		}
		if !sameOA(oaID, string(ev.OAID), string(decodeParty(ev.Recipient).ID)) {
			return nil, "another OA"
		}
		in, ok := withUser(base, f)
		if !ok {
			return nil, "no follower id"
		}
		in.UpdateID = name + ":" + in.UserID + ":" + string(ev.Timestamp)
		if name == "follow" {
			in.Kind, in.Command = bot.InCommand, "start" // a new follower is welcomed
		} else {
			in.Kind = bot.InBlocked
		}
		return []bot.Inbound{in}, ""
	case name == "user_submit_info":
		if !sameOA(oaID, string(ev.OAID), string(decodeParty(ev.Recipient).ID)) {
			return nil, "another OA"
		}
		in, ok := withUser(base, decodeParty(ev.Sender))
		if !ok {
			return nil, "no sender id"
		}
		in.UpdateID = name + ":" + in.UserID + ":" + string(ev.Timestamp)
		in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaContact}
		var info struct {
			Name  string `json:"name"`
			Phone string `json:"phone"`
		}
		if present(ev.Info) && json.Unmarshal(ev.Info, &info) == nil {
			if n := oneLine(bot.CleanText(info.Name)); n != "" {
				in.Name = n
			}
			if p := phone(info.Phone); p != "" {
				in.Contact = &bot.Contact{Phone: p, Own: true} // the form shares the resident's own number
			}
		}
		return []bot.Inbound{in}, ""
	case strings.HasPrefix(name, "user_send_"):
		if !sameOA(oaID, string(ev.OAID), string(decodeParty(ev.Recipient).ID)) {
			return nil, "another OA"
		}
		in, ok := withUser(base, decodeParty(ev.Sender))
		if !ok {
			return nil, "no sender id"
		}
		m := decodeMessage(ev.Message)
		in.UpdateID = updateID(string(m.MsgID), name, in.UserID, string(ev.Timestamp))
		return userMessage(in, name, m), ""
	case strings.HasPrefix(name, "oa_send_") && !strings.HasPrefix(name, "oa_send_anonymous"):
		// An echo: the OA is the sender, the resident the recipient. Who
		// wrote it (gocua or a person in OA Manager) is decided by Run.
		sender := decodeParty(ev.Sender)
		if !sameOA(oaID, string(ev.OAID), string(sender.ID)) {
			return nil, "another OA"
		}
		in, ok := withUser(base, decodeParty(ev.Recipient))
		if !ok {
			return nil, "no recipient id"
		}
		in.UserID, in.Name = "", "" // the OA wrote it, not the resident
		if validID(string(sender.ID)) {
			in.UserID = string(sender.ID)
		}
		m := decodeMessage(ev.Message)
		in.UpdateID = updateID(string(m.MsgID), name, in.Key.ChatID, string(ev.Timestamp))
		in.Kind, in.Text = bot.InTakeover, strings.TrimSpace(bot.CleanText(m.Text))
		return []bot.Inbound{in}, ""
	}
	return nil, "not handled"
}

// sameOA reports whether an event is for this OA: when oaID is known and
// the event names an OA, they must match.
func sameOA(oaID string, named ...string) bool {
	if oaID == "" {
		return true
	}
	for _, n := range named {
		if n != "" {
			return n == oaID
		}
	}
	return true
}

// withUser keys in by a resident's id, which must look like one.
func withUser(in bot.Inbound, p party) (bot.Inbound, bool) {
	id := string(p.ID)
	if !validID(id) {
		return in, false
	}
	in.Key = bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: id}
	in.UserID = id
	in.Name = oneLine(bot.CleanText(p.Name))
	return in, true
}

// maxID bounds a user id taken into a key; Zalo's are 16 to 19 digits.
const maxID = 64

// validID reports whether id looks like a Zalo id: digits (letters, "-"
// and "_" are tolerated), so a key never carries anything else into Redis
// keys, logs or a later request.
func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxMsgID bounds a msg_id taken as an update id.
const maxMsgID = 128

// updateID is the message's msg_id, or, when it has none usable, one made
// of the event's name, user and timestamp.
func updateID(msgID, event, user, ts string) string {
	if msgID != "" && len(msgID) <= maxMsgID && strings.IndexFunc(msgID, func(r rune) bool {
		return r <= ' ' || r >= 0x7f
	}) < 0 {
		return msgID
	}
	return logName(event) + ":" + user + ":" + ts
}

// userMessage fills in what a resident sent: a text, a button tap, a
// command or an attachment.
func userMessage(in bot.Inbound, event string, m message) []bot.Inbound {
	text := bot.CleanText(m.Text)
	switch event {
	case "user_send_text":
		if data, ok := strings.CutPrefix(text, ButtonPrefix); ok && strings.TrimSpace(data) != "" {
			in.Kind, in.Data = bot.InButton, strings.TrimSpace(data)
		} else if name, args, ok := platform.ParseCommand(text); ok {
			in.Kind, in.Command, in.Args = bot.InCommand, name, args
		} else if strings.TrimSpace(text) != "" {
			in.Kind, in.Text = bot.InText, text
		} else {
			// a text that cleaning empties is answered like a message
			// without text
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaOther}
		}
		return []bot.Inbound{in}
	case "user_send_link":
		link := ""
		for _, at := range m.Attachments {
			if u := cleanURL(decodePayload(at.Payload).URL); u != "" {
				link = u
				break
			}
		}
		switch {
		case link != "" && !strings.Contains(text, link):
			text = strings.TrimSpace(strings.TrimSpace(text) + "\n" + link)
		case strings.TrimSpace(text) == "":
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaOther}
			return []bot.Inbound{in}
		}
		in.Kind, in.Text = bot.InText, text
		return []bot.Inbound{in}
	}
	kind, withRef := mediaKind(event)
	in.Kind, in.Text = bot.InMedia, text
	if !withRef {
		in.Media = &bot.Media{Kind: kind}
		return []bot.Inbound{in}
	}
	var out []bot.Inbound
	for _, at := range m.Attachments {
		p := decodePayload(at.Payload)
		u := cleanURL(p.URL)
		if u == "" {
			continue
		}
		md := &bot.Media{Kind: kind, Ref: RefPrefix + u}
		if kind == bot.MediaDocument {
			md.Name = oneLine(bot.CleanText(p.Name))
			if n, ok := millis(string(p.Size)); ok {
				md.Size = n
			}
		}
		next := in
		next.Media = md
		if len(out) > 0 { // one Inbound per attachment; the text goes with the first
			next.Text = ""
			next.UpdateID = in.UpdateID + "#" + strconv.Itoa(len(out)+1)
		}
		out = append(out, next)
	}
	if len(out) == 0 {
		// nothing usable to relay: a relayable kind must have a Ref
		in.Media = &bot.Media{Kind: bot.MediaOther}
		return []bot.Inbound{in}
	}
	return out
}

// mediaKind is what a user_send_* event carries, and whether its
// attachments are files that can be fetched (and relayed) by their url.
func mediaKind(event string) (bot.MediaKind, bool) {
	switch event {
	case "user_send_image":
		return bot.MediaPhoto, true
	case "user_send_file":
		return bot.MediaDocument, true
	case "user_send_audio":
		return bot.MediaVoice, true // Zalo's audio messages are voice notes
	case "user_send_video":
		return bot.MediaVideo, true
	case "user_send_sticker", "user_send_gif":
		return bot.MediaSticker, false
	case "user_send_location":
		return bot.MediaLocation, false
	case "user_send_business_card":
		return bot.MediaContact, false // someone's card, not the sender's own number
	}
	return bot.MediaOther, false
}

// maxURL bounds an attachment address taken into a Ref.
const maxURL = 2048

// cleanURL is u when it is an absolute http(s) address without spaces or
// control characters, else "".
func cleanURL(u string) string {
	if u == "" || len(u) > maxURL || strings.IndexFunc(u, func(r rune) bool {
		return r <= ' ' || r == 0x7f || unicode.IsSpace(r) || r == utf8.RuneError
	}) >= 0 {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil {
		return ""
	}
	return u
}

// phone keeps a phone number's digits, and a leading "+" (Zalo sends
// "84912345678"), or "" when that leaves fewer than 6 or more than 20
// characters.
func phone(s string) string {
	s = strings.TrimSpace(s)
	p := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if strings.HasPrefix(s, "+") {
		p = "+" + p
	}
	if len(p) < 6 || len(p) > 20 {
		return ""
	}
	return p
}

// oneLine joins the words of s with single spaces: names are shown inside
// other texts.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
