package handoff

import (
	"context"
	"time"
)

// Visit is in-person help a volunteer gave: the door-to-door work the
// teams mostly do, logged with /visit in the bot or on the dashboard.
type Visit struct {
	ID        int64
	Volunteer int64  // who logged it (volunteers.id)
	Area      string // the commune/ward code where it happened ("" when none configured)
	// Actions are what was done (VisitActions), at least one.
	Actions []string
	People  int    // how many people were helped (1–500)
	Note    string // optional, masked
	At      time.Time
	// Source makes logging idempotent: the update that saved it
	// ("<chat>:<update id>") or the dashboard form's nonce ("web:<nonce>").
	Source string
	// VolunteerName is filled in when read back (not stored with the visit).
	VolunteerName string
}

// VisitActions are what a visit may record. Values are stored; their
// names are locale texts visit_action_<x>.
var VisitActions = []string{"vneid", "level1", "level2", "dvc", "scam"}

// Visit limits.
const (
	MaxVisitPeople = 500
	MaxVisitNote   = 500 // runes
)

// Visits stores field visits (store.Desk on either durable store).
type Visits interface {
	// AddVisit stores v once per v.Source: a second call with the same
	// Source returns the stored visit and added false.
	AddVisit(ctx context.Context, v Visit) (stored Visit, added bool, err error)
}

// LinkMinter mints one-time dashboard login links (bot/dashboard): the
// desk answers /dashboard with one.
type LinkMinter interface {
	// MintLink returns a link that signs staff member volunteer in once,
	// within its lifetime, and how long that is.
	MintLink(ctx context.Context, volunteer int64, now time.Time) (link string, ttl time.Duration, err error)
}
