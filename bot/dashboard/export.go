package dashboard

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// exportRoutes: the exports page and the CSV files. A ServeMux wildcard is
// a whole path segment, so the files' pattern is exports/{file} and the
// handler reads "<what>.csv" from it.
func (s *Server) exportRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "exports", Role: Organizer, handler: s.exportsPage},
		{Method: http.MethodGet, Path: "exports/{file}", Role: Organizer, handler: s.exportCSV},
	}
}

// exportKinds are what can be exported (?what=, and the file's name).
var exportKinds = []string{"tickets", "visits", "funnel"}

const (
	// csvTime is how times are written: what spreadsheets read as a date.
	csvTime = "2006-01-02 15:04"
	// csvFlushEvery: the rows written between two flushes to the client.
	csvFlushEvery = 200
)

// exportData is what exports.html shows.
type exportData struct {
	Report   report
	What     string
	Whats    []string
	Flows    []reportFlow
	Areas    []string
	Channels []string
	Langs    []string
	Errors   []string
}

func (s *Server) exportForm(v *viewer, rp report, what string) *exportData {
	return &exportData{Report: rp, What: cmpOr(what, exportKinds[0]), Whats: exportKinds, Flows: reportFlows(s.cfg.Flows(), v.Lang),
		Areas: s.reportAreas(v), Channels: reportChannels, Langs: reportLangs}
}

// exportsPage shows the export form. Sent (with what=), it goes on to the
// CSV file of the filters, once they are right.
func (s *Server) exportsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	rp := s.readReport(r, v)
	what := r.URL.Query().Get("what")
	send := r.URL.Query().Has("what")
	if send && !slices.Contains(exportKinds, what) {
		rp.Errs, what = append(rp.Errs, "report_bad_what"), ""
	}
	if send && what == "funnel" {
		if _, _, err := s.checkFlow(r.Context(), &rp, s.cfg.Flows()); err != nil {
			s.unavailable(w, r, v, err)
			return
		}
	}
	if rp.Flow == "" { // the form's flow select shows the default
		if f := reportDefaultFlow(s.cfg.Flows()); f != nil {
			rp.Flow = f.ID
		}
	}
	d := s.exportForm(v, rp, what)
	if len(rp.Errs) > 0 {
		d.Errors = s.reportErrors(v, rp.Errs)
		s.renderStatus(w, r, v, http.StatusBadRequest, "exports", d)
		return
	}
	if !send {
		s.render(w, r, v, "exports", d)
		return
	}
	u := rp.values()
	if what != "funnel" { // what a funnel only has
		u.Del("flow")
		u.Del("version")
		u.Del("lang")
	}
	if what == "visits" { // visits have no channel
		u.Del("channel")
	}
	http.Redirect(w, r, Prefix+"exports/"+what+".csv?"+u.Encode(), http.StatusSeeOther)
}

