// Package bot is gocua's core: the vocabulary every channel speaks (Inbound,
// Outbound, Conversation) and the use cases built on it (a resident's
// conversation, handoff tickets, sending). It imports no channel adapter and no
// storage driver; it declares the small interfaces it consumes and the adapters
// and store implement them.
package bot

import (
	"errors"
	"fmt"
	"time"

	"github.com/gocua/gocua/flows"
)

// Channel names a messaging platform. Values are stable: they are stored in
// PostgreSQL and appear in Redis keys and metrics.
type Channel string

const (
	ChannelTelegram Channel = "telegram"
	ChannelZaloBot  Channel = "zalo-bot"
	ChannelZaloOA   Channel = "zalo-oa"
	ChannelWeb      Channel = "web"
	// ChannelDashboard is a volunteer's web inbox (bot/dashboard): its
	// conversation is the volunteer's desk on the web, its chat id the
	// volunteer's id. Residents never write on it.
	ChannelDashboard Channel = "dashboard"
)

// ConvKey identifies one conversation: a chat on a channel.
type ConvKey struct {
	Channel Channel
	ChatID  string
}

func (k ConvKey) String() string { return string(k.Channel) + ":" + k.ChatID }

// InboundKind says what a resident did.
type InboundKind int

const (
	InText      InboundKind = iota + 1 // typed a message
	InButton                           // tapped an inline button (Data holds its payload)
	InCommand                          // sent a /command (Command holds its name, lower case, without "/" or "@bot")
	InEdited                           // edited an earlier message: acknowledged politely, not re-run
	InBlocked                          // blocked the bot: mark unreachable
	InUnblocked                        // unblocked / restarted the bot: mark reachable
	InMedia                            // sent a photo, sticker, voice… without text
	// InProtected: the platform withheld what the resident sent (Zalo's
	// message.unsupported.received for protected users: children, people
	// with disabilities…): answered with a generic message and a person.
	InProtected
	// InTakeover: a person answered this resident outside gocua (an agent
	// in Zalo OA Manager); Text is what they wrote. The bot keeps quiet in
	// the conversation for Config.TakeoverQuiet.
	InTakeover
)

// Inbound is one thing a resident did, already parsed out of its platform's JSON.
type Inbound struct {
	Key      ConvKey
	UpdateID string // platform's delivery id; the dedupe key (unique per channel)
	Seq      int64  // ordering key within a conversation (Telegram update_id)
	// GlobalSeq says that Seq counts every update of the channel, not just
	// this conversation's (Telegram's update_id): the core then knows that
	// no lower-numbered update of the conversation can still arrive once
	// every Seq below this one has.
	GlobalSeq bool
	Kind      InboundKind
	Text      string    // typed text (InText) or caption
	Data      string    // button payload (InButton)
	Command   string    // command name (InCommand), e.g. "start"
	Args      string    // text after the command
	UserID    string    // platform user id of the sender
	Name      string    // display name, for greetings ("{name}")
	LangHint  string    // platform language code of the user, e.g. "vi", "en-US"
	At        time.Time // when the platform says it was sent
	// Media is what a message carried besides text (InMedia, or InText
	// with a caption): a photo, voice note, document, sticker, location…
	Media *Media
	// ReplyTo is the text (or caption) of the bot's own message this one
	// answers, when the platform says so: a volunteer replying to a relayed
	// message ("#12 · …") answers that ticket's resident.
	ReplyTo string
	// Contact is a shared contact card (Media kind contact): the phone
	// number, and whether it is the sender's own (Telegram's
	// request_contact button shares only one's own).
	Contact *Contact
}

// Contact is a phone number a resident shared.
type Contact struct {
	Phone string
	Own   bool
}

// MediaKind names what a message carries besides text. Values are stable:
// they are stored with transcripts.
type MediaKind string

const (
	MediaPhoto    MediaKind = "photo"
	MediaDocument MediaKind = "document"
	MediaVoice    MediaKind = "voice"
	MediaAudio    MediaKind = "audio"
	MediaVideo    MediaKind = "video"
	MediaSticker  MediaKind = "sticker"
	MediaLocation MediaKind = "location"
	MediaContact  MediaKind = "contact"
	MediaOther    MediaKind = "other"
)

