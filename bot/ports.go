package bot

import (
	"context"
	"time"

	"github.com/gocua/gocua/flows"
)

// Conversations keeps conversation state in Redis. Implemented by store.Redis.
type Conversations interface {
	// Load returns the stored conversation (Version 0 and a zero Flow state if
	// none) and whether updateID was already committed for this conversation;
	// when it was, c.Record is the record its commit kept, if any. One Redis
	// round trip.
	Load(ctx context.Context, key ConvKey, updateID string) (c Conversation, seen bool, err error)
	// Commit stores c atomically if the stored version still equals c.Version
	// and updateID was not committed before: it writes c with Version+1 and a
	// refreshed idle TTL, marks updateID as seen (kept ≥ 48 h, with c.Record
	// when it is set; Record is never part of the state), and appends out
	// to the conversation's durable outbox — all in one round trip. Appending
	// takes the outbox's lease for this process unless another live process
	// holds it (see Outbox). It returns ErrConflict when another writer won
	// and ErrDuplicate when updateID was already committed.
	Commit(ctx context.Context, c Conversation, updateID string, out []Outbound) (Committed, error)
}

// PacedCommitter is a Conversations that can also run the sender's pacing
// check for a commit's first message in the commit's own round trip, so a
// reply costs no round trip of its own to be admitted.
type PacedCommitter interface {
	// CommitPaced is Commit plus Pacer.Pace(p) for out[0]: paid reports
	// that the check passed and spent its budget (the message may go at
	// once). The budget may be spent even when the commit fails; a check
	// that fails or says wait spends nothing and reports paid false.
	CommitPaced(ctx context.Context, c Conversation, updateID string, out []Outbound, p Pace) (res Committed, paid bool, err error)
}

// Committed is what a successful Commit did.
type Committed struct {
	Version int64 // the conversation's new version
	// Leased reports that this process holds the lease on the conversation's
	// outbox, so its sender delivers out now. When false another live
	// process holds it and delivers out after what it already holds.
	Leased bool
	// Backlog reports that the outbox already held older messages this
	// process's sender may not hold — the lease was free (they were left by
	// a process that stopped), or another process appended to it under
	// this one's lease: the sender must claim the whole outbox, so they go
	// out first.
	Backlog bool
}

// Outbox is the durable queue of committed but undelivered messages, one per
// conversation, in commit order. Implemented by store.Redis.
//
// A conversation's outbox is delivered by one process at a time: the holder
// of its lease. Commit takes the lease for the committing process; a sender
// renews the leases of the conversations it holds messages for and releases
// them when it stops; a lease not renewed expires, and any process may then
// Claim the outbox — that is how the replies of a crashed process are sent by
// the next one (or by itself, restarted: leases belong to a process identity
// that survives restarts).
type Outbox interface {
	// Claim takes key's outbox for this process and returns what it holds,
	// oldest first, unless another live process holds its lease (held true,
	// nothing returned). An empty outbox returns nothing and drops this
	// process's lease.
	Claim(ctx context.Context, key ConvKey) (msgs []Outbound, held bool, err error)
	// Done removes the message with this id from key's outbox (removing one
	// that is not there is not an error) and returns how many remain. The
	// lease is dropped when none remain.
	Done(ctx context.Context, key ConvKey, id string) (remaining int, err error)
	// TakeStale sweeps channel ch's outboxes last appended to before
	// before, at most limit of them: it claims those no live process holds
	// and returns their messages (each conversation's in order), forgets
	// the ones found empty, and moves the others (held elsewhere) to the
	// back of the sweep. listed is how many it looked at: limit means there
	// may be more.
	TakeStale(ctx context.Context, ch Channel, before time.Time, limit int) (msgs []Outbound, listed int, err error)
	// Renew extends this process's leases on keys (a sender calls it for the
	// conversations it still holds messages for).
	Renew(ctx context.Context, keys []ConvKey) error
	// Release drops this process's leases on keys, so another process may
	// claim them at once (at shutdown, for what was not delivered).
	Release(ctx context.Context, keys []ConvKey) error
}

// OutboxBatch is an Outbox that removes many delivered messages in one
// round trip; the sender gathers its removals when the outbox is one.
type OutboxBatch interface {
	// DoneAll is Done for each of msgs (of any conversations), together:
	// remaining[i] is what msgs[i]'s conversation has left.
	DoneAll(ctx context.Context, msgs []Delivered) (remaining []int, err error)
}