// exportCSV streams a CSV file: tickets and visits straight from the
// store, row by row, and the funnel's table.
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request, v *viewer) {
	what, ok := strings.CutSuffix(r.PathValue("file"), ".csv")
	if !ok || !slices.Contains(exportKinds, what) {
		s.fail(w, r, v, http.StatusNotFound, "err_not_found")
		return
	}
	rp := s.readReport(r, v)
	if what == "visits" {
		rp.Q.Channel = ""
	}
	set := s.cfg.Flows()
	var fl *flowFunnel
	if what == "funnel" {
		f, _, err := s.checkFlow(r.Context(), &rp, set)
		if err != nil {
			s.unavailable(w, r, v, err)
			return
		}
		if f == nil && len(rp.Errs) == 0 { // no flows at all
			rp.Errs = append(rp.Errs, "report_bad_flow")
		}
		if len(rp.Errs) == 0 {
			fl = &flowFunnel{q: FunnelQuery{Query: rp.Q, Flow: f.ID}}
			if rp.Version != versionCompare && rp.Version != versionAll {
				fl.q.Version = rp.Version
			}
			steps, err := s.deps.Store.Funnel(r.Context(), fl.q)
			if err != nil {
				s.unavailable(w, r, v, err)
				return
			}
			fl.rows = funnelRows(f, v.Lang, steps, nil)
		}
	}
	if len(rp.Errs) > 0 {
		d := s.exportForm(v, rp, what)
		d.Errors = s.reportErrors(v, rp.Errs)
		s.renderStatus(w, r, v, http.StatusBadRequest, "exports", d)
		return
	}
	p := s.reportPage(v.Lang)
	name := "gocua-" + what
	if fl != nil {
		name += "-" + fl.q.Flow
	}
	out := &csvOut{w: w, name: csvFileName(name+"-"+rp.From+"-"+rp.To) + ".csv"}
	var err error
	switch what {
	case "tickets":
		out.header = reportWords(p, "export_col_ticket", "export_col_opened", "export_col_status", "export_col_area",
			"export_col_channel", "export_col_resident", "export_col_flow", "export_col_step", "export_col_topic",
			"export_col_lang", "export_col_summary", "export_col_volunteer", "export_col_claimed", "export_col_closed",
			"export_col_category", "export_col_rating")
		err = s.deps.Store.ExportTickets(r.Context(), rp.Q, func(t TicketRow) error { return out.row(s.ticketCells(p, t)...) })
	case "visits":
		out.header = reportWords(p, "export_col_visit", "export_col_at", "export_col_area", "export_col_volunteer",
			"export_col_actions", "export_col_people", "export_col_note")
		err = s.deps.Store.ExportVisits(r.Context(), rp.Q, func(x handoff.Visit) error { return out.row(s.visitCells(p, x)...) })
	case "funnel":
		out.header = reportWords(p, "export_col_n", "export_col_step", "export_col_says", "funnel_entered", "funnel_continued",
			"funnel_left", "funnel_escalated", "funnel_left_pct", "export_col_median", "export_col_drop")
		for _, row := range fl.rows {
			if err = out.row(funnelCells(p, row)...); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = out.end()
	}
	if err != nil {
		s.exportFailed(w, r, v, out, err)
	}
}

// flowFunnel is a funnel export's query and table.
type flowFunnel struct {
	q    FunnelQuery
	rows []funnelRow
}

// exportFailed ends an export that failed: with an error page when nothing
// was sent yet, else by cutting the connection, so a partial file never
// looks complete.
func (s *Server) exportFailed(w http.ResponseWriter, r *http.Request, v *viewer, out *csvOut, err error) {
	if !out.started {
		s.unavailable(w, r, v, err)
		return
	}
	if r.Context().Err() == nil && !errors.Is(err, context.Canceled) {
		s.log.Error("dashboard: export cut short", "path", r.URL.Path, "rows", out.rows, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// reportWords are texts in the page's language.
func reportWords(p *page, keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p.T(k)
	}
	return out
}

// csvOut writes a CSV download as its rows come: UTF-8 with a byte order
// mark (so Excel reads Vietnamese right), the header row in the viewer's
// language, every cell guarded against formula injection. Nothing is sent
// before the first row (or the end), so a store failing at once still gets
// an error page.
type csvOut struct {
	w       http.ResponseWriter
	cw      *csv.Writer
	name    string
	header  []string
	started bool
	rows    int
}

func (o *csvOut) start() error {
	if o.started {
		return nil
	}
	o.started = true
	h := o.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+o.name+`"`)
	o.w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(o.w, "\uFEFF"); err != nil {
		return err
	}
	o.cw = csv.NewWriter(o.w)
	o.cw.UseCRLF = true
	return o.write(o.header)
}

func (o *csvOut) write(cells []string) error {
	for i, c := range cells {
		cells[i] = safeCell(c)
	}
	return o.cw.Write(cells)
}

// row writes one row, flushing every csvFlushEvery rows.
func (o *csvOut) row(cells ...string) error {
	if err := o.start(); err != nil {
		return err
	}
	if err := o.write(cells); err != nil {
		return err
	}
	o.rows++
	if o.rows%csvFlushEvery == 0 {
		o.cw.Flush()
		if err := o.cw.Error(); err != nil {
			return err
		}
		_ = http.NewResponseController(o.w).Flush()
	}
	return nil
}

// end writes what is left (the header alone when there were no rows).
func (o *csvOut) end() error {
	if err := o.start(); err != nil {
		return err
	}
	o.cw.Flush()
	return o.cw.Error()
}

// safeCell keeps a spreadsheet from running a cell as a formula: one that
// starts with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe.
func safeCell(c string) string {
	if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
		return "'" + c
	}
	return c
}

// csvFileName keeps a download's name to letters, digits, - and _.
func csvFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// csvWhen writes a time in the deployment's zone ("" : none).
func (s *Server) csvWhen(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.cfg.Location).Format(csvTime)
}

// csvArea names a row's area ("" : none).
func csvArea(p *page, code string) string {
	if code == "" {
		code = "-"
	}
	return p.AreaName(code)
}

func (s *Server) ticketCells(p *page, t TicketRow) []string {
	status := string(t.Status)
	if k := "export_status_" + status; s.text[k] != nil {
		status = p.T(k)
	}
	rating := ""
	if t.Rating > 0 {
		rating = strconv.Itoa(t.Rating)
	}
	return []string{strconv.FormatInt(t.ID, 10), s.csvWhen(t.CreatedAt), status, csvArea(p, t.Area),
		string(t.Resident.Channel), handoff.ShortID(t.Resident.ChatID), t.Flow, t.Step, t.Topic, t.Lang,
		bot.MaskPII(t.Summary), t.VolunteerName, s.csvWhen(t.AssignedAt), s.csvWhen(t.ClosedAt), t.Category, rating}
}

func (s *Server) visitCells(p *page, x handoff.Visit) []string {
	set := s.cfg.Flows()
	actions := make([]string, len(x.Actions))
	for i, a := range x.Actions {
		actions[i] = a
		if set != nil {
			if name := set.Text(p.Lang, "visit_action_"+a, nil); name != "visit_action_"+a {
				actions[i] = name
			}
		}
	}
	return []string{strconv.FormatInt(x.ID, 10), s.csvWhen(x.At), csvArea(p, x.Area), x.VolunteerName,
		strings.Join(actions, "; "), strconv.Itoa(x.People), bot.MaskPII(x.Note)}
}

func funnelCells(p *page, row funnelRow) []string {
	pct := ""
	if share, ok := leftShare(row.FunnelStep); ok {
		pct = p.Num1(share)
	}
	median, drop := "", ""
	if row.Median > 0 {
		median = strconv.FormatInt(int64(row.Median/time.Second), 10)
	}
	if row.Drop {
		drop = p.T("funnel_drop")
	}
	return []string{strconv.Itoa(row.N), row.Step, row.Label, strconv.FormatInt(row.Entered, 10),
		strconv.FormatInt(row.Continued, 10), strconv.FormatInt(row.Left, 10), strconv.FormatInt(row.Escalated, 10),
		pct, median, drop}
}
