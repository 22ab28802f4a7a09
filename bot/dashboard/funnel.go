package dashboard

import (
	"cmp"
	"context"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// funnelRoutes: the funnel of one flow.
func (s *Server) funnelRoutes() []Route {
	return []Route{{Method: http.MethodGet, Path: "funnel", Role: Organizer, handler: s.funnelPage}}
}

// Report filters (the funnel's and the exports').
const (
	dateForm        = "2006-01-02" // what <input type=date> sends
	defaultSpanDays = 30           // the default range: the last 30 days, today included
	maxSpanDays     = 366
	// versionChoices is how many versions of a flow the version select
	// offers; the two newest are compared.
	versionChoices = 12
	// Version select values beside the versions themselves.
	versionCompare = "" // the default: the two newest compared (or all, with fewer)
	versionAll     = "all"
	// maxDrops is how many of the biggest drop-offs are marked.
	maxDrops = 3
)

var (
	reportChannels = []string{string(bot.ChannelTelegram), string(bot.ChannelZaloBot), string(bot.ChannelZaloOA), string(bot.ChannelWeb)}
	reportLangs    = []string{"vi", "en"}
)

// report is the filters of the funnel and of the exports, read from the
// URL. Values refused are replaced by their defaults and named in Errs.
type report struct {
	From, To      string // YYYY-MM-DD, as the form shows them (To included)
	Area          string
	Channel, Lang string
	Flow, Version string
	Q             Query
	Errs          []string // text keys of what is wrong
}

// readReport reads the date range, area, channel, language, flow and
// version of a report. The flow and version are only read here, checked by
// the pages that use them (checkFlow).
func (s *Server) readReport(r *http.Request, v *viewer) report {
	u := r.URL.Query()
	rp := report{Area: u.Get("area"), Channel: u.Get("channel"), Lang: u.Get("lang"), Flow: u.Get("flow"), Version: u.Get("version")}
	today := s.reportToday()
	from, to := today.AddDate(0, 0, 1-defaultSpanDays), today
	okFrom, okTo := true, true
	if x := u.Get("from"); x != "" {
		if d, ok := s.reportDay(x); ok {
			from = d
		} else {
			rp.Errs, okFrom = append(rp.Errs, "report_bad_from"), false
		}
	}
	if x := u.Get("to"); x != "" {
		if d, ok := s.reportDay(x); ok {
			to = d
		} else {
			rp.Errs, okTo = append(rp.Errs, "report_bad_to"), false
		}
	}
	switch {
	case !okFrom || !okTo:
	case to.Before(from):
		rp.Errs = append(rp.Errs, "report_bad_order")
	case to.AddDate(0, 0, 1).After(from.AddDate(0, 0, maxSpanDays)):
		rp.Errs = append(rp.Errs, "report_bad_span")
	}
	if !slices.Contains(s.reportAreas(v), rp.Area) {
		rp.Errs, rp.Area = append(rp.Errs, "report_bad_area"), ""
	}
	if rp.Channel != "" && !slices.Contains(reportChannels, rp.Channel) {
		rp.Errs, rp.Channel = append(rp.Errs, "report_bad_channel"), ""
	}
	if rp.Lang != "" && !slices.Contains(reportLangs, rp.Lang) {
		rp.Errs, rp.Lang = append(rp.Errs, "report_bad_lang"), ""
	}
	rp.From, rp.To = from.Format(dateForm), to.Format(dateForm)
	rp.Q = s.reportQuery(v, from, to.AddDate(0, 0, 1))
	rp.Q.Area, rp.Q.Channel, rp.Q.Lang = rp.Area, bot.Channel(rp.Channel), rp.Lang
	return rp
}

// reportDay reads a YYYY-MM-DD date as its midnight in the deployment's
// time zone.
func (s *Server) reportDay(x string) (time.Time, bool) {
	if len(x) != len(dateForm) {
		return time.Time{}, false
	}
	d, err := time.ParseInLocation(dateForm, x, s.cfg.Location)
	return d, err == nil
}

// checkFlow resolves the report's flow ("" : the first flow of the main
// menu) and its versions, newest first. A flow or version that does not
// exist is added to rp.Errs; err is the store's.
func (s *Server) checkFlow(ctx context.Context, rp *report, set *flows.Set) (*flows.Flow, []FlowVersion, error) {
	if rp.Flow == "" {
		if f := reportDefaultFlow(set); f != nil {
			rp.Flow = f.ID
		}
	}
	var f *flows.Flow
	if set != nil {
		f, _ = set.Flow(rp.Flow)
	}
	if f == nil {
		if rp.Flow != "" {
			rp.Errs = append(rp.Errs, "report_bad_flow")
		}
		rp.Flow = ""
		if f = reportDefaultFlow(set); f != nil {
			rp.Flow = f.ID
		}
		return nil, nil, nil
	}
	versions, err := s.deps.Store.FlowVersions(ctx, f.ID, versionChoices)
	if err != nil {
		return nil, nil, err
	}
	if rp.Version != versionCompare && rp.Version != versionAll &&
		!slices.ContainsFunc(versions, func(x FlowVersion) bool { return x.Version == rp.Version }) {
		rp.Errs, rp.Version = append(rp.Errs, "report_bad_version"), versionCompare
	}
	return f, versions, nil
}

// reportMenuFlows are the flows of the main menu in its order, then the others by
// id (the flow select's order).
func reportMenuFlows(set *flows.Set) []*flows.Flow {
	if set == nil {
		return nil
	}
	list := set.Flows()
	rank := func(f *flows.Flow) int {
		if f.Menu > 0 && f.ID != flows.VolunteerFlow {
			return f.Menu
		}
		return math.MaxInt
	}
	slices.SortStableFunc(list, func(a, b *flows.Flow) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.ID, b.ID)) })
	return list
}

