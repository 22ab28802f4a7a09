package broadcast

import (
	"context"
	"errors"
	"time"

	"github.com/gocua/gocua/bot"
)

// State is a broadcast's state. Values are stable: they are stored.
type State string

const (
	// Active: waiting for its time, sending, or (recurring) waiting for
	// its next tick.
	Active State = "active"
	// Paused: nothing is sent until it is resumed; a recurring broadcast
	// fires no tick meanwhile.
	Paused State = "paused"
	// Done: a one-off broadcast whose run has finished, or whose time
	// passed longer than the grace ago while gocua was down (Missed).
	Done State = "done"
	// Cancelled: stopped for good; what was not sent is skipped.
	Cancelled State = "cancelled"
)

// Button is a button under a broadcast that opens a flow at a step.
type Button struct {
	Label string `json:"label"`
	Flow  string `json:"flow"`
	Step  string `json:"step,omitempty"` // "" = the flow's start
}

// Target is the button's "flow#step" (or "flow").
func (b Button) Target() string {
	if b.Step == "" {
		return b.Flow
	}
	return b.Flow + "#" + b.Step
}

// Broadcast is an organizer's announcement: what, to whom, when.
type Broadcast struct {
	ID      int64
	Text    string
	Image   string // an https:// URL or a platform file ("telegram:<file_id>"); "" for none
	Buttons []Button
	// Audience is the canonical audience expression (Audience.String).
	Audience string
	// At is when a one-off broadcast goes out; zero for a recurring one.
	At time.Time
	// Cron is a recurring broadcast's schedule (five fields, in the
	// deployment's timezone); "" for a one-off one.
	Cron  string
	State State
	// Missed: a one-off broadcast whose time passed while gocua was down,
	// longer ago than the grace; it was never sent.
	Missed bool
	// Paid lets Telegram deliver faster than 30 a second for a fee (its
	// allow_paid_broadcast), when the deployment allows it.
	Paid bool
	// Expires is how long after a run starts its deliveries may still go
	// out (quiet hours and pauses make them wait); what is left then is
	// skipped as expired. 0: never.
	Expires time.Duration
	// CreatedBy is who made it: "cli" or "<channel>:<user id>".
	CreatedBy string
	// Source, when set, makes creating it idempotent: a second
	// CreateBroadcast with the same Source returns the first one's id (the
	// chat wizard uses the confirming update's id).
	Source string
	// Progress is the organizer's chat and the message in it that shows
	// the progress, edited as the broadcast goes ("" when made elsewhere).
	ProgressChat bot.ConvKey
	ProgressMsg  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Recurring reports whether b fires on a cron schedule.
func (b Broadcast) Recurring() bool { return b.Cron != "" }

// RunState is a run's state. Values are stable: they are stored.
type RunState string

const (
	RunSending   RunState = "sending"
	RunFinished  RunState = "finished"
	RunCancelled RunState = "cancelled"
)

// Run is one sending of a broadcast: the one of a one-off broadcast, or
// one tick of a recurring one. Its audience is fixed when it starts.
type Run struct {
	ID        int64
	Broadcast int64
	Tick      time.Time // the time it was due: At, or the cron tick
	State     RunState
	Total     int // deliveries: everyone the audience matched
	StartedAt time.Time
	// FinishedAt is when nothing was left to send (zero while sending).
	FinishedAt time.Time
}

// DeliveryState is where one recipient of a run stands. Values are stable.
type DeliveryState string

const (
	Pending   DeliveryState = "pending"   // to send (after NextAt)
	Sending   DeliveryState = "sending"   // claimed by a worker
	Delivered DeliveryState = "delivered" // the platform took it
	Blocked   DeliveryState = "blocked"   // the resident blocked the bot (now unreachable and unsubscribed)
	Failed    DeliveryState = "failed"    // refused, or still failing after every retry
	Skipped   DeliveryState = "skipped"   // not sent, for Reason
)

// Why a delivery was skipped.
const (
	ReasonNoConsent   = "no_consent"  // never said yes, or said no (also /stop during the run)
	ReasonUnreachable = "unreachable" // had blocked the bot before
	ReasonWindow      = "window"      // outside the platform's window (Zalo OA: 7 days since the resident last wrote)
	ReasonExpired     = "expired"     // still waiting (quiet hours, pause) when the broadcast expired
	ReasonCancelled   = "cancelled"   // the broadcast was cancelled
)

// Delivery is one recipient of a run, as claimed for sending: what the
// durable store knows of them at the claim.
type Delivery struct {
	Run       int64
	Broadcast int64
	Resident  int64
	Key       bot.ConvKey
	Lang      string
	Attempts  int // including this one
	Consent   bot.Consent
	Reachable bool
	LastSeen  time.Time
}

// Outcome is what became of a claimed delivery.
type Outcome struct {
	Run      int64
	Resident int64
	State    DeliveryState // Delivered, Blocked, Failed, Skipped, or Pending again (retry at Retry)
	Reason   string        // why skipped; the error for Failed
	At       time.Time
	Retry    time.Time // Pending: not before
	// Uncounted gives a Pending delivery its try back: it never reached
	// the platform (held by the pacing, a 429's pause, or shutdown), so it
	// does not bring it closer to failing.
	Uncounted bool
}

// Report is how a run stands.
type Report struct {
	Run       Run
	Pending   int // including claimed ones
	Delivered int
	Blocked   int
	Failed    int
	Skipped   map[string]int // by reason
	Tapped    int            // recipients who tapped one of its buttons
}

// SkippedTotal adds up the skipped deliveries.
func (r Report) SkippedTotal() int {
	n := 0
	for _, c := range r.Skipped {
		n += c
	}
	return n
}

// Settled counts the deliveries that need nothing more.
func (r Report) Settled() int { return r.Delivered + r.Blocked + r.Failed + r.SkippedTotal() }

// Count is an audience before it is sent: how many residents it matches,
// and how many of them would receive it now.
type Count struct {
	Matched    int
	Recipients int
	// Why the others would not: said no or never asked; blocked the bot;
	// outside their platform's window.
	NoConsent, Unreachable, Window int
}

// Rules are the platform rules an audience is counted and materialised
// with.
type Rules struct {
	// DefaultLang is the language of residents who never chose one.
	DefaultLang string
	// Windows: how long after a resident's last message their channel lets
	// the bot write to them; absent = always.
	Windows map[bot.Channel]time.Duration
}

// ErrNotFound is returned for a broadcast or run that does not exist.
var ErrNotFound = errors.New("broadcast: not found")

// ErrState is returned when a change does not fit the broadcast's state
// (resuming a cancelled broadcast, pausing a finished one).
var ErrState = errors.New("broadcast: not possible in this state")

// Store keeps broadcasts, their runs and the per-recipient ledger durably.
// Implemented by the durable stores (PostgreSQL; SQLite in the embedded
// default). Every method is safe to call from several processes at once.
type Store interface {
	// CreateBroadcast stores a new broadcast (State Active) and returns its
	// id; with a Source already stored, the existing broadcast's id.
	CreateBroadcast(ctx context.Context, b Broadcast) (int64, error)
	// Broadcast returns one broadcast (ErrNotFound).
	Broadcast(ctx context.Context, id int64) (Broadcast, error)
	// Broadcasts lists the newest broadcasts first, at most limit.
	Broadcasts(ctx context.Context, limit int) ([]Broadcast, error)
	// Scheduled lists the broadcasts in state Active, oldest first.
	Scheduled(ctx context.Context) ([]Broadcast, error)
	// SetState moves a broadcast to state `to` from one of `from`
	// (ErrState when it is in none of them, ErrNotFound when it does not
	// exist); to Cancelled, its sending runs are cancelled and their
	// pending deliveries skipped as cancelled, in the same transaction.
	// missed marks a one-off broadcast moved to Done without sending.
	SetState(ctx context.Context, id int64, from []State, to State, missed bool, at time.Time) error
	// SetProgress records the organizer's progress message.
	SetProgress(ctx context.Context, id int64, chat bot.ConvKey, msg string) error

	// CountAudience counts the residents aud matches now.
	CountAudience(ctx context.Context, aud Audience, rules Rules, now time.Time) (Count, error)
	// StartRun creates broadcast b's run for tick and its deliveries (one
	// per resident aud matches: pending, or skipped with the reason they
	// cannot receive it), in one transaction. Once per (broadcast, tick)
	// across every process: a second call returns the existing run and
	// started false.
	StartRun(ctx context.Context, b Broadcast, aud Audience, rules Rules, tick, now time.Time) (run Run, started bool, err error)
	// LastRun returns broadcast id's latest run by tick (ErrNotFound when
	// it has none).
	LastRun(ctx context.Context, id int64) (Run, error)
	// Runs lists broadcast id's runs, newest first, at most limit.
	Runs(ctx context.Context, id int64, limit int) ([]Run, error)

	// Claim takes up to n pending deliveries of channel ch due at now, of
	// sending runs of active broadcasts, oldest run first, marking them
	// Sending by owner; no two callers get the same delivery.
	Claim(ctx context.Context, ch bot.Channel, owner string, n int, now time.Time) ([]Delivery, error)
	// Record stores what became of claimed deliveries.
	Record(ctx context.Context, outs []Outcome) error
	// Rescue makes deliveries claimed before `before` and never recorded
	// (their worker died) pending again, returning how many.
	Rescue(ctx context.Context, before time.Time) (int, error)
	// Release makes every delivery claimed by owner and never recorded
	// pending again: a restarted replica takes back at once what it held
	// when it stopped.
	Release(ctx context.Context, owner string) (int, error)
	// Recipient returns a resident's consent and reachability as they are
	// now (a resident who sent /stop since the claim is not written to).
	Recipient(ctx context.Context, resident int64) (bot.Consent, bool, error)
	// Expire skips, as expired, the deliveries still pending of runs whose
	// broadcast's Expires has passed; returns how many.
	Expire(ctx context.Context, now time.Time) (int, error)
	// FinishRuns marks finished the sending runs with nothing pending or
	// claimed, and their one-off broadcasts Done; returns those runs.
	FinishRuns(ctx context.Context, now time.Time) ([]Run, error)
	// Report counts a run's deliveries by outcome.
	Report(ctx context.Context, run int64) (Report, error)
	// Tapped records that the recipient key of run tapped one of its
	// buttons (the first tap counts; unknown runs and recipients are
	// ignored).
	Tapped(ctx context.Context, run int64, key bot.ConvKey, at time.Time) error
}
