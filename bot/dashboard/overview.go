package dashboard

import (
	"net/http"
	"slices"
	"time"
)

// overviewRoutes: the overview is the dashboard's start page, /dashboard/
// itself (the pattern {$} matches the prefix alone). It is registered for
// volunteers, not organizers, so that a volunteer who opens the start page
// (every sign-in lands there) is sent on to the queue instead of being
// refused; the handler shows the numbers to organizers only.
func (s *Server) overviewRoutes() []Route {
	return []Route{{Method: http.MethodGet, Path: "{$}", Role: Volunteer, handler: s.overviewPage}}
}

// overviewRanges are the overview's periods (?range=) and how many days
// each counts, today included.
var overviewRanges = []string{"today", "7d", "30d"}

var overviewDays = map[string]int{"today": 1, "7d": 7, "30d": 30}

// overviewRange is the default period.
const overviewRange = "7d"

// overviewData is what overview.html shows.
type overviewData struct {
	Range  string
	Area   string
	Ranges []string
	Areas  []string
	Errors []string // what is wrong with the filters (nothing else is shown then)

	From, Last time.Time // the first and last day counted
	Total      statsView
	Rows       []statsView // the areas, then the total (when there are areas)
	Charts     []barChart
}

// statsView is an area's numbers as the page shows them.
type statsView struct {
	AreaStats
	IsTotal bool // the total row of the table
}

// Stars is the average rating (CSAT), 0 when nobody rated.
func (a statsView) Stars() float64 {
	if a.Rated <= 0 {
		return 0
	}
	return float64(a.RatingSum) / float64(a.Rated)
}

// overviewPage shows organizers the period's numbers; anyone else goes to
// the queue.
func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.Organizer() {
		http.Redirect(w, r, Prefix+"queue", http.StatusSeeOther)
		return
	}
	u := r.URL.Query()
	d := &overviewData{Range: u.Get("range"), Area: u.Get("area"), Ranges: overviewRanges, Areas: s.reportAreas(v)}
	var bad []string
	if d.Range == "" {
		d.Range = overviewRange
	} else if !slices.Contains(overviewRanges, d.Range) {
		bad, d.Range = append(bad, "report_bad_range"), overviewRange
	}
	if !slices.Contains(d.Areas, d.Area) {
		bad, d.Area = append(bad, "report_bad_area"), ""
	}
	if len(bad) > 0 {
		d.Errors = s.reportErrors(v, bad)
		s.renderStatus(w, r, v, http.StatusBadRequest, "overview", d)
		return
	}
	today := s.reportToday()
	d.From, d.Last = today.AddDate(0, 0, 1-overviewDays[d.Range]), today
	q := s.reportQuery(v, d.From, today.AddDate(0, 0, 1))
	q.Area = d.Area
	ov, err := s.deps.Store.Overview(r.Context(), q)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	d.Total = statsView{AreaStats: ov.Total}
	for _, a := range ov.Areas {
		d.Rows = append(d.Rows, statsView{AreaStats: a})
	}
	if len(d.Rows) > 0 {
		d.Rows = append(d.Rows, statsView{AreaStats: ov.Total, IsTotal: true})
	}
	p := s.reportPage(v.Lang)
	labels := make([]string, len(ov.Days))
	flowsDone, opened, people := make([]int64, len(ov.Days)), make([]int64, len(ov.Days)), make([]int64, len(ov.Days))
	for i, day := range ov.Days {
		labels[i] = p.Day(day.Day)
		flowsDone[i], opened[i], people[i] = day.FlowsCompleted, day.TicketsOpened, day.VisitPeople
	}
	for _, c := range []struct {
		title  string
		values []int64
	}{
		{"overview_chart_flows", flowsDone},
		{"overview_chart_tickets", opened},
		{"overview_chart_people", people},
	} {
		ch := columnChart(c.values, labels, p.Num)
		ch.Title = p.T(c.title)
		d.Charts = append(d.Charts, ch)
	}
	s.render(w, r, v, "overview", d)
}

// reportQuery is the start of every report's Query: the viewer's scope, the
// deployment's time zone, [from, to).
func (s *Server) reportQuery(v *viewer, from, to time.Time) Query {
	return Query{From: from, To: to, Scope: slices.Clone(v.Scope), Location: s.cfg.Location}
}

// reportToday is the current day's midnight in the deployment's time zone.
func (s *Server) reportToday() time.Time {
	n := s.cfg.Now().In(s.cfg.Location)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, s.cfg.Location)
}

// reportAreas are the area filter's values the viewer may pick: "" (all
// they see), then each area of their scope; someone who sees every area
// also gets each configured area and "-" (residents with no area).
func (s *Server) reportAreas(v *viewer) []string {
	out := []string{""}
	if v.Scope != nil {
		return append(out, v.Scope...)
	}
	if s.cfg.Areas != nil {
		for _, a := range s.cfg.Areas.All() {
			out = append(out, a.Code)
		}
	}
	return append(out, "-")
}

// reportErrors words what is wrong with a page's filters (text keys of
// texts.yaml) for the viewer.
func (s *Server) reportErrors(v *viewer, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.text.get(v.Lang, "err_bad_input", "what", s.text.get(v.Lang, k))
	}
	return out
}

// reportPage is a page without a request, for its formatting helpers (Num,
// Day, AreaName…) outside a template.
func (s *Server) reportPage(lang string) *page { return &page{s: s, Lang: lang} }