// reportDefaultFlow is the first flow of the main menu (nil: no flows).
func reportDefaultFlow(set *flows.Set) *flows.Flow {
	if list := reportMenuFlows(set); len(list) > 0 {
		return list[0]
	}
	return nil
}

// reportFlow is an option of the flow select.
type reportFlow struct{ ID, Title string }

func reportFlows(set *flows.Set, lang string) []reportFlow {
	var out []reportFlow
	for _, f := range reportMenuFlows(set) {
		out = append(out, reportFlow{ID: f.ID, Title: cmpOr(flowText(f.Title, lang), f.ID)})
	}
	return out
}

// flowText is a flow text in lang, or in Vietnamese.
func flowText(t flows.Text, lang string) string { return cmpOr(t[lang], t["vi"]) }

// funnelRow is one step of the funnel as shown: the funnel's numbers
// (the newest version's when two are compared) and the previous version's.
type funnelRow struct {
	FunnelStep
	N       int    // the step's position, from 1
	Label   string // the start of what the step says to residents
	Branch  bool   // an invisible branch step
	Removed bool   // not a step of the flow (any more)
	Drop    bool   // one of the steps most residents left from
	Prev    FunnelStep
	// Delta is the change of the share who left, newest − previous, in
	// percentage points (HasDelta: both versions had residents on it).
	Delta    float64
	HasDelta bool
}

// Worse and Better tell a delta worth showing either way.
func (r funnelRow) Worse() bool  { return r.HasDelta && r.Delta >= 0.05 }
func (r funnelRow) Better() bool { return r.HasDelta && r.Delta <= -0.05 }

// DeltaAbs is the delta's size.
func (r funnelRow) DeltaAbs() float64 { return math.Abs(r.Delta) }

// leftShare is the share of those who entered a step who left from it, in
// percent.
func leftShare(x FunnelStep) (float64, bool) {
	if x.Entered <= 0 {
		return 0, false
	}
	return float64(x.Left) * 100 / float64(x.Entered), true
}

