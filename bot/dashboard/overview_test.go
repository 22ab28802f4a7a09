package dashboard

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/flows"
)

// Shared by the overview, funnel and export tests.

var (
	reportBundledOnce sync.Once
	reportBundledSet  *flows.Set
	reportBundledErr  error
)

// reportBundled are the flows shipped in the binary, loaded once.
func reportBundled(t *testing.T) *flows.Set {
	t.Helper()
	reportBundledOnce.Do(func() { reportBundledSet, reportBundledErr = flows.Load(flows.Bundled()) })
	if reportBundledErr != nil {
		t.Fatal(reportBundledErr)
	}
	return reportBundledSet
}

// reportAreas are two wards, a1 and a2.
func reportTestAreas(t *testing.T) *areas.Set {
	t.Helper()
	set, err := areas.Parse("test.yaml", []byte(`province: {code: hue, name: "Thành phố Huế"}
areas:
  - {code: a1, name: "Phường Thuận Hóa"}
  - {code: a2, name: "Phường Phú Xuân"}
`))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// reportZone is the deployments' time zone (UTC+7, no summer time).
var reportZone = time.FixedZone("ICT", 7*3600)

// newReportEnv is a test server with areas, the bundled flows and the
// Vietnamese time zone.
func newReportEnv(t *testing.T) *testEnv {
	t.Helper()
	set := reportBundled(t)
	return newTestEnv(t, Config{Areas: reportTestAreas(t), Flows: func() *flows.Set { return set }, Location: reportZone})
}

// lastReportQuery is the last Query a page asked the store.
func (e *testEnv) lastReportQuery() Query {
	e.t.Helper()
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	if len(e.st.queries) == 0 {
		e.t.Fatal("the store was not asked")
	}
	return e.st.queries[len(e.st.queries)-1]
}

// reportQueryCount is how many queries the store got.
func (e *testEnv) reportQueryCount() int {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	return len(e.st.queries)
}

// reportNoInline fails on inline script or style (the CSP forbids them).
func reportNoInline(t *testing.T, body string) {
	t.Helper()
	for _, bad := range []string{"<script>", " style=", "<style", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("inline %q on the page", bad)
		}
	}
}

// reportBadParams are odd values every filter must refuse without crashing.
var reportBadParams = []string{
	"nope", "<script>alert(1)</script>", strings.Repeat("é", 5000), "\x00", "%", "2026-02-30", "🙂🙂🙂",
	"' OR 1=1 --", "\u202egnp.exe", "../../etc/passwd",
}

var overviewCanned = Overview{
	Total: AreaStats{Residents: 12345, NewResidents: 678, FlowsCompleted: 4321, TicketsOpened: 210, TicketsResolved: 198,
		MedianWait: 12 * time.Minute, MedianHandle: 90 * time.Minute, Rated: 120, RatingSum: 516, Satisfied: 103,
		BroadcastsSent: 5600, Visits: 31, VisitPeople: 1402},
	Areas: []AreaStats{
		{Area: "-", Residents: 45, FlowsCompleted: 3},
		{Area: "a1", Residents: 10000, NewResidents: 600, FlowsCompleted: 4000, TicketsOpened: 200, Rated: 100, RatingSum: 430, Satisfied: 90, VisitPeople: 1400},
		{Area: "a2", Residents: 2300, NewResidents: 78, FlowsCompleted: 318, TicketsOpened: 10, VisitPeople: 2},
	},
}

func cannedDays(from time.Time, n int) []DayStats {
	var out []DayStats
	for i := range n {
		out = append(out, DayStats{Day: from.AddDate(0, 0, i), FlowsCompleted: int64(100 * i), TicketsOpened: int64(i), VisitPeople: int64(i % 3)})
	}
	return out
}

