package bot

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/gocua/gocua/flows"
)

// Desk is the volunteer desk as the conversation loop reaches it
// (bot/handoff implements it). For each update the loop asks the desk
// first: updates from the volunteers' group and from staff chats are the
// desk's, and so are a resident's while a volunteer handles their ticket.
// The desk answers with a plan, which the loop records and commits exactly
// as it commits a flow's answer: the update's replies and its messages to
// other conversations go out once, in order, even when the update is
// delivered again after a crash.
type Desk interface {
	Route(ctx context.Context, t DeskTurn) (DeskPlan, error)
	// Shared reports that key's updates are independent from one user to
	// the next (the volunteers' group, where many tap at once): the loop
	// orders them per user rather than per chat.
	Shared(key ConvKey) bool
}

// DeskTurn is one update as the desk sees it.
type DeskTurn struct {
	In   Inbound
	Conv Conversation // as loaded; Conv.Version 0 means a new (or expired) conversation
	Set  *flows.Set   // for texts
	Now  time.Time
}

// DeskPlan is the desk's answer. With Handled false the update goes on to
// the resident flows, with Conv as the desk left it (a ticket that closed
// meanwhile is cleared from it).
type DeskPlan struct {
	Handled bool
	Conv    Conversation
	// Out are replies to the update's own conversation, in order (their
	// ids are given by the loop).
	Out []Outbound
	// Relays are messages for other conversations (each with its Key),
	// appended to their outboxes once per update, in order per
	// conversation. Their ids must be unique: RelayID makes them.
	Relays []Outbound
	// Transcript lines for the resident's open ticket (Conv.Ticket).
	Transcript []TranscriptLine
	// Ack answers a button tap.
	Ack Ack
	// Stateless says the chat keeps no conversation state (the volunteers'
	// group, where every volunteer taps at once): the update is only
	// marked as handled, so taps never contend for one state (Out must be
	// empty; replies go out as Relays).
	Stateless bool
}

// RelayID is the id of the n-th message an update sends to other
// conversations.
func RelayID(in Inbound, n int) string {
	return "d:" + in.Key.String() + ":" + in.UpdateID + "/" + strconv.Itoa(n)
}

// DataCallback is the button a resident waiting outside volunteer hours
// taps to leave their phone number (the desk handles it).
const DataCallback = "dk:callback"

// DeskState is what a conversation remembers for the desk.
type DeskState struct {
	// Staff marks a volunteer's or organizer's private chat (the store
	// decides; this saves a lookup per update).
	Staff bool `json:"s,omitempty"`
	// Active is the ticket a volunteer's plain messages go to.
	Active int64 `json:"a,omitempty"`
	// Await says what the chat's next text answers: a note, a rating
	// comment for a ticket ("comment:12"), a step of an application.
	Await string `json:"w,omitempty"`
	// Apply holds an application being filled in (areas, skills).
	Apply []string `json:"p,omitempty"`
	// Visit holds a field visit being logged with /visit (the desk's own
	// encoding: the loop only keeps it).
	Visit json.RawMessage `json:"v,omitempty"`
}
