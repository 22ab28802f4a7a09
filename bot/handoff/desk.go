package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
)

// Config configures the desk.
type Config struct {
	// Group is the volunteers' group chat, where ticket cards are posted and
	// claimed (zero: none; volunteers then claim with /next).
	Group bot.ConvKey
	// Admins are organizers from the start (GOCUA_ADMINS), by platform
	// identity (channel and user id).
	Admins []bot.ConvKey
	// Recent is how many of the resident's last messages the context a
	// volunteer receives shows (default 5).
	Recent int
	// StaffRefresh is how often the list of staff identities is re-read,
	// so a volunteer approved on another replica is recognised (default 10 s).
	StaffRefresh time.Duration

	// Lang is the language of what the group and the timers say (the
	// deployment's default language); Location the time zone of the times
	// they show.
	Lang     string
	Location *time.Location
	// Areas are the communes/wards served (nil: none): volunteers pick
	// theirs when they apply, and cards name them.
	Areas *areas.Set
	Board BoardConfig
	SLA   SLA
	// Tick is how often Run looks at the queue and the timers (default 2 s).
	Tick time.Duration
	// TranscriptDays is how long a closed ticket's transcript is kept
	// (0: for ever).
	TranscriptDays int
	// Links mints the one-time login links /dashboard answers with (nil:
	// the web dashboard has no public address).
	Links LinkMinter
	// Retain are more deletions the retention runs with the same cutoff
	// (the photos of web chat transcripts); each returns how many went.
	Retain []func(ctx context.Context, before time.Time) (int64, error)
	// Now is the clock of the timers (default time.Now).
	Now func() time.Time
}

// Skills a volunteer can offer, and the categories a ticket is resolved
// with. Values are stored; their names are locale texts desk_category_<x>.
var categories = []string{"vneid", "dvc", "scam", "other"}

// Desk is the volunteer desk: it implements bot.Desk.
type Desk struct {
	cfg    Config
	st     Store
	coord  Coordinator
	log    *slog.Logger
	poster Poster

	lastAudit int64 // the last system move told (Run's goroutine only)

	mu         sync.Mutex
	staff      map[bot.ConvKey]bool // approved or suspended staff, by platform identity
	staffAt    time.Time            // when staff was read; zero: read it again
	refreshing bool                 // one caller re-reads it, the others use what is there
	admins     map[bot.ConvKey]bool
}

var _ bot.Desk = (*Desk)(nil)