func TestOverviewShowsTheNumbers(t *testing.T) {
	e := newReportEnv(t)
	ov := overviewCanned
	ov.Days = cannedDays(time.Date(2026, 11, 25, 0, 0, 0, 0, reportZone), 7)
	e.st.overview = ov
	c := e.login(orgID)
	res := c.get(Prefix)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("overview: %d %s", res.StatusCode, res.Body)
	}
	body := res.Body
	for _, want := range []string{
		"12.345", "trong đó 678 người lần đầu", // residents, Vietnamese thousands separator
		"4.321", "210", "198",
		"12 phút", "1,5 giờ", // medians
		"4,3 / 5 sao", "85,8% hài lòng (4–5 sao) · 120 lượt đánh giá", // CSAT 516/120, 103/120
		"5.600", "31", "1.402",
		"Phường Thuận Hóa", "Phường Phú Xuân", "Chưa rõ địa bàn", "Tổng cộng", // the per-area table
		"Từ 25/11 đến 01/12", // the last 7 days, today included
		`aria-current="page"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	// three charts of seven bars each
	if n := strings.Count(body, `<svg class="chart cols"`); n != 3 {
		t.Errorf("%d charts", n)
	}
	if n := strings.Count(body, `<rect class="bar"`); n != 21 {
		t.Errorf("%d bars", n)
	}
	if !strings.Contains(body, `data-value="600"`) {
		t.Errorf("the flows chart lacks day 7's 600")
	}
	reportNoInline(t, body)

	// [the first day's midnight, tomorrow's) in the deployment's zone, everyone's areas
	q := e.lastReportQuery()
	if !q.From.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, reportZone)) || !q.To.Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, reportZone)) ||
		q.Location != reportZone || q.Scope != nil || q.Area != "" {
		t.Errorf("query %+v", q)
	}

	// in English
	c.get(Prefix + "lang?to=en&back=" + url.QueryEscape(Prefix))
	body = c.get(Prefix).Body
	for _, want := range []string{"12,345", "678 of them for the first time", "4.3 / 5 stars", "85.8% satisfied", "12 min"} {
		if !strings.Contains(body, want) {
			t.Errorf("the English overview lacks %q", want)
		}
	}
}

func TestOverviewRanges(t *testing.T) {
	e := newReportEnv(t)
	c := e.login(orgID)
	midnight := time.Date(2026, 12, 1, 0, 0, 0, 0, reportZone) // testNow is 16:00 in Vietnam
	for _, tc := range []struct {
		query string
		from  time.Time
	}{
		{"", midnight.AddDate(0, 0, -6)},
		{"?range=7d", midnight.AddDate(0, 0, -6)},
		{"?range=today", midnight},
		{"?range=30d", midnight.AddDate(0, 0, -29)},
		{"?range=30d&range=today", midnight.AddDate(0, 0, -29)}, // the first wins
		{"?range=today&foo=bar&n=notice_nope", midnight},        // unknown parameters are ignored
	} {
		res := c.get(Prefix + tc.query)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", tc.query, res.StatusCode)
			continue
		}
		if q := e.lastReportQuery(); !q.From.Equal(tc.from) || !q.To.Equal(midnight.AddDate(0, 0, 1)) {
			t.Errorf("%s: [%v, %v)", tc.query, q.From, q.To)
		}
	}
	if body := c.get(Prefix + "?range=today").Body; !strings.Contains(body, "Ngày 01/12") {
		t.Errorf("today's period is not said")
	}

	// just after midnight in Vietnam it is already the next day
	e.now = time.Date(2026, 12, 1, 17, 30, 0, 0, time.UTC)
	c.get(Prefix + "?range=today")
	if q := e.lastReportQuery(); !q.From.Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, reportZone)) {
		t.Errorf("today in Vietnam starts %v", q.From)
	}
}

func TestOverviewAreaFilterAndScope(t *testing.T) {
	e := newReportEnv(t)
	org := e.login(orgID)
	body := org.get(Prefix).Body
	for _, want := range []string{`<option value="" selected>Tất cả địa bàn`, `<option value="a1">Phường Thuận Hóa`, `<option value="a2">`, `<option value="-">Chưa rõ địa bàn`} {
		if !strings.Contains(body, want) {
			t.Errorf("the area select lacks %q", want)
		}
	}
	for _, area := range []string{"a1", "a2", "-"} {
		if res := org.get(Prefix + "?area=" + url.QueryEscape(area)); res.StatusCode != http.StatusOK {
			t.Errorf("area %q: %d", area, res.StatusCode)
		}
		if q := e.lastReportQuery(); q.Area != area || q.Scope != nil {
			t.Errorf("area %q: query %+v", area, q)
		}
	}

	// an organizer of a1 sees a1 only
	a1 := e.login(orgA1ID)
	res := a1.get(Prefix)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("organizer of a1: %d", res.StatusCode)
	}
	if q := e.lastReportQuery(); !slices.Equal(q.Scope, []string{"a1"}) {
		t.Errorf("scope %v", q.Scope)
	}
	if strings.Contains(res.Body, `value="a2"`) || strings.Contains(res.Body, `value="-"`) {
		t.Errorf("another area is offered")
	}
	n := e.reportQueryCount()
	for _, area := range []string{"a2", "-"} {
		if res := a1.get(Prefix + "?area=" + area); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "địa bàn (area)") {
			t.Errorf("area %s outside the scope: %d", area, res.StatusCode)
		}
	}
	if e.reportQueryCount() != n {
		t.Errorf("a refused filter reached the store")
	}
}

func TestOverviewSendsVolunteersToTheQueue(t *testing.T) {
	e := newReportEnv(t)
	vol := e.login(volID)
	for _, path := range []string{Prefix, Prefix + "?range=30d", Prefix + "?range=" + url.QueryEscape(reportBadParams[1])} {
		res := vol.get(path)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix+"queue" {
			t.Errorf("%s: %d %q", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if len(e.st.queries) != 0 {
		t.Errorf("a volunteer's overview asked the store")
	}
	// the way in without the slash too
	res := vol.get(strings.TrimSuffix(Prefix, "/"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix {
		t.Errorf("/dashboard: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// the overview route is the only organizer page registered for volunteers
	for _, rt := range e.srv.Routes() {
		if rt.Path == "{$}" && (rt.Role != Volunteer || rt.Method != http.MethodGet) {
			t.Errorf("overview route %+v", rt)
		}
	}
	// signed out: to the login page
	if res := e.anon().get(Prefix); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), Prefix+"login") {
		t.Errorf("signed out: %d", res.StatusCode)
	}
}

func TestOverviewRefusesBadFilters(t *testing.T) {
	e := newReportEnv(t)
	c := e.login(orgID)
	for _, param := range []string{"range", "area"} {
		for _, bad := range append(reportBadParams, "1y", "7D", " 7d") {
			n := e.reportQueryCount()
			res := c.get(Prefix + "?" + url.Values{param: {bad}}.Encode())
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("%s=%q: %d", param, bad, res.StatusCode)
				continue
			}
			if !strings.Contains(res.Body, "("+param+")") || !strings.Contains(res.Body, `role="alert"`) {
				t.Errorf("%s=%q: the field is not named: %s", param, bad, res.Body)
			}
			if strings.Contains(res.Body, "<script>alert") {
				t.Errorf("%s=%q: echoed", param, bad)
			}
			if e.reportQueryCount() != n {
				t.Errorf("%s=%q reached the store", param, bad)
			}
		}
	}
	// both at once are both named
	res := c.get(Prefix + "?range=x&area=y")
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, "(range)") || !strings.Contains(res.Body, "(area)") {
		t.Errorf("two bad filters: %d", res.StatusCode)
	}
}

func TestOverviewEmptyAndUnavailable(t *testing.T) {
	e := newReportEnv(t)
	c := e.login(orgID)
	// nothing counted yet: zeros, dashes and no chart bars
	res := c.get(Prefix + "?range=30d")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("empty overview: %d", res.StatusCode)
	}
	for _, want := range []string{"Chưa có lượt đánh giá nào", "Chưa có số liệu trong khoảng này.", "Chưa có số liệu theo địa bàn"} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("the empty overview lacks %q", want)
		}
	}
	if strings.Contains(res.Body, "<rect") {
		t.Errorf("bars of nothing")
	}
	// a store failure says so
	h := newReportHookEnv(t, e)
	h.hooks.overview = func(context.Context, Query) (Overview, error) { return Overview{}, errBoom }
	if res := h.login(orgID).get(Prefix); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.Body, "Hệ thống đang bận") {
		t.Errorf("store down: %d", res.StatusCode)
	}
}

// errBoom is a store failure.
var errBoom = errors.New("store down")

// reportHookStore is the fake store with some calls replaced.
type reportHookStore struct {
	*fakeStore
	overview      func(context.Context, Query) (Overview, error)
	funnel        func(context.Context, FunnelQuery) ([]FunnelStep, error)
	exportTickets func(context.Context, Query, func(TicketRow) error) error
}

func (h *reportHookStore) Overview(ctx context.Context, q Query) (Overview, error) {
	if h.overview != nil {
		h.ask(q)
		return h.overview(ctx, q)
	}
	return h.fakeStore.Overview(ctx, q)
}

func (h *reportHookStore) Funnel(ctx context.Context, q FunnelQuery) ([]FunnelStep, error) {
	if h.funnel != nil {
		h.ask(q.Query)
		return h.funnel(ctx, q)
	}
	return h.fakeStore.Funnel(ctx, q)
}

func (h *reportHookStore) ExportTickets(ctx context.Context, q Query, fn func(TicketRow) error) error {
	if h.exportTickets != nil {
		h.ask(q)
		return h.exportTickets(ctx, q, fn)
	}
	return h.fakeStore.ExportTickets(ctx, q, fn)
}

// reportHookEnv is a second server on e's fake store (its staff and sessions)
// whose Store is a reportHookStore.
type reportHookEnv struct {
	*testEnv
	hooks *reportHookStore
}

func newReportHookEnv(t *testing.T, e *testEnv) *reportHookEnv {
	t.Helper()
	cfg := e.srv.cfg
	h := &reportHookStore{fakeStore: e.st}
	srv, err := New(cfg, Deps{Store: h, Staff: e.st, Core: e.st, Broadcasts: e.st, Uploads: e.st}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return &reportHookEnv{testEnv: &testEnv{t: t, st: e.st, srv: srv, ts: ts, now: e.now}, hooks: h}
}