// Relayable reports whether a volunteer and a resident can pass this kind
// on to each other (a sticker, a location or a contact card is answered
// rather than relayed).
func (k MediaKind) Relayable() bool {
	switch k {
	case MediaPhoto, MediaDocument, MediaVoice, MediaAudio, MediaVideo:
		return true
	}
	return false
}

// CanSend reports whether a message with media of kind k can be sent to a
// chat on ch: a relayable kind, and on the Zalo channels (whose APIs send
// photos only) a photo.
func (ch Channel) CanSend(k MediaKind) bool {
	switch ch {
	case ChannelZaloBot, ChannelZaloOA:
		return k == MediaPhoto
	}
	return k.Relayable()
}

// Media is a file or an attachment, by reference: the bytes stay with the
// platform (or, for web chat uploads, in the store).
type Media struct {
	Kind MediaKind `json:"k"`
	// Ref says where the file is, prefixed by who can read it:
	// "telegram:<file_id>" (usable by this bot in any Telegram chat),
	// "web:<upload id>" (a web chat upload kept in the store).
	Ref  string `json:"r,omitempty"`
	Name string `json:"n,omitempty"` // a document's file name
	MIME string `json:"m,omitempty"`
	Size int64  `json:"s,omitempty"` // bytes; 0 when the platform does not say
}

// Ack is what the core answers a button tap with, for platforms that show
// it (Telegram's answerCallbackQuery): a short notice, or an alert the user
// must dismiss. The zero Ack just stops the button's spinner.
type Ack struct {
	Text  string
	Alert bool
}

// Lane says how urgent an Outbound is. Replies never wait behind bulk traffic.
type Lane int

const (
	LaneReply Lane = iota // answers to a resident's own message
	LaneBulk              // broadcasts and reminders
)

// Button is one inline button: either Data (a callback payload ≤ 64 bytes) or URL.
type Button struct {
	Text string `json:"t"`
	Data string `json:"d,omitempty"`
	URL  string `json:"u,omitempty"`
}

// Outbound is one message to send to a chat.
type Outbound struct {
	ID      string     `json:"id"` // stable id: "<update id>/<n>", used for idempotent sends and logs
	Key     ConvKey    `json:"k"`
	Text    string     `json:"x"`
	Buttons [][]Button `json:"b,omitempty"`
	Lane    Lane       `json:"l,omitempty"`
	// Media, when set, is sent with Text as its caption.
	Media *Media `json:"m,omitempty"`
	// AskContact, when set, is the label of a button that shares the
	// resident's own phone number (Telegram's request_contact keyboard),
	// with Decline as a second button; it replaces Buttons. Channels that
	// cannot ask send the text alone.
	AskContact string `json:"ac,omitempty"`
	Decline    string `json:"ad,omitempty"`
	// ClearKeyboard takes such a keyboard away again.
	ClearKeyboard bool `json:"ck,omitempty"`
	// Paid lets Telegram deliver this bulk message beyond its free 30 a
	// second, for a fee (allow_paid_broadcast).
	Paid bool `json:"pd,omitempty"`
	// Lang is the resident's language when the core knows it ("" means the
	// default): channels that add words of their own (a numbered menu's
	// "reply 1, 2 or 3") use it.
	Lang string `json:"lg,omitempty"`
}

