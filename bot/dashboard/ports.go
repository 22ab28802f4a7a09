package dashboard

import (
	"context"
	"errors"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/handoff"
)

// Errors of the Store.
var (
	// ErrNotFound: no such session (or login, or row).
	ErrNotFound = errors.New("dashboard: not found")
	// ErrLinkRefused: a login link that is unknown, used already or expired.
	ErrLinkRefused = errors.New("dashboard: login link used or expired")
)

// Login is a one-time login link as stored: only the SHA-256 of its token
// (hex), never the token.
type Login struct {
	Hash      string
	Volunteer int64
	Created   time.Time
	Expires   time.Time
}

// Session is a signed-in browser. Only the SHA-256 of the cookie's value
// (hex) is stored.
type Session struct {
	ID        int64
	Hash      string
	Volunteer int64
	CSRF      string // the forms' token (random, per session)
	Agent     string // the browser's User-Agent, cut to 200 bytes, to tell sessions apart
	Created   time.Time
	Seen      time.Time // last request (kept to the minute)
	Expires   time.Time
	Revoked   time.Time // zero: not revoked
}

// Query selects what a page counts.
type Query struct {
	From, To time.Time // [From, To)
	// Scope is the areas the viewer may see (nil: every area, and
	// residents with none). An organizer limited to some areas, and every
	// volunteer with areas, sees only those.
	Scope []string
	// Area, Channel and Lang filter further ("" : all). Area "-" selects
	// residents with no area.
	Area    string
	Channel bot.Channel
	Lang    string
	// Location is the deployment's time zone: days start at its midnight.
	Location *time.Location
}

// FunnelQuery selects one flow's funnel.
type FunnelQuery struct {
	Query
	Flow    string
	Version string // "" : every version
}

// AreaStats is the overview of one area (Area "" is the total; "-" the
// residents with no area).
type AreaStats struct {
	Area            string
	Residents       int64 // residents who wrote to the bot in the range (by last message)
	NewResidents    int64 // of them, first seen in the range
	FlowsCompleted  int64
	TicketsOpened   int64
	TicketsResolved int64
	MedianWait      time.Duration // opened → claimed, of tickets claimed in the range
	MedianHandle    time.Duration // claimed → resolved, of tickets resolved in the range
	Rated           int64         // ratings given in the range
	RatingSum       int64         // their stars: CSAT = RatingSum / Rated
	Satisfied       int64         // ratings of 4 or 5 stars
	BroadcastsSent  int64         // broadcast messages delivered in the range
	Visits          int64         // field visits logged in the range
	VisitPeople     int64         // people helped in person in the range
}

// DayStats is one day of the overview's charts.
type DayStats struct {
	Day            time.Time // midnight, in Query.Location
	FlowsCompleted int64
	TicketsOpened  int64
	VisitPeople    int64
}

// Overview is what the overview page shows.
type Overview struct {
	Total AreaStats
	Areas []AreaStats // one per area with anything to show, by area code
	Days  []DayStats  // every day of the range, oldest first (zero days too)
}

// FunnelStep is one step of a flow's funnel: of the residents who entered
// it in the range, what their last visit of it led to. Continued + Left +
// Escalated = Entered.
type FunnelStep struct {
	Step      string
	Entered   int64         // residents who entered the step
	Continued int64         // went on to another step of the flow, or finished it
	Left      int64         // went nowhere from it (or to another flow)
	Escalated int64         // asked for a person from it (or it is a handoff step)
	Median    time.Duration // median time on the step of those who continued
}

// FlowVersion is one version of a flow seen in the events.
type FlowVersion struct {
	Version string
	First   time.Time // first event with it
	Last    time.Time
	Events  int64
}

// VolunteerStats is one staff member's work in a range.
type VolunteerStats struct {
	Volunteer   handoff.Volunteer
	Open        int64         // tickets held now
	Handled     int64         // tickets resolved in the range
	MedianFirst time.Duration // claim → first message to the resident, of tickets claimed in the range
	Rated       int64
	RatingSum   int64
	Visits      int64
	VisitPeople int64
	LastActive  time.Time // last claim, message or visit
}

// TicketRow is a ticket as the queue and the exports list it.
type TicketRow struct {
	handoff.Ticket
	VolunteerName string // "" when unassigned
}