// New builds the desk. coord may be nil when Run is not used.
func New(cfg Config, st Store, coord Coordinator, log *slog.Logger) *Desk {
	if cfg.Recent <= 0 {
		cfg.Recent = 5
	}
	if cfg.Lang == "" {
		cfg.Lang = "vi"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.SLA = cfg.SLA.withDefaults()
	if cfg.StaffRefresh <= 0 {
		cfg.StaffRefresh = 10 * time.Second
	}
	d := &Desk{cfg: cfg, st: st, coord: coord, log: log, admins: map[bot.ConvKey]bool{}}
	for _, a := range cfg.Admins {
		d.admins[a] = true
	}
	return d
}

// Start makes the organizers named in the configuration approved
// organizers (their private chat is their user id, as on Telegram), so they
// receive applications before they first write to the bot.
func (d *Desk) Start(ctx context.Context, now time.Time) error {
	for _, a := range d.cfg.Admins {
		if _, err := d.st.EnsureOrganizer(ctx, a, a, "", now); err != nil {
			return fmtErr("organizers", err)
		}
	}
	d.readStaff(ctx)
	return nil
}

// Button data the desk handles. Every payload is short: "dk:" and a verb.
const (
	dataPrefix = "dk:"
	dataClaim  = "dk:claim:" // + ticket id (group cards)
	dataDone   = "dk:done:"  // + ticket id + ":" + category
	dataRate   = "dk:rate:"  // + ticket id + ":" + stars
	dataLeave  = "dk:leave:" // + "yes" | "no"
	dataSkill  = "dk:sk:"    // + skill (application)
	dataSend   = "dk:send"   // send the application
	dataWards  = "dk:wards"  // go on to the wards (application)
	dataWard   = "dk:ar:"    // + area code: toggle a ward (application)
	dataOK     = "dk:ok:"    // + volunteer id (approve)
	dataNo     = "dk:no:"    // + volunteer id (reject)
	dataVisit  = "dk:vi:"    // + wizard id + ":" + verb (see visitwizard.go)
)

// staffCommands are the commands that only make sense for staff.
var staffCommands = []string{"volunteer", "next", "mine", "switch", "note", "release", "done", "transcript",
	"visit", "dashboard", "volunteers", "approve", "reject", "suspend", "promote"}

// turn is one update being planned.
type turn struct {
	d    *Desk
	ctx  context.Context
	t    bot.DeskTurn
	plan bot.DeskPlan
}

func (u *turn) lang() string { return u.plan.Conv.Flow.Lang }

// onWeb reports whether the update comes from a staff member's web
// dashboard (bot.ChannelDashboard).
func (u *turn) onWeb() bool { return u.t.In.Key.Channel == bot.ChannelDashboard }

func (u *turn) text(key string, vars map[string]string) string {
	return u.t.Set.Text(u.lang(), key, vars)
}

// reply adds a message to the update's own chat.
func (u *turn) reply(text string, buttons ...[]bot.Button) {
	u.plan.Out = append(u.plan.Out, bot.Outbound{Text: text, Buttons: buttons})
}

// send adds a message to another chat.
func (u *turn) send(to bot.ConvKey, text string, media *bot.Media, buttons ...[]bot.Button) {
	u.plan.Relays = append(u.plan.Relays, bot.Outbound{ID: bot.RelayID(u.t.In, len(u.plan.Relays)), Key: to,
		Text: text, Media: media, Buttons: buttons})
}

func vars(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// Route implements bot.Desk.
func (d *Desk) Route(ctx context.Context, t bot.DeskTurn) (bot.DeskPlan, error) {
	u := &turn{d: d, ctx: ctx, t: t, plan: bot.DeskPlan{Conv: t.Conv}}
	in := t.In
	user := bot.ConvKey{Channel: in.Key.Channel, ChatID: in.UserID}
	var err error
	switch {
	case d.cfg.Group != (bot.ConvKey{}) && in.Key == d.cfg.Group:
		u.plan.Handled, u.plan.Stateless = true, true
		// only taps: nothing typed in the group is answered there, where
		// everyone would see it (a /dashboard link above all)
		if in.Kind == bot.InButton {
			err = u.groupTap(user)
		}
	case u.onWeb():
		u.plan.Handled = true
		err = u.web()
	case in.Kind == bot.InButton && (strings.HasPrefix(in.Data, dataRate) || strings.HasPrefix(in.Data, dataLeave)):
		err = u.residentTap()
	case t.Conv.Ticket != 0 && (in.Data == bot.DataCallback && in.Kind == bot.InButton || in.Contact != nil ||
		t.Conv.Desk.Await == "callback" && in.Kind == bot.InText):
		err = u.callback()
	case d.isStaff(ctx, t, user) || t.Conv.Desk.Await == "apply_wards" && in.Kind == bot.InText:
		err = u.staff(user)
	case t.Conv.Ticket != 0:
		err = u.resident()
	case strings.HasPrefix(t.Conv.Desk.Await, "comment:") && in.Kind == bot.InText:
		err = u.comment()
	}
	if err != nil {
		return bot.DeskPlan{}, err
	}
	return u.plan, nil
}

// Shared implements bot.Desk: taps in the volunteers' group are ordered per
// volunteer (the database decides who wins a ticket).
func (d *Desk) Shared(key bot.ConvKey) bool {
	return d.cfg.Group != (bot.ConvKey{}) && key == d.cfg.Group
}

// isStaff reports whether a private chat's update is for the desk: the
// chat is known as a staff member's, the user is an admin or has a
// volunteers row, or the update is a staff command.
func (d *Desk) isStaff(ctx context.Context, t bot.DeskTurn, user bot.ConvKey) bool {
	if user.ChatID == "" {
		return false
	}
	if t.Conv.Desk.Staff || d.admins[user] {
		return true
	}
	if t.In.Kind == bot.InCommand && slices.Contains(staffCommands, t.In.Command) {
		return true
	}
	if t.In.Kind == bot.InButton && strings.HasPrefix(t.In.Data, dataPrefix) {
		return true
	}
	return d.knownStaff(ctx, user)
}

// knownStaff looks user up in the staff list, re-read every StaffRefresh.
// The read happens outside the lock, by one caller at a time: the updates
// of everyone else never wait for it.
func (d *Desk) knownStaff(ctx context.Context, user bot.ConvKey) bool {
	d.mu.Lock()
	set := d.staff
	refresh := !d.refreshing && (set == nil || time.Since(d.staffAt) > d.cfg.StaffRefresh)
	d.refreshing = d.refreshing || refresh
	d.mu.Unlock()
	if refresh {
		set = d.readStaff(ctx)
	}
	return set[user]
}

// readStaff reads the staff list into the cache and returns it (the old one
// when the store fails).
func (d *Desk) readStaff(ctx context.Context) map[bot.ConvKey]bool {
	vs, err := d.st.Volunteers(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refreshing = false
	if err != nil {
		d.log.Warn("desk: staff list not read", "err", err)
		return d.staff
	}
	set := make(map[bot.ConvKey]bool, len(vs))
	for _, v := range vs {
		// an applicant still talks to the resident flows until approved
		// (their buttons and commands reach the desk anyway)
		if v.Status == Approved || v.Status == Suspended {
			set[v.User] = true
		}
	}
	d.staff, d.staffAt = set, time.Now()
	return set
}

// forgetStaff makes the next knownStaff re-read the list.
func (d *Desk) forgetStaff() {
	d.mu.Lock()
	d.staffAt = time.Time{}
	d.mu.Unlock()
}

// ticketRef finds "#12" in a text (a relayed message a volunteer replies to).
var ticketRef = regexp.MustCompile(`#(\d{1,18})\b`)

func refIn(s string) int64 {
	if m := ticketRef.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	return 0
}

func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(s), "#"), 10, 64)
	return n, err == nil && n > 0
}