// funnelRows puts a funnel in the flow's step order (steps nobody entered
// show zeros; steps the store reports that the flow no longer has come
// last) and marks the biggest drop-offs of cur. prev, when not nil, is the
// previous version's funnel.
func funnelRows(f *flows.Flow, lang string, cur, prev []FunnelStep) []funnelRow {
	byID := func(list []FunnelStep) map[string]FunnelStep {
		m := make(map[string]FunnelStep, len(list))
		for _, x := range list {
			if _, dup := m[x.Step]; !dup {
				m[x.Step] = x
			}
		}
		return m
	}
	curBy, prevBy := byID(cur), byID(prev)
	var rows []funnelRow
	seen := map[string]bool{}
	add := func(id string, st *flows.Step) {
		if seen[id] {
			return
		}
		seen[id] = true
		row := funnelRow{FunnelStep: curBy[id], N: len(rows) + 1, Prev: prevBy[id], Removed: st == nil}
		row.Step, row.Prev.Step = id, id
		if st != nil {
			row.Label, row.Branch = stepLabel(st, lang)
		}
		if prev != nil {
			a, okA := leftShare(row.FunnelStep)
			b, okB := leftShare(row.Prev)
			row.Delta, row.HasDelta = a-b, okA && okB
		}
		rows = append(rows, row)
	}
	for _, st := range f.Steps {
		if st != nil {
			add(st.ID, st)
		}
	}
	for _, list := range [][]FunnelStep{cur, prev} {
		for _, x := range list {
			st, _ := f.Step(x.Step)
			add(x.Step, st)
		}
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rows[b].Left, rows[a].Left) })
	for _, i := range order[:min(maxDrops, len(order))] {
		rows[i].Drop = rows[i].Left > 0
	}
	return rows
}

// stepLabel is the start of what a step says (the first line, at most 60
// characters); branch reports an invisible branch step.
func stepLabel(st *flows.Step, lang string) (label string, branch bool) {
	var t flows.Text
	switch {
	case st.Say != nil:
		t = st.Say
	case st.Ask != nil:
		t = st.Ask.Text
	case st.End != nil:
		t = st.End
	case st.Handoff != nil:
		t = st.Handoff.Say
	default:
		return "", st.Branch != nil
	}
	line, _, _ := strings.Cut(strings.TrimSpace(flowText(t, lang)), "\n")
	line = strings.NewReplacer("**", "", "__", "").Replace(line)
	if utf8.RuneCountInString(line) > 60 {
		line = string([]rune(line)[:59]) + "…"
	}
	return line, false
}

// versionChoice is an option of the version select.
type versionChoice struct{ Value, Label string }

// versionLabel names a version by the day it was first seen.
func (s *Server) versionLabel(p *page, x FlowVersion, current string) string {
	label := p.T("funnel_version_code", "code", x.Version)
	if !x.First.IsZero() {
		label = p.T("funnel_version_since", "date", x.First.In(s.cfg.Location).Format("02/01/2006"))
	}
	if x.Version == current {
		label += " · " + p.T("funnel_version_current")
	}
	return label
}

// funnelData is what funnel.html shows.
type funnelData struct {
	Report   report
	Flows    []reportFlow
	Versions []versionChoice
	Areas    []string
	Channels []string
	Langs    []string
	Errors   []string

	Ready     bool // a flow's numbers are shown
	FlowTitle string
	Period    string
	Rows      []funnelRow
	Chart     barChart
	Empty     bool // nobody entered any step
	Drops     bool // some steps are marked
	// Compare: the two newest versions, Newest and Previous their labels.
	Compare          bool
	Newest, Previous string
	// CSV is the query of the export of the table shown.
	CSV template.URL
}

