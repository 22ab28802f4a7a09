package dashboard

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// The volunteers page: applications to approve or reject, the team with
// what each member did over a week or a month, their capacity, and
// suspend, reinstate and promote. Every decision about a person goes
// through the desk (act), so they are told exactly as when an organizer
// taps the button on Telegram.

func (s *Server) volunteerRoutes() []Route {
	rs := []Route{
		{Method: http.MethodGet, Path: "volunteers", Role: Organizer, handler: s.volunteersPage},
		{Method: http.MethodPost, Path: "volunteers/{id}/capacity", Role: Organizer, handler: s.setCapacity},
	}
	for _, name := range []string{"approve", "reject", "suspend", "reinstate", "promote"} {
		rs = append(rs, Route{Method: http.MethodPost, Path: "volunteers/{id}/" + name, Role: Organizer, handler: s.staffChange(name)})
	}
	return rs
}

// forms gives a page's forms their nonces: a new one at each call, so each
// form of a page is its own update for the desk, and a form submitted
// twice is still one.
type forms struct{}

// Nonce is a new form nonce.
func (forms) Nonce() string { return nonce() }

// statRanges are the ranges the staff pages count over, in days.
var statRanges = map[string]int{"7d": 7, "30d": 30}

// statRange reads the page's range (?range=7d|30d, default 7d): from the
// midnight that starts its first day, in the deployment's zone, to now.
func (s *Server) statRange(r *http.Request) (key string, from, to time.Time) {
	key = r.URL.Query().Get("range")
	days, ok := statRanges[key]
	if !ok {
		key, days = "7d", 7
	}
	now := s.cfg.Now().In(s.cfg.Location)
	y, m, d := now.Date()
	return key, time.Date(y, m, d-(days-1), 0, 0, 0, 0, s.cfg.Location), now
}

// volunteerRow is one staff member on the page.
type volunteerRow struct {
	handoff.Volunteer
	Stats VolunteerStats
	Self  bool
	// Error is what was wrong with the capacity just typed for them, and
	// Typed what was typed.
	Error, Typed string
}

// CSAT is their average rating (0 when none).
func (r volunteerRow) CSAT() float64 {
	if r.Stats.Rated == 0 {
		return 0
	}
	return float64(r.Stats.RatingSum) / float64(r.Stats.Rated)
}

// Suspended reports whether they are suspended.
func (r volunteerRow) Suspended() bool { return r.Status == handoff.Suspended }

// MayPromote reports whether they can be made an organizer.
func (r volunteerRow) MayPromote() bool {
	return r.Status == handoff.Approved && r.Role != handoff.RoleOrganizer
}

type volunteersView struct {
	forms
	Range    string
	Ranges   []string
	Applied  []volunteerRow
	Team     []volunteerRow
	Rejected int
	Error    string // a message for the whole page
	MaxCap   int
}

// seesStaff reports whether a staff member is the viewer's to manage: an
// organizer limited to some areas manages those who serve one of them (or
// any area).
func (v *viewer) seesStaff(x handoff.Volunteer) bool {
	if v.Scope == nil || len(x.Areas) == 0 {
		return true
	}
	return slices.ContainsFunc(x.Areas, v.Sees)
}

// volunteersData builds the page.
func (s *Server) volunteersData(r *http.Request, v *viewer) (volunteersView, error) {
	key, from, to := s.statRange(r)
	view := volunteersView{Range: key, Ranges: []string{"7d", "30d"}, MaxCap: maxCapacity}
	ctx := r.Context()
	all, err := s.deps.Staff.Volunteers(ctx)
	if err != nil {
		return view, err
	}
	stats, err := s.deps.Store.VolunteerStats(ctx, Query{From: from, To: to, Scope: v.Scope, Location: s.cfg.Location})
	if err != nil {
		return view, err
	}
	by := make(map[int64]VolunteerStats, len(stats))
	for _, st := range stats {
		by[st.Volunteer.ID] = st
	}
	for _, x := range all {
		if !v.seesStaff(x) {
			continue
		}
		row := volunteerRow{Volunteer: x, Stats: by[x.ID], Self: x.ID == v.Volunteer.ID}
		switch x.Status {
		case handoff.Applied:
			view.Applied = append(view.Applied, row)
		case handoff.Approved, handoff.Suspended:
			view.Team = append(view.Team, row)
		default:
			view.Rejected++
		}
	}
	// the team: active first, then by name
	slices.SortStableFunc(view.Team, func(a, b volunteerRow) int {
		if a.Suspended() != b.Suspended() {
			if a.Suspended() {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return view, nil
}

func (s *Server) volunteersPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	view, err := s.volunteersData(r, v)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	s.render(w, r, v, "volunteers", view)
}

// staffTarget reads the staff member of the path, or answers 404 (the
// same for one who does not exist and one outside the viewer's areas).
func (s *Server) staffTarget(w http.ResponseWriter, r *http.Request, v *viewer) (handoff.Volunteer, bool) {
	return byPath(s, w, r, v, s.deps.Staff.VolunteerByID, handoff.ErrNotFound, v.seesStaff)
}

// staffChanges are the decisions about a person: which state they apply
// to, and the update the desk gets (the organizer's button or command on
// Telegram).
var staffChanges = map[string]struct {
	from func(x handoff.Volunteer, self bool) bool
	in   func(id string) bot.Inbound
}{
	"approve": {
		from: func(x handoff.Volunteer, _ bool) bool { return x.Status == handoff.Applied },
		in:   func(id string) bot.Inbound { return bot.Inbound{Kind: bot.InButton, Data: "dk:ok:" + id} },
	},
	"reject": {
		from: func(x handoff.Volunteer, self bool) bool { return x.Status == handoff.Applied && !self },
		in:   func(id string) bot.Inbound { return bot.Inbound{Kind: bot.InButton, Data: "dk:no:" + id} },
	},
	"suspend": {
		from: func(x handoff.Volunteer, self bool) bool { return x.Status == handoff.Approved && !self },
		in:   func(id string) bot.Inbound { return bot.Inbound{Kind: bot.InCommand, Command: "suspend", Args: id} },
	},
	"reinstate": {
		from: func(x handoff.Volunteer, _ bool) bool { return x.Status == handoff.Suspended },
		in:   func(id string) bot.Inbound { return bot.Inbound{Kind: bot.InCommand, Command: "approve", Args: id} },
	},
	"promote": {
		from: func(x handoff.Volunteer, _ bool) bool {
			return x.Status == handoff.Approved && x.Role != handoff.RoleOrganizer
		},
		in: func(id string) bot.Inbound { return bot.Inbound{Kind: bot.InCommand, Command: "promote", Args: id} },
	},
}

// staffChange handles one decision: checked against the person's state
// as it is now (a stale page must not reject someone approved meanwhile),
// then handed to the desk, which changes them and tells them.
func (s *Server) staffChange(name string) func(http.ResponseWriter, *http.Request, *viewer) {
	change := staffChanges[name]
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		x, ok := s.staffTarget(w, r, v)
		if !ok {
			return
		}
		back := Prefix + "volunteers"
		if rg := r.PostFormValue("range"); statRanges[rg] != 0 {
			back += "?range=" + rg
		}
		if _, err := formNonce(r); err != nil {
			s.actFailed(w, r, v, err)
			return
		}
		if !change.from(x, x.ID == v.Volunteer.ID) {
			s.redirect(w, r, back, "notice_vol_changed")
			return
		}
		ack, err := s.act(r.Context(), v, r, change.in(strconv.FormatInt(x.ID, 10)))
		if err != nil {
			s.actFailed(w, r, v, err)
			return
		}
		if ack.Text != "" {
			s.notices.add(v.Volunteer.ID, ack.Text, s.cfg.Now())
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

// maxCapacity is the most tickets anyone may hold at once.
const maxCapacity = 50

// setCapacity changes how many tickets a staff member may hold.
func (s *Server) setCapacity(w http.ResponseWriter, r *http.Request, v *viewer) {
	x, ok := s.staffTarget(w, r, v)
	if !ok {
		return
	}
	typed := strings.TrimSpace(r.PostFormValue("capacity"))
	n, err := strconv.Atoi(typed)
	if err != nil || n < 1 || n > maxCapacity {
		view, err := s.volunteersData(r, v)
		if err != nil {
			s.unavailable(w, r, v, err)
			return
		}
		for i := range view.Team {
			if view.Team[i].ID == x.ID {
				view.Team[i].Error = s.text.get(v.Lang, "vol_capacity_hint", "max", maxCapacity)
				view.Team[i].Typed = clipBytes(strings.ToValidUTF8(typed, ""), 20)
			}
		}
		view.Error = s.text.get(v.Lang, "err_bad_input", "what", s.text.get(v.Lang, "vol_capacity_bad", "name", x.Name, "max", maxCapacity))
		s.renderStatus(w, r, v, http.StatusBadRequest, "volunteers", view)
		return
	}
	err = s.deps.Store.SetCapacity(r.Context(), x.ID, n, s.cfg.Now())
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, handoff.ErrNotFound):
		s.fail(w, r, v, http.StatusNotFound, "err_not_found")
		return
	case err != nil:
		s.unavailable(w, r, v, err)
		return
	}
	back := Prefix + "volunteers"
	if rg := r.PostFormValue("range"); statRanges[rg] != 0 {
		back += "?range=" + rg
	}
	s.redirect(w, r, back, "notice_vol_capacity")
}