func minutes(d time.Duration) string { return strconv.Itoa(int(max(d, 0) / time.Minute)) }

// errNotMine: the volunteer named a ticket they do not hold.
var errNotMine = errors.New("handoff: not one of the volunteer's tickets")

// loadTicket reads a ticket, mapping "not found" to ok false.
func (u *turn) loadTicket(n int64) (Ticket, bool, error) {
	t, err := u.d.st.Ticket(u.ctx, n)
	if errors.Is(err, ErrNotFound) {
		return t, false, nil
	}
	return t, err == nil, err
}

// volunteerName is what a resident is told a volunteer is called.
func volunteerName(v Volunteer) string {
	if v.Name != "" {
		return v.Name
	}
	return "#" + id(v.ID)
}

// saidEvery is how stale a side's last-message time may get while it
// keeps writing: the timers work in minutes, and each write is a commit.
const saidEvery = 30 * time.Second

// said records that one side wrote on t, unless the stored time is recent
// and already says this side spoke last (the only thing the timers read).
func (u *turn) said(t Ticket, volunteer bool) error {
	mine, theirs := t.ResidentSaid, t.VolunteerSaid
	if volunteer {
		mine, theirs = t.VolunteerSaid, t.ResidentSaid
	}
	if !mine.IsZero() && !mine.Before(theirs) && u.t.Now.Sub(mine) < saidEvery {
		return nil
	}
	return u.d.st.Said(u.ctx, t.ID, volunteer, u.t.Now)
}

func asMove(err error) bool { return errors.Is(err, ErrStale) || errors.Is(err, ErrNotFound) }

func actor(v Volunteer) string { return "volunteer:" + id(v.ID) }

func fmtErr(what string, err error) error { return fmt.Errorf("handoff: %s: %w", what, err) }

var timeZero time.Time