// funnelPage shows a flow's funnel: the residents who entered each step
// and where they went, with the two newest versions of the flow compared.
func (s *Server) funnelPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	set := s.cfg.Flows()
	p := s.reportPage(v.Lang)
	rp := s.readReport(r, v)
	f, versions, err := s.checkFlow(r.Context(), &rp, set)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	d := &funnelData{Report: rp, Flows: reportFlows(set, v.Lang), Areas: s.reportAreas(v), Channels: reportChannels, Langs: reportLangs}
	compare := rp.Version == versionCompare && len(versions) >= 2
	if compare {
		d.Versions = append(d.Versions, versionChoice{Value: versionCompare, Label: p.T("funnel_version_compare")})
	}
	d.Versions = append(d.Versions, versionChoice{Value: versionAll, Label: p.T("funnel_version_all")})
	if len(versions) < 2 && rp.Version == versionCompare {
		d.Report.Version = versionAll
	}
	current := ""
	if f != nil {
		current = f.Version
	}
	for _, x := range versions {
		d.Versions = append(d.Versions, versionChoice{Value: x.Version, Label: s.versionLabel(p, x, current)})
	}
	if len(rp.Errs) > 0 {
		d.Errors = s.reportErrors(v, rp.Errs)
		s.renderStatus(w, r, v, http.StatusBadRequest, "funnel", d)
		return
	}
	if f == nil { // no flows at all
		s.render(w, r, v, "funnel", d)
		return
	}
	fq := FunnelQuery{Query: rp.Q, Flow: f.ID}
	if rp.Version != versionCompare && rp.Version != versionAll {
		fq.Version = rp.Version
	}
	var prev []FunnelStep
	if compare {
		fq.Version = versions[0].Version
		pq := fq
		pq.Version = versions[1].Version
		if prev, err = s.deps.Store.Funnel(r.Context(), pq); err != nil {
			s.unavailable(w, r, v, err)
			return
		}
		if prev == nil {
			prev = []FunnelStep{}
		}
		d.Compare, d.Newest, d.Previous = true, s.versionLabel(p, versions[0], current), s.versionLabel(p, versions[1], current)
	}
	cur, err := s.deps.Store.Funnel(r.Context(), fq)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	d.Ready, d.FlowTitle, d.Period = true, cmpOr(flowText(f.Title, v.Lang), f.ID), s.reportPeriod(p, rp)
	d.Rows = funnelRows(f, v.Lang, cur, prev)
	d.Chart = s.funnelChart(p, d.Rows, compare)
	d.Empty = true
	for _, row := range d.Rows {
		d.Empty = d.Empty && row.Entered == 0 && row.Prev.Entered == 0
		d.Drops = d.Drops || row.Drop
	}
	csv := rp.values()
	csv.Set("flow", f.ID)
	csv.Del("version")
	if fq.Version != "" {
		csv.Set("version", fq.Version)
	}
	d.CSV = template.URL(csv.Encode()) // escaped by Encode
	s.render(w, r, v, "funnel", d)
}

// funnelChart draws entered per step: one bar per step, or two (the newest
// version, then the previous one, class "prev") when compared. Each bar
// carries its step (data-step); the biggest drop-offs are marked by class
// "drop" and by text.
func (s *Server) funnelChart(p *page, rows []funnelRow, compare bool) barChart {
	labels := make([]string, len(rows))
	series := [][]int64{make([]int64, len(rows))}
	if compare {
		series = append(series, make([]int64, len(rows)))
	}
	for i, row := range rows {
		labels[i] = strconv.Itoa(row.N) + ". " + row.Step
		if row.Drop {
			labels[i] += "  " + p.T("funnel_drop")
		}
		series[0][i] = row.Entered
		if compare {
			series[1][i] = row.Prev.Entered
		}
	}
	c := rowChart(labels, series, p.Num)
	c.Title = p.T("funnel_chart")
	for i := range c.Bars {
		b := &c.Bars[i]
		b.Key = rows[b.Group].Step
		switch {
		case b.Series == 1:
			b.Class = "bar prev"
		case rows[b.Group].Drop:
			b.Class = "bar drop"
		}
	}
	return c
}

// reportPeriod says a report's dates.
func (s *Server) reportPeriod(p *page, rp report) string {
	day := func(x string) string {
		d, _ := s.reportDay(x)
		return d.Format("02/01/2006")
	}
	if rp.From == rp.To {
		return p.T("report_period_day", "day", day(rp.From))
	}
	return p.T("report_period", "from", day(rp.From), "to", day(rp.To))
}

// values are a report's filters as a URL query (what the forms send).
func (rp report) values() url.Values {
	u := url.Values{}
	for _, kv := range [][2]string{{"from", rp.From}, {"to", rp.To}, {"area", rp.Area}, {"channel", rp.Channel},
		{"lang", rp.Lang}, {"flow", rp.Flow}, {"version", rp.Version}} {
		if kv[1] != "" {
			u.Set(kv[0], kv[1])
		}
	}
	return u
}
