// Package handoff is the volunteer desk: the tickets residents open when the
// guide is not enough, the volunteers and organizers who take them, the
// relay between the two, and the rules and timers around it. The
// conversation loop (bot.Service) reaches it through bot.Desk; it reaches
// storage through the Store it declares (implemented by the store package)
// and sends through the outboxes the loop gives it.
package handoff

import (
	"errors"
	"time"

	"github.com/gocua/gocua/bot"
)

// Status is where a ticket is in its life:
// waiting → assigned → resolved | cancelled | abandoned, and assigned →
// waiting again when a volunteer releases it (or the SLA does). Values are
// stored.
type Status string

const (
	Waiting   Status = "waiting"
	Assigned  Status = "assigned"
	Resolved  Status = "resolved"
	Cancelled Status = "cancelled"
	Abandoned Status = "abandoned"
)

// Open reports whether the ticket still needs someone.
func (s Status) Open() bool { return s == Waiting || s == Assigned }

// Ticket is one resident's request for a person.
type Ticket struct {
	ID       int64
	Resident bot.ConvKey
	Status   Status
	Flow     string // where the resident was when they asked
	Step     string
	Reason   string
	Summary  string            // masked context for the volunteer
	Vars     map[string]string // masked answers collected so far
	Area     string            // the resident's commune/ward code, if known
	Topic    string            // what the problem is (a skill: vneid, dvc, scam…)
	Lang     string

	Volunteer  int64 // the assigned volunteer's id (0 when none)
	CreatedAt  time.Time
	AssignedAt time.Time // last assignment; zero when never assigned
	ClosedAt   time.Time
	// VolunteerSaid and ResidentSaid are when each side last wrote while
	// assigned: the SLA timers read them.
	VolunteerSaid time.Time
	ResidentSaid  time.Time
	Reminded      time.Time // when the unclaimed reminder went out
	CardID        string    // the group card's platform message id
	CardText      string    // what the card shows now
	Category      string    // how it was resolved
	Rating        int       // 1–5; 0 = not rated
	// Callback is the phone number the resident left to be called back
	// (shown to the volunteer who takes the ticket, never on its card).
	Callback string
}

// Where names the place in the flows where the ticket's resident asked
// for a person ("flow › step"), for staff.
func (t Ticket) Where() string {
	switch {
	case t.Flow == "":
		return "—"
	case t.Step == "":
		return t.Flow
	}
	return t.Flow + " › " + t.Step
}

// ShortID shows the end of a chat id only (its last 4 characters): enough
// for staff to tell residents apart, not to find them.
func ShortID(id string) string {
	r := []rune(id)
	if len(r) <= 4 {
		return id
	}
	return "…" + string(r[len(r)-4:])
}

// Role is what a staff member may do.
type Role string

const (
	RoleVolunteer Role = "volunteer"
	RoleOrganizer Role = "organizer" // also approves and manages volunteers
)

// StaffStatus is where a volunteer's application stands.
type StaffStatus string

const (
	Applied   StaffStatus = "applied"
	Approved  StaffStatus = "approved"
	Suspended StaffStatus = "suspended"
	Rejected  StaffStatus = "rejected"
)

// Volunteer is a volunteer or an organizer.
type Volunteer struct {
	ID       int64
	User     bot.ConvKey // platform identity: channel and user id
	Chat     bot.ConvKey // the private chat the bot talks to them in
	Name     string
	Role     Role
	Status   StaffStatus
	Areas    []string // area codes they serve; empty = any
	Skills   []string
	Capacity int // most tickets assigned at once
	Created  time.Time
	Updated  time.Time
}

// Active reports whether they may take tickets.
func (v Volunteer) Active() bool { return v.ID != 0 && v.Status == Approved }

// Organizer reports whether they may manage volunteers.
func (v Volunteer) Organizer() bool { return v.Active() && v.Role == RoleOrganizer }

// Serves reports whether a ticket of area is theirs to take.
func (v Volunteer) Serves(area string) bool {
	if len(v.Areas) == 0 || area == "" {
		return true
	}
	for _, a := range v.Areas {
		if a == area {
			return true
		}
	}
	return false
}

// Errors of the Store.
var (
	ErrNotFound   = errors.New("handoff: not found")
	ErrTaken      = errors.New("handoff: ticket is no longer waiting")
	ErrAtCapacity = errors.New("handoff: volunteer has as many tickets as they can take")
	// ErrStale: the ticket is not in a state the change applies to (another
	// volunteer, a timer or the resident changed it first).
	ErrStale = errors.New("handoff: ticket changed meanwhile")
)