// Delivered names a message that needs no more sending.
type Delivered struct {
	Key ConvKey
	ID  string
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
	// Area is the resident's commune/ward code when the update was handled
	// ("" when not known): flow events carry it for the dashboard.
	Area string
	// SkipResident tells the store the resident's row is fresh (seen in the
	// last few minutes, same name and language): it may skip refreshing
	// last_seen. Tickets and transcripts still find the resident.
	SkipResident bool
	// Rerun says an earlier attempt of this update may have been recorded
	// and then lost its commit to a concurrent writer: the store replaces
	// what that attempt wrote (flow events, transcript lines, a waiting
	// ticket it opened that nothing else joined) with this attempt's.
	Rerun      bool
	Events     []flows.Event
	Handoff    *TicketRequest   // create a waiting ticket
	Ticket     int64            // existing open ticket to append Transcript to
	Transcript []TranscriptLine // masked texts
}

// AfterCommit reports whether r may be written after the commit of its
// update: it opens no ticket (whose id the state and the replies need),
// appends no transcript lines and replaces no earlier attempt — nearly
// every update. The replies then go out without waiting for PostgreSQL;
// Conversations keeps such a record with the update's dedupe marker until
// it is written (Conversation.Record), and the durable store may gather
// such records from many updates into one transaction.
func (r UpdateRecord) AfterCommit() bool {
	return !r.Rerun && r.Handoff == nil && len(r.Transcript) == 0
}

// TicketRequest is what a flow's handoff step asks for.
type TicketRequest struct {
	Flow    string
	Step    string
	Reason  string
	Summary string            // masked, human-readable context for the volunteer
	Vars    map[string]string // answers collected so far (masked)
	// Topic is what the problem is (a desk category: vneid, dvc, scam,
	// other) and Area the resident's commune/ward code; "" when not known.
	// They are written when the request opens a ticket (joining a waiting
	// one changes neither).
	Topic string
	Area  string
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

// Residents keeps what a resident told about themselves beyond a single
// conversation. Implemented by the durable stores.
type Residents interface {
	// SetResidentArea records the resident's commune/ward (an area code;
	// "" forgets it), the newest choice winning; an unknown resident is
	// created.
	SetResidentArea(ctx context.Context, key ConvKey, area string, at time.Time) error
	// ResidentProfile returns what is known of the resident (the zero
	// Profile, with consent unasked, for an unknown one).
	ResidentProfile(ctx context.Context, key ConvKey) (Profile, error)
}

// Profile is what the durable store keeps of a resident that a new
// conversation (or an expired one) starts from.
type Profile struct {
	Area    string  // commune/ward code; "" when not known
	Consent Consent // whether they want broadcasts and reminders
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
	// MaxCaption is the longest text sent with a photo or a file
	// (Telegram 1024); 0 means MaxText.
	MaxCaption int
}

// Metrics observes the core. Implemented by the metrics package (Prometheus);
// NopMetrics when metrics are off.
type Metrics interface {
	// Update counts one inbound update by outcome: "ok", "duplicate", "error", "ignored".
	Update(ch Channel, outcome string)
	// FlowEvents counts flow events (steps entered, flows started/completed/abandoned, escalations).
	FlowEvents(ch Channel, events []flows.Event)
	// Send counts one delivery attempt by outcome: "ok", "retry_after", "unreachable", "rejected"
	// (refused by the platform for good), "error", "gave_up".
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
	// SetConsent records whether the resident wants broadcasts and
	// reminders (their answer to the consent question, /stop, or the
	// unsubscribe button under a broadcast), the newest answer winning; an
	// unknown resident is created.
	SetConsent(ctx context.Context, key ConvKey, c Consent, at time.Time) error
}

// Consent is a resident's answer about broadcasts and reminders. Values are
// stable: they are stored in residents.consent.
type Consent string

const (
	ConsentUnasked Consent = "unasked" // never answered: receives nothing, is asked
	ConsentYes     Consent = "yes"
	ConsentNo      Consent = "no"
)

// Known reports whether c is one of the three answers.
func (c Consent) Known() bool {
	return c == ConsentUnasked || c == ConsentYes || c == ConsentNo
}

// Pacer is the rate limit every replica shares (store.Redis): a channel's
// budget, drawn on by replies first and by bulk sends with what replies
// leave; each chat's budget; and a pause of the bulk lane after the
// platform asked to slow down.
type Pacer interface {
	// Pace asks whether one message may go now; when not, it returns how
	// long to wait (the pause, for a bulk send while the lane is paused).
	// A message that may go is counted against every budget it checked.
	Pace(ctx context.Context, p Pace) (time.Duration, error)
	// PauseBulk holds every replica's bulk sends on ch for d.
	PauseBulk(ctx context.Context, ch Channel, d time.Duration) error
}

// Pace describes one send to a Pacer.
type Pace struct {
	Channel Channel
	Lane    Lane
	Rate    float64 // the channel's messages per second
	// Burst is how many sends of this lane may go back to back ahead of
	// Rate. Give replies a larger one than bulk: bulk then waits while
	// replies are ahead, and replies always find room.
	Burst int
	// Chat, when set, is also held to PerChat messages a second with
	// ChatBurst back to back.
	Chat      string
	PerChat   float64
	ChatBurst int
}
