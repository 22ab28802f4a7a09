package bot

import (
	"context"
	"time"

	"github.com/gocua/gocua/flows"
)

// Conversations keeps conversation state in Redis. Implemented by store.Redis.
type Conversations interface {
	// Load returns the stored conversation (Version 0 and a zero Flow state if
	// none) and whether updateID was already committed for this conversation.
	// One Redis round trip.
	Load(ctx context.Context, key ConvKey, updateID string) (c Conversation, seen bool, err error)
	// Commit stores c atomically if the stored version still equals c.Version
	// and updateID was not committed before: it writes c with Version+1 and a
	// refreshed idle TTL, marks updateID as seen (kept ≥ 48 h), and appends out
	// to the conversation's durable outbox — all in one round trip. It returns
	// the new version, ErrConflict when another writer won, ErrDuplicate when
	// updateID was already committed.
	Commit(ctx context.Context, c Conversation, updateID string, out []Outbound) (version int64, err error)
}

// Outbox is the durable queue of committed but undelivered messages.
// Implemented by store.Redis.
type Outbox interface {
	// Done removes the delivered message with this id from key's outbox.
	Done(ctx context.Context, key ConvKey, id string) error
	// Pending calls fn for every undelivered message of every conversation,
	// in each conversation's order (used at startup to resume sending).
	Pending(ctx context.Context, fn func(Outbound) error) error
}

// Records keeps durable records. Implemented by store.Postgres and store.SQLite.
type Records interface {
	// Record writes what one update did, idempotently: the same (Key,
	// UpdateID) recorded twice has no second effect and returns the same
	// result. It upserts the resident (first/last seen, name, language,
	// reachable), inserts flow events, creates a waiting ticket when Handoff
	// is set (returning its id), and appends Transcript lines to ticket
	// Ticket (or to the new ticket).
	Record(ctx context.Context, r UpdateRecord) (RecordResult, error)
	// SetReachable records that a resident blocked (false) or unblocked (true) the bot.
	SetReachable(ctx context.Context, key ConvKey, reachable bool, at time.Time) error
	// CancelTicket marks a waiting ticket cancelled by the resident.
	CancelTicket(ctx context.Context, id int64, at time.Time) error
}

// UpdateRecord is everything one update changes in PostgreSQL.
type UpdateRecord struct {
	Key      ConvKey
	UpdateID string
	At       time.Time
	Name     string // display name (may be empty)
	Lang     string // resident's chosen language
	// SkipResident tells the store the resident's row is fresh (seen in the
	// last few minutes, same name and language): it may skip refreshing
	// last_seen. Tickets and transcripts still find the resident.
	SkipResident bool
	Events       []flows.Event
	Handoff      *TicketRequest   // create a waiting ticket
	Ticket       int64            // existing open ticket to append Transcript to
	Transcript   []TranscriptLine // masked texts
}

// TicketRequest is what a flow's handoff step asks for.
type TicketRequest struct {
	Flow    string
	Step    string
	Reason  string
	Summary string            // masked, human-readable context for the volunteer
	Vars    map[string]string // answers collected so far (masked)
}

// TranscriptLine is one message of a ticket's transcript (already masked).
type TranscriptLine struct {
	From string // "resident" or "bot"
	Text string
	At   time.Time
}

// RecordResult is what Record created.
type RecordResult struct {
	TicketID int64 // the new ticket's id, when Handoff was set
}

// Deliverer sends one message on a platform. Implemented by each channel adapter.
// It returns a *RetryAfterError when the platform asks to slow down, an error
// wrapping ErrUnreachable when the resident blocked the bot, and any other error
// for failures worth retrying.
type Deliverer interface {
	Deliver(ctx context.Context, out Outbound) error
}

// Limits are a channel's message limits.
type Limits struct {
	MaxText         int // characters (Telegram counts UTF-16 units: 4096; Zalo 2000)
	MaxCallbackData int // bytes (Telegram 64)
}

// Metrics observes the core. Implemented by the metrics package (Prometheus);
// NopMetrics when metrics are off.
type Metrics interface {
	// Update counts one inbound update by outcome: "ok", "duplicate", "error", "ignored".
	Update(ch Channel, outcome string)
	// FlowEvents counts flow events (steps entered, flows started/completed/abandoned, escalations).
	FlowEvents(ch Channel, events []flows.Event)
	// Send counts one delivery attempt by outcome: "ok", "retry_after", "unreachable", "error", "gave_up".
	Send(ch Channel, lane Lane, outcome string)
	// Queue reports how many messages a channel's sender holds.
	Queue(ch Channel, n int)
}

// NopMetrics discards observations.
type NopMetrics struct{}

func (NopMetrics) Update(Channel, string)            {}
func (NopMetrics) FlowEvents(Channel, []flows.Event) {}
func (NopMetrics) Send(Channel, Lane, string)        {}
func (NopMetrics) Queue(Channel, int)                {}

// Preferences records a resident's choices. Implemented by the durable stores.
type Preferences interface {
	// SetBroadcastOptIn records whether the resident wants reminders and
	// broadcasts (/stop turns them off; /start turns them back on).
	SetBroadcastOptIn(ctx context.Context, key ConvKey, optIn bool, at time.Time) error
}
