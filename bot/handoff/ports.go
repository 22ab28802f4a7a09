package handoff

import (
	"context"
	"time"

	"github.com/gocua/gocua/bot"
)

// Store keeps volunteers and tickets. Implemented by store.Postgres and
// store.SQLite. Every state change of a ticket is guarded by the state it
// changes from, so of two replicas, two volunteers or a volunteer and a
// timer acting at once exactly one wins; each change is written to the
// ticket's audit trail with who and when.
type Store interface {
	// Volunteer returns the staff member with this platform identity
	// (ErrNotFound if none).
	Volunteer(ctx context.Context, user bot.ConvKey) (Volunteer, error)
	// VolunteerByID returns the staff member with this id (ErrNotFound).
	VolunteerByID(ctx context.Context, id int64) (Volunteer, error)
	// Volunteers lists every staff member, applicants first, then by name.
	Volunteers(ctx context.Context) ([]Volunteer, error)
	// Apply records an application (name, chat, areas, skills). A new
	// identity becomes Applied; an existing one keeps its status and role
	// but takes the new details.
	Apply(ctx context.Context, v Volunteer, at time.Time) (Volunteer, error)
	// SetStaff changes a staff member's status and role (ErrNotFound).
	SetStaff(ctx context.Context, id int64, status StaffStatus, role Role, at time.Time) (Volunteer, error)
	// EnsureOrganizer makes user an approved organizer (GOCUA_ADMINS),
	// creating the row if needed.
	EnsureOrganizer(ctx context.Context, user, chat bot.ConvKey, name string, at time.Time) (Volunteer, error)

	// Ticket returns a ticket (ErrNotFound).
	Ticket(ctx context.Context, id int64) (Ticket, error)
	// Waiting lists waiting tickets, oldest first, at most limit.
	Waiting(ctx context.Context, limit int) ([]Ticket, error)
	// Position returns how many waiting tickets were opened before this one.
	Position(ctx context.Context, id int64) (int, error)
	// Assigned lists the tickets assigned to a volunteer, oldest assignment first.
	Assigned(ctx context.Context, volunteer int64) ([]Ticket, error)
	// RecentWaits returns how long the last (at most n) tickets assigned
	// since since waited before someone took them.
	RecentWaits(ctx context.Context, since time.Time, n int) ([]time.Duration, error)

	// Claim assigns a waiting ticket to v: ErrTaken when it is not waiting
	// any more, ErrAtCapacity when v already holds v.Capacity tickets.
	Claim(ctx context.Context, id int64, v Volunteer, at time.Time) (Ticket, error)
	// Move changes a ticket's status if it is in one of c.From (and, when
	// c.Volunteer is set, assigned to that volunteer): ErrStale otherwise.
	Move(ctx context.Context, c Move) (Ticket, error)
	// SetTopicArea records what the problem is and where the resident lives.
	SetTopicArea(ctx context.Context, id int64, topic, area string) error
	// Said records that one side wrote on an assigned ticket at at (only
	// ever moving the time forward).
	Said(ctx context.Context, id int64, volunteer bool, at time.Time) error
	// Remind marks the unclaimed reminder as sent: false when it already was.
	Remind(ctx context.Context, id int64, at time.Time) (bool, error)
	// SetCallback records the phone number a resident left to be called
	// back, on a waiting or assigned ticket.
	SetCallback(ctx context.Context, id int64, phone string) error
	// SetCard records the group card's message id and text.
	SetCard(ctx context.Context, id int64, cardID, text string) error
	// Rate stores a resolved ticket's rating (1–5) and optional comment,
	// once: false when it was rated already or is not the resident's.
	Rate(ctx context.Context, id int64, resident bot.ConvKey, stars int, comment string, at time.Time) (bool, error)
	// Note appends lines to a ticket's transcript, idempotently per
	// (update, line number).
	Note(ctx context.Context, id int64, updateID string, lines []bot.TranscriptLine) error
	// Transcript returns a ticket's transcript (already masked).
	Transcript(ctx context.Context, id int64) ([]bot.TranscriptLine, error)
	// Audit returns a ticket's state changes in order.
	Audit(ctx context.Context, id int64) ([]AuditEntry, error)

	// Due lists open tickets a timer may act on: waiting and opened
	// before unclaimed without a reminder; assigned with no volunteer
	// message since before silentVolunteer; assigned with the volunteer
	// having spoken last before silentResident. At most limit of each.
	Due(ctx context.Context, unclaimed, silentVolunteer, silentResident time.Time, limit int) (Due, error)
	// PurgeTranscripts deletes the transcripts of tickets closed before
	// before and returns how many lines went.
	PurgeTranscripts(ctx context.Context, before time.Time) (int64, error)

	// Cards lists tickets that have a group card and changed since since,
	// at most limit (the board edits those whose card is out of date).
	Cards(ctx context.Context, since time.Time, limit int) ([]Ticket, error)
	// SystemMoves lists the state changes the timers made (actor
	// "system") after audit entry afterID and at or after since, oldest
	// first, at most limit: what they still have to tell people.
	SystemMoves(ctx context.Context, afterID int64, since time.Time, limit int) ([]AuditEntry, error)
	// Reminded lists tickets whose unclaimed reminder was marked since since.
	Reminded(ctx context.Context, since time.Time, limit int) ([]Ticket, error)

	// Visits keeps the field visits volunteers log with /visit.
	Visits
}

// Move is one guarded state change of a ticket.
type Move struct {
	Ticket    int64
	From      []Status
	To        Status
	Volunteer int64  // when set, the ticket must be assigned to this volunteer
	Actor     string // "resident", "volunteer:<id>", "system"
	Note      string // why (audit)
	Category  string // how it was resolved (To = Resolved)
	At        time.Time
}

// AuditEntry is one state change.
type AuditEntry struct {
	ID       int64
	Ticket   int64
	From, To Status
	Actor    string
	Note     string
	At       time.Time
}

// Due is what the timers may act on.
type Due struct {
	Unclaimed       []Ticket
	SilentVolunteer []Ticket
	SilentResident  []Ticket
}

// Mailboxes appends messages to a conversation's outbox once per marker
// (store.Redis): a relay re-run after a crash, or a timer firing on two
// replicas, appends nothing the second time (bot.ErrDuplicate).
type Mailboxes interface {
	Append(ctx context.Context, key bot.ConvKey, marker string, out []bot.Outbound) (bot.Committed, error)
}