// Conversation is a resident's conversation state kept in Redis.
type Conversation struct {
	Key     ConvKey     `json:"-"`
	Version int64       `json:"-"` // CAS version; 0 = no state stored yet
	Flow    flows.State `json:"f"`
	// Ticket is the open handoff ticket id (0 if none).
	Ticket int64 `json:"t,omitempty"`
	// LastSeq is the highest Seq processed, to spot out-of-order deliveries.
	LastSeq int64 `json:"s,omitempty"`
	// Noticed is when the resident was last told their ticket is waiting,
	// so messages written while waiting are acknowledged without flooding.
	Noticed time.Time `json:"w,omitempty"`
	// Refreshed is when the resident's durable row (last seen, name,
	// language) was last written; see UpdateRecord.SkipResident.
	Refreshed time.Time `json:"r,omitempty"`
	// Desk is what the volunteer desk keeps for this chat.
	Desk DeskState `json:"d,omitzero"`
	// Area is the resident's commune/ward code (also kept in the durable
	// store, read back when a conversation starts afresh).
	Area string `json:"ar,omitempty"`
	// Intake is a request for a volunteer being asked about (see Intake).
	Intake *Intake `json:"in,omitempty"`
	// Consent is the resident's answer about broadcasts (read from the
	// durable store when a conversation starts; "" when there is none), and
	// ConsentAsked says this conversation has asked it already.
	Consent      Consent `json:"c,omitempty"`
	ConsentAsked bool    `json:"ca,omitempty"`
	// Quiet is until when the bot keeps quiet because a person answered
	// outside gocua (InTakeover); a command or a button tap ends it.
	Quiet time.Time `json:"q,omitzero"`
	// Draft is a broadcast an organizer is writing in this chat.
	Draft     *BroadcastDraft `json:"bd,omitempty"`
	UpdatedAt time.Time       `json:"u"`

	// Record is not part of the state. Given to Commit, it is the durable
	// record of the update being committed, which the core writes after
	// the commit (so the replies need not wait for PostgreSQL): the
	// update's dedupe marker keeps it until the marker expires. Loaded for
	// an update already committed, it is that record, when its marker kept
	// one: a re-delivery writes it again (Records are idempotent), since
	// the attempt that committed may have stopped before its record was in.
	Record *UpdateRecord `json:"-"`
}

// BroadcastDraft is an organizer's broadcast as the chat wizard collects
// it (bot/broadcast): the step it waits at and what was given so far.
type BroadcastDraft struct {
	Step     string   `json:"s"`
	Text     string   `json:"t,omitempty"`
	Image    string   `json:"i,omitempty"`
	Buttons  []string `json:"b,omitempty"` // "label=flow"
	Audience string   `json:"a,omitempty"`
	When     string   `json:"w,omitempty"` // "now" or "2006-01-02 15:04"
}

// HistoryItem is one stored message of a conversation's history (the web
// chat keeps one per visitor, so a reload or a later visit shows what was
// said).
type HistoryItem struct {
	Seq  int64  // increasing per conversation, from 1
	ID   string // the id it was appended with
	Data []byte // the message as its channel encoded it
}

// SigningKey is a secret that signs tokens handed to browsers (a web chat
// visitor's cookie). Keys are rotated: the newest signs, older ones still
// verify what they signed until they are retired; ID names the key in a token.
type SigningKey struct {
	ID      int64
	Secret  []byte
	Created time.Time
}

// Errors shared by the core and its adapters.
var (
	// ErrConflict: a compare-and-set lost against a concurrent writer; retry.
	ErrConflict = errors.New("bot: conversation changed concurrently")
	// ErrDuplicate: this update was already committed; do nothing.
	ErrDuplicate = errors.New("bot: duplicate update")
	// ErrBusy: the core holds as many updates as it may (Config.MaxInFlight);
	// nothing of this one was done: answer so that the platform delivers it
	// again (503).
	ErrBusy = errors.New("bot: too many updates in flight")
	// ErrUnreachable: the platform says the resident blocked the bot or is gone.
	ErrUnreachable = errors.New("bot: resident unreachable")
	// ErrRejected: the platform refused this message as it is (too long, bad
	// markup or buttons, not a chat of this channel): sending it again cannot
	// help, and the resident is not to blame. A Deliverer wraps it.
	ErrRejected = errors.New("bot: message rejected by the platform")
	// ErrWindow: the platform only lets the bot write to a resident for a
	// while after their last message (Zalo OA: 7 days), and that time is
	// over. It wraps ErrRejected: nothing is sent until the resident writes.
	ErrWindow = fmt.Errorf("bot: outside the platform's messaging window: %w", ErrRejected)
)

// RetryAfterError is returned by a Deliverer when the platform asks us to slow
// down (Telegram 429 retry_after).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.After, e.Err)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }
