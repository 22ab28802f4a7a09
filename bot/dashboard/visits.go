package dashboard

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// Field visits: the help volunteers give in person, door to door. A
// volunteer logs theirs and sees them; an organizer sees everyone's in
// their areas, with the totals per area and per action.

func (s *Server) visitRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "visits", Role: Volunteer, handler: s.visitsPage},
		{Method: http.MethodPost, Path: "visits", Role: Volunteer, handler: s.logVisit},
	}
}

// Limits of the visits page.
const (
	visitsShown   = 200   // rows listed
	visitsCounted = 10000 // rows the totals are counted over
	visitMaxAge   = 60    // days a visit may be logged after it happened
)

// visitTotal is the visits and people of an area or an action.
type visitTotal struct {
	Key            string
	Visits, People int64
}

// visitPlace is an area a visit may be logged in.
type visitPlace struct{ Code, Name string }

// visitForm is the log form as typed (kept when it is refused).
type visitForm struct {
	Nonce   string
	Area    string
	Actions map[string]bool
	People  string
	Note    string
	Date    string
}

type visitsView struct {
	Range     string
	Ranges    []string
	All       bool // everyone's (an organizer's view)
	Visits    []handoff.Visit
	More      bool // more visits than are listed
	Capped    bool // more than the totals count
	Total     visitTotal
	ByArea    []visitTotal
	ByAction  []visitTotal
	Form      visitForm
	Errors    map[string]string
	Areas     []visitPlace // where the viewer may log a visit (nil: areas are not configured)
	HasAreas  bool         // areas are configured: the form asks for one
	Actions   []string
	Today     string
	Oldest    string
	MaxNote   int
	MaxPeople int
}

// visitAreas are the areas a staff member may log a visit in: theirs, or
// every area when they serve any (nil when no areas are configured).
func (s *Server) visitAreas(v *viewer) []visitPlace {
	if s.cfg.Areas == nil {
		return nil
	}
	out := []visitPlace{}
	for _, a := range s.cfg.Areas.All() {
		if len(v.Volunteer.Areas) == 0 || slices.Contains(v.Volunteer.Areas, a.Code) {
			out = append(out, visitPlace{Code: a.Code, Name: a.Name})
		}
	}
	return out
}

// day is the date of t in the deployment's zone, as a date input has it.
func (s *Server) day(t time.Time) string { return t.In(s.cfg.Location).Format(time.DateOnly) }

// visitsData builds the page with a form (an empty one when form.Nonce is "").
func (s *Server) visitsData(r *http.Request, v *viewer, form visitForm) (visitsView, error) {
	key, from, to := s.statRange(r)
	now := s.cfg.Now()
	view := visitsView{Range: key, Ranges: []string{"7d", "30d"}, All: v.Organizer(), Form: form, Areas: s.visitAreas(v), HasAreas: s.cfg.Areas != nil,
		Actions: handoff.VisitActions, Today: s.day(now), Oldest: s.day(now.AddDate(0, 0, -visitMaxAge)),
		MaxNote: handoff.MaxVisitNote, MaxPeople: handoff.MaxVisitPeople}
	if view.Form.Nonce == "" {
		view.Form = visitForm{Nonce: nonce(), People: "1", Date: view.Today}
		if len(view.Areas) == 1 {
			view.Form.Area = view.Areas[0].Code
		}
	}
	// an organizer sees everyone's in their areas; a volunteer all of
	// their own, wherever they were
	q := Query{From: from, To: to, Scope: v.Scope, Location: s.cfg.Location}
	who := v.Volunteer.ID
	if view.All {
		who = 0
	} else {
		q.Scope = nil
	}
	list, err := s.deps.Store.VisitsIn(r.Context(), q, who, visitsCounted+1)
	if err != nil {
		return view, err
	}
	if len(list) > visitsCounted {
		list, view.Capped = list[:visitsCounted], true
	}
	areas, actions := map[string]*visitTotal{}, map[string]*visitTotal{}
	add := func(m map[string]*visitTotal, key string, people int64) {
		t := m[key]
		if t == nil {
			t = &visitTotal{Key: key}
			m[key] = t
		}
		t.Visits++
		t.People += people
	}
	for _, x := range list {
		people := int64(x.People)
		view.Total.Visits++
		view.Total.People += people
		add(areas, cmpOr(x.Area, "-"), people)
		for _, a := range x.Actions {
			add(actions, a, people)
		}
	}
	for _, t := range areas {
		view.ByArea = append(view.ByArea, *t)
	}
	slices.SortFunc(view.ByArea, func(a, b visitTotal) int {
		if a.People != b.People {
			return int(b.People - a.People)
		}
		return strings.Compare(a.Key, b.Key)
	})
	for _, a := range handoff.VisitActions {
		if t := actions[a]; t != nil {
			view.ByAction = append(view.ByAction, *t)
		}
	}
	view.More = len(list) > visitsShown
	view.Visits = list[:min(len(list), visitsShown)]
	return view, nil
}

func (s *Server) visitsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	view, err := s.visitsData(r, v, visitForm{})
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	s.render(w, r, v, "visits", view)
}

// logVisit checks the form and stores the visit once per form (its nonce
// is the visit's Source).
func (s *Server) logVisit(w http.ResponseWriter, r *http.Request, v *viewer) {
	n, err := formNonce(r)
	if err != nil {
		s.actFailed(w, r, v, err)
		return
	}
	form := visitForm{Nonce: n, Area: r.PostFormValue("area"), Actions: map[string]bool{},
		People: strings.TrimSpace(r.PostFormValue("people")), Note: r.PostFormValue("note"), Date: strings.TrimSpace(r.PostFormValue("date"))}
	errs := map[string]string{}
	bad := func(field, key string, args ...any) { errs[field] = s.text.get(v.Lang, key, args...) }

	visit := handoff.Visit{Volunteer: v.Volunteer.ID, Source: "web:" + n}
	if choices := s.visitAreas(v); choices != nil {
		i := slices.IndexFunc(choices, func(a visitPlace) bool { return a.Code == form.Area })
		switch {
		case len(choices) == 0:
			bad("area", "visit_area_none")
		case form.Area == "":
			bad("area", "visit_area_pick")
		case i < 0:
			bad("area", "visit_area_bad")
		default:
			visit.Area = form.Area
		}
	}

	for _, a := range r.PostForm["action"] {
		if !slices.Contains(handoff.VisitActions, a) {
			bad("actions", "visit_action_bad")
			continue
		}
		form.Actions[a] = true
	}
	for _, a := range handoff.VisitActions {
		if form.Actions[a] {
			visit.Actions = append(visit.Actions, a)
		}
	}
	if len(visit.Actions) == 0 && errs["actions"] == "" {
		bad("actions", "visit_action_pick")
	}

	people, err := strconv.Atoi(form.People)
	if err != nil || people < 1 || people > handoff.MaxVisitPeople {
		bad("people", "visit_people_bad", "max", handoff.MaxVisitPeople)
	}
	visit.People = people

	note := strings.TrimSpace(form.Note)
	switch {
	case !utf8.ValidString(note):
		bad("note", "visit_note_utf8")
	case utf8.RuneCountInString(note) > handoff.MaxVisitNote:
		bad("note", "visit_note_long", "max", handoff.MaxVisitNote, "n", utf8.RuneCountInString(note))
	default:
		visit.Note = clipRunes(bot.MaskPII(note), handoff.MaxVisitNote)
	}

	now := s.cfg.Now()
	today := s.day(now)
	if form.Date == "" {
		form.Date = today
	}
	day, err := time.ParseInLocation(time.DateOnly, form.Date, s.cfg.Location)
	switch {
	case err != nil:
		bad("date", "visit_date_bad")
	case form.Date > today:
		bad("date", "visit_date_future")
	case form.Date < s.day(now.AddDate(0, 0, -visitMaxAge)):
		bad("date", "visit_date_old", "days", visitMaxAge)
	case form.Date == today:
		visit.At = now
	default:
		visit.At = day.Add(12 * time.Hour) // the hour is not asked: midday
	}

	if len(errs) > 0 {
		form.Area, form.People, form.Note, form.Date = keep(form.Area), keep(form.People), keep(form.Note), keep(form.Date)
		view, err := s.visitsData(r, v, form)
		if err != nil {
			s.unavailable(w, r, v, err)
			return
		}
		view.Errors = errs
		s.renderStatus(w, r, v, http.StatusBadRequest, "visits", view)
		return
	}
	_, added, err := s.deps.Store.AddVisit(r.Context(), visit)
	if err != nil {
		s.unavailable(w, r, v, errf("visit", err))
		return
	}
	notice := "notice_visit_saved"
	if !added {
		notice = "notice_visit_again"
	}
	s.redirect(w, r, Prefix+"visits", notice)
}

// clipRunes cuts s to at most n runes.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