// Store is what the dashboard reads and writes (store.Dashboard on either
// durable store).
type Store interface {
	// CreateLogin stores a login link.
	CreateLogin(ctx context.Context, l Login) error
	// UseLogin marks a login link used and returns it: ErrLinkRefused when
	// it is unknown, used already or expired at now. Of two concurrent
	// calls exactly one succeeds.
	UseLogin(ctx context.Context, hash string, now time.Time) (Login, error)
	// CreateSession stores a session and returns it with its ID.
	CreateSession(ctx context.Context, s Session) (Session, error)
	// Session returns the session with this hash (ErrNotFound), revoked
	// or expired ones too: the caller decides.
	Session(ctx context.Context, hash string) (Session, error)
	// TouchSession records a request at now.
	TouchSession(ctx context.Context, id int64, now time.Time) error
	// Sessions lists the sessions not revoked and not expired at now,
	// newest first: a volunteer's (volunteer != 0) or everyone's.
	Sessions(ctx context.Context, volunteer int64, now time.Time) ([]Session, error)
	// RevokeSession revokes session id (if volunteer != 0, only when it is
	// theirs: ErrNotFound otherwise).
	RevokeSession(ctx context.Context, id, volunteer int64, now time.Time) error

	// Overview counts q's range per area.
	Overview(ctx context.Context, q Query) (Overview, error)
	// Funnel computes q.Flow's funnel, one row per step anyone entered.
	Funnel(ctx context.Context, q FunnelQuery) ([]FunnelStep, error)
	// FlowVersions lists the versions of a flow seen in the events, newest
	// (by first event) first, at most limit.
	FlowVersions(ctx context.Context, flow string, limit int) ([]FlowVersion, error)

	// OpenTickets lists waiting and assigned tickets in q's scope and
	// filters (the range is ignored), oldest first, at most limit.
	OpenTickets(ctx context.Context, q Query, limit int) ([]TicketRow, error)
	// QueueStamp changes whenever an open ticket is opened, claimed,
	// released or closed (the live queue polls it).
	QueueStamp(ctx context.Context) (string, error)
	// TicketStamp changes whenever ticket id changes or its transcript
	// grows (an open ticket page polls it).
	TicketStamp(ctx context.Context, id int64) (string, error)
	// VolunteerStats reports every staff member's work in q's range.
	VolunteerStats(ctx context.Context, q Query) ([]VolunteerStats, error)
	// SetCapacity changes how many tickets a staff member may hold (1–50).
	SetCapacity(ctx context.Context, volunteer int64, capacity int, at time.Time) error

	handoff.Visits
	// VisitsIn lists the visits of q's range, scope and area, newest first,
	// at most limit; volunteer != 0 keeps only theirs.
	VisitsIn(ctx context.Context, q Query, volunteer int64, limit int) ([]handoff.Visit, error)

	// Exports stream rows to fn in order (nothing is held in memory);
	// fn's error stops them and is returned.
	ExportTickets(ctx context.Context, q Query, fn func(TicketRow) error) error
	ExportVisits(ctx context.Context, q Query, fn func(handoff.Visit) error) error
}

// Staff is what the dashboard needs of the volunteer desk's store
// (store.Desk implements it).
type Staff interface {
	VolunteerByID(ctx context.Context, id int64) (handoff.Volunteer, error)
	Volunteers(ctx context.Context) ([]handoff.Volunteer, error)
	Ticket(ctx context.Context, id int64) (handoff.Ticket, error)
	Transcript(ctx context.Context, id int64) ([]bot.TranscriptLine, error)
	Audit(ctx context.Context, id int64) ([]handoff.AuditEntry, error)
}

// Core is the conversation loop as the web inbox reaches it
// (bot.Service): a volunteer's claim, reply, note, release and resolve on
// the web are updates of their ChannelDashboard conversation, handled by
// the same desk as on Telegram, exactly once per form submission.
type Core interface {
	HandleTap(ctx context.Context, in bot.Inbound) (bot.Ack, error)
}

// Broadcasts is what the broadcasts page needs (store.Broadcasts).
type Broadcasts interface {
	CreateBroadcast(ctx context.Context, b broadcast.Broadcast) (int64, error)
	Broadcast(ctx context.Context, id int64) (broadcast.Broadcast, error)
	Broadcasts(ctx context.Context, limit int) ([]broadcast.Broadcast, error)
	SetState(ctx context.Context, id int64, from []broadcast.State, to broadcast.State, missed bool, at time.Time) error
	CountAudience(ctx context.Context, aud broadcast.Audience, rules broadcast.Rules, now time.Time) (broadcast.Count, error)
	LastRun(ctx context.Context, id int64) (broadcast.Run, error)
	Report(ctx context.Context, run int64) (broadcast.Report, error)
}

// Uploads keeps the photos volunteers and organizers upload (a reply's
// photo, a broadcast's image) where every channel can read them.
type Uploads interface {
	SaveUpload(ctx context.Context, u bot.Upload) (bot.Upload, error)
}
