package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/flows"
)

// renderedFunnelBar is a bar of the funnel chart as the page has it.
type renderedFunnelBar struct {
	Class, Step string
	Entered     int64
}

var funnelBarRE = regexp.MustCompile(`<rect class="([^"]*)" x="[^"]*" y="[^"]*" width="[^"]*" height="[^"]*" data-step="([^"]*)" data-entered="([^"]*)">`)

func funnelBars(t *testing.T, body string) []renderedFunnelBar {
	t.Helper()
	var out []renderedFunnelBar
	for _, m := range funnelBarRE.FindAllStringSubmatch(body, -1) {
		n, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			t.Fatalf("data-entered %q", m[3])
		}
		out = append(out, renderedFunnelBar{Class: m[1], Step: m[2], Entered: n})
	}
	if c := strings.Count(body, "<rect "); c != len(out)+strings.Count(body, `class="swatch"`) {
		t.Errorf("%d rects, %d of them bars with data-step and data-entered", c, len(out))
	}
	return out
}

// flowStepIDs are a flow's steps in their defined order.
func flowStepIDs(t *testing.T, id string) []string {
	t.Helper()
	f, ok := reportBundled(t).Flow(id)
	if !ok {
		t.Fatalf("no flow %s", id)
	}
	var out []string
	for _, st := range f.Steps {
		out = append(out, st.ID)
	}
	return out
}

// installFunnel is a funnel of install_vneid out of the flow's order, with
// a step the flow no longer has.
var installFunnel = []FunnelStep{
	{Step: "done", Entered: 50, Continued: 50},
	{Step: "old_step", Entered: 7, Left: 7},
	{Step: "phone", Entered: 200, Continued: 150, Left: 40, Escalated: 10, Median: 45 * time.Second},
	{Step: "android_open", Entered: 120, Continued: 100, Left: 20, Median: 3 * time.Minute},
	{Step: "iphone_open", Entered: 30, Continued: 25, Left: 5},
	{Step: "not_found", Entered: 25, Left: 25},
}

func funnelEntered(list []FunnelStep, step string) int64 {
	for _, x := range list {
		if x.Step == step {
			return x.Entered
		}
	}
	return 0
}

func TestFunnelBarsFollowTheFlow(t *testing.T) {
	e := newReportEnv(t)
	e.st.funnel[""] = installFunnel
	e.st.versions = []FlowVersion{{Version: "aaaaaaaaaaaa", First: time.Date(2026, 11, 15, 8, 0, 0, 0, reportZone), Events: 900}}
	c := e.login(orgID)
	res := c.get(Prefix + "funnel")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("funnel: %d %s", res.StatusCode, res.Body)
	}
	// the default: the first flow of the menu, the last 30 days
	if !strings.Contains(res.Body, `<option value="install_vneid" selected>`) {
		t.Errorf("install_vneid is not the default flow")
	}
	q := e.lastReportQuery()
	if !q.From.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, reportZone)) || !q.To.Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, reportZone)) || q.Scope != nil {
		t.Errorf("query %+v", q)
	}

	want := append(flowStepIDs(t, "install_vneid"), "old_step")
	bars := funnelBars(t, res.Body)
	if len(bars) != len(want) {
		t.Fatalf("%d bars for %d steps", len(bars), len(want))
	}
	drops := map[string]bool{"phone": true, "not_found": true, "android_open": true} // the most left, 40, 25, 20
	for i, b := range bars {
		if b.Step != want[i] || b.Entered != funnelEntered(installFunnel, want[i]) {
			t.Errorf("bar %d: %+v, want %s with %d", i, b, want[i], funnelEntered(installFunnel, want[i]))
		}
		if wantClass := map[bool]string{true: "bar drop", false: "bar"}[drops[b.Step]]; b.Class != wantClass {
			t.Errorf("bar %s: class %q", b.Step, b.Class)
		}
	}
	// the drop-offs are said in words too: in the chart (label and bar
	// title) and in the table
	if n := strings.Count(res.Body, "▼ nhiều người dừng"); n != 9 {
		t.Errorf("%d drop markers", n)
	}
	for _, want := range []string{
		`<tr class="drop" data-step="phone">`, "20%", "45 giây", "3 phút", "(không còn trong hướng dẫn)",
		"(bước rẽ nhánh, người dân không thấy)", "📱 Mình hướng dẫn Bác cài ứng dụng VNeID", // a step's text
		"Từ 02/11/2026 đến 01/12/2026", `<option value="all" selected>Gộp mọi phiên bản`,
		"Bản dùng từ 15/11/2026", `href="/dashboard/exports/funnel.csv?`,
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("the funnel lacks %q", want)
		}
	}
	if strings.Contains(res.Body, "So sánh hai phiên bản") {
		t.Errorf("one version compared")
	}
	reportNoInline(t, res.Body)
}

func TestFunnelComparesTheLastTwoVersions(t *testing.T) {
	e := newReportEnv(t)
	e.st.versions = []FlowVersion{
		{Version: "bbbbbbbbbbbb", First: time.Date(2026, 11, 15, 8, 0, 0, 0, reportZone)},
		{Version: "aaaaaaaaaaaa", First: time.Date(2026, 10, 1, 8, 0, 0, 0, reportZone)},
	}
	e.st.funnel["bbbbbbbbbbbb"] = []FunnelStep{{Step: "phone", Entered: 100, Continued: 90, Left: 10}, {Step: "done", Entered: 60, Continued: 60}}
	e.st.funnel["aaaaaaaaaaaa"] = []FunnelStep{{Step: "phone", Entered: 80, Continued: 60, Left: 20}, {Step: "done", Entered: 40, Continued: 40}, {Step: "gone", Entered: 9, Left: 9}}
	e.st.funnel[""] = []FunnelStep{{Step: "phone", Entered: 999}}
	c := e.login(orgID)
	res := c.get(Prefix + "funnel?flow=install_vneid")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("funnel: %d", res.StatusCode)
	}
	steps := append(flowStepIDs(t, "install_vneid"), "gone")
	bars := funnelBars(t, res.Body)
	if len(bars) != 2*len(steps) {
		t.Fatalf("%d bars for %d steps", len(bars), len(steps))
	}
	for i, step := range steps {
		newest, prev := bars[2*i], bars[2*i+1]
		if newest.Step != step || prev.Step != step || newest.Entered != funnelEntered(e.st.funnel["bbbbbbbbbbbb"], step) ||
			prev.Entered != funnelEntered(e.st.funnel["aaaaaaaaaaaa"], step) || prev.Class != "bar prev" || !strings.HasPrefix(newest.Class, "bar") {
			t.Errorf("step %s: %+v %+v", step, newest, prev)
		}
	}
	for _, want := range []string{
		"So sánh hai phiên bản", "Bản mới: Bản dùng từ 15/11/2026", "Bản trước: Bản dùng từ 01/10/2026",
		`<option value="" selected>So sánh 2 bản gần nhất`,
		"▼ giảm 15 điểm %",     // phone: 10% left against 25%
		"version=bbbbbbbbbbbb", // the CSV of the table shown: the newest
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("the comparison lacks %q", want)
		}
	}

	// one version picked: no comparison
	res = c.get(Prefix + "funnel?flow=install_vneid&version=aaaaaaaaaaaa")
	bars = funnelBars(t, res.Body)
	if res.StatusCode != http.StatusOK || len(bars) != len(steps) || bars[0].Entered != 80 || strings.Contains(res.Body, "So sánh hai phiên bản") {
		t.Errorf("one version: %d, %d bars", res.StatusCode, len(bars))
	}
	// all versions together
	res = c.get(Prefix + "funnel?flow=install_vneid&version=all")
	if bars = funnelBars(t, res.Body); len(bars) != len(flowStepIDs(t, "install_vneid")) || bars[0].Entered != 999 {
		t.Errorf("all versions: %+v", bars[:1])
	}
}

func TestFunnelPassesTheFilters(t *testing.T) {
	e := newReportEnv(t)
	h := newReportHookEnv(t, e)
	var mu sync.Mutex
	var got []FunnelQuery
	h.hooks.funnel = func(_ context.Context, q FunnelQuery) ([]FunnelStep, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, q)
		return nil, nil
	}
	e.st.versions = []FlowVersion{{Version: "cccccccccccc"}}
	c := h.login(orgID)
	res := c.get(Prefix + "funnel?flow=level2&from=2026-11-01&to=2026-11-30&area=a1&channel=zalo-oa&lang=en&version=cccccccccccc")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("funnel: %d %s", res.StatusCode, res.Body)
	}
	if len(got) != 1 {
		t.Fatalf("%d funnels asked", len(got))
	}
	q := got[0]
	if q.Flow != "level2" || q.Version != "cccccccccccc" || q.Area != "a1" || q.Channel != "zalo-oa" || q.Lang != "en" ||
		!q.From.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, reportZone)) || !q.To.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, reportZone)) ||
		q.Location != reportZone {
		t.Errorf("query %+v", q)
	}
	// the form shows what was asked; nobody funnelEntered: zeros and a word
	for _, want := range []string{`value="2026-11-01"`, `value="2026-11-30"`, `<option value="zalo-oa" selected>`,
		`<option value="en" selected>`, `<option value="a1" selected>`, "Chưa có người dân nào vào hướng dẫn này", `data-entered="0"`} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// one day, and the longest range allowed
	for _, ok := range []string{"from=2026-11-01&to=2026-11-01", "from=2025-12-01&to=2026-12-01", "from=2026-12-01&to=2027-12-01"} {
		if res := c.get(Prefix + "funnel?" + ok); res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", ok, res.StatusCode)
		}
	}
	// an organizer of a1 is limited to a1
	a1 := h.login(orgA1ID)
	if res := a1.get(Prefix + "funnel"); res.StatusCode != http.StatusOK {
		t.Fatalf("organizer of a1: %d", res.StatusCode)
	}
	if q := e.lastReportQuery(); !slices.Equal(q.Scope, []string{"a1"}) {
		t.Errorf("scope %v", q.Scope)
	}
	// a store failure says so
	h.hooks.funnel = func(context.Context, FunnelQuery) ([]FunnelStep, error) { return nil, errBoom }
	if res := c.get(Prefix + "funnel"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("store down: %d", res.StatusCode)
	}
}

func TestFunnelRefusesBadFilters(t *testing.T) {
	e := newReportEnv(t)
	e.st.versions = []FlowVersion{{Version: "aaaaaaaaaaaa"}}
	c := e.login(orgID)
	cases := []struct {
		query string
		field string // named in the message
	}{
		{"flow=nope", "(flow)"},
		{"flow=volunteerx", "(flow)"},
		{"from=2026-13-01", "(from)"},
		{"from=01/11/2026", "(from)"},
		{"to=2026-11-31", "(to)"},
		{"to=tomorrow", "(to)"},
		{"from=2026-11-20&to=2026-11-10", "(to)"},
		{"from=2025-11-30&to=2026-12-01", "(from – to)"},
		{"from=0001-01-01&to=9999-12-31", "(from – to)"},
		{"channel=sms", "(channel)"},
		{"channel=Telegram", "(channel)"},
		{"channel=dashboard", "(channel)"},
		{"lang=fr", "(lang)"},
		{"version=bbbbbbbbbbbb", "(version)"},
		{"area=a9", "(area)"},
	}
	for _, bad := range reportBadParams {
		for _, f := range []string{"flow", "from", "to", "channel", "lang", "version", "area"} {
			cases = append(cases, struct{ query, field string }{url.Values{f: {bad}}.Encode(), "(" + f + ")"})
		}
	}
	for _, tc := range cases {
		res := c.get(Prefix + "funnel?" + tc.query)
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%.80s: %d", tc.query, res.StatusCode)
			continue
		}
		if !strings.Contains(res.Body, tc.field) || !strings.Contains(res.Body, `role="alert"`) || strings.Contains(res.Body, "<script>alert") {
			t.Errorf("%.80s: %s not named", tc.query, tc.field)
		}
		if strings.Contains(res.Body, "data-entered") {
			t.Errorf("%.80s: numbers shown", tc.query)
		}
	}
	// unknown parameters are ignored
	if res := c.get(Prefix + "funnel?foo=bar&range=forever"); res.StatusCode != http.StatusOK {
		t.Errorf("unknown parameters: %d", res.StatusCode)
	}
	// a volunteer may not see funnels
	if res := e.login(volID).get(Prefix + "funnel"); res.StatusCode != http.StatusForbidden {
		t.Errorf("volunteer: %d", res.StatusCode)
	}
}

func TestFunnelWithoutFlows(t *testing.T) {
	e := newTestEnv(t, Config{Flows: func() *flows.Set { return nil }})
	c := e.login(orgID)
	res := c.get(Prefix + "funnel")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Chưa có hướng dẫn nào được nạp") {
		t.Errorf("no flows: %d", res.StatusCode)
	}
	if res := c.get(Prefix + "funnel?flow=install_vneid"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("no flows, a flow asked: %d", res.StatusCode)
	}
}

func TestFunnelRows(t *testing.T) {
	set := reportBundled(t)
	f, _ := set.Flow("install_vneid")
	ids := flowStepIDs(t, "install_vneid")
	for _, tc := range []struct {
		name      string
		cur, prev []FunnelStep
		drops     []string
	}{
		{name: "nothing", drops: nil},
		{name: "nobody left", cur: []FunnelStep{{Step: "phone", Entered: 5, Continued: 5}}, drops: nil},
		{name: "fewer than three", cur: []FunnelStep{{Step: "done", Entered: 5, Left: 1}, {Step: "phone", Entered: 5, Left: 2}}, drops: []string{"phone", "done"}},
		{name: "ties keep the flow's order", cur: []FunnelStep{{Step: "done", Left: 3}, {Step: "open_app", Left: 3}, {Step: "phone", Left: 3}, {Step: "opened", Left: 3}},
			drops: []string{"phone", "open_app", "opened"}},
		{name: "a duplicate row counts once", cur: []FunnelStep{{Step: "phone", Entered: 1, Left: 1}, {Step: "phone", Entered: 9, Left: 9}}, drops: []string{"phone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := funnelRows(f, "vi", tc.cur, tc.prev)
			if len(rows) < len(ids) {
				t.Fatalf("%d rows", len(rows))
			}
			var drops []string
			for i, r := range rows {
				if i < len(ids) && (r.Step != ids[i] || r.N != i+1 || r.Removed) {
					t.Errorf("row %d: %s #%d", i, r.Step, r.N)
				}
				if r.Continued+r.Left+r.Escalated > r.Entered && r.Entered > 0 {
					t.Errorf("row %s adds up wrong", r.Step)
				}
				if r.Drop {
					drops = append(drops, r.Step)
				}
			}
			slices.SortFunc(drops, func(a, b string) int { return slices.Index(ids, a) - slices.Index(ids, b) })
			want := slices.Clone(tc.drops)
			slices.SortFunc(want, func(a, b string) int { return slices.Index(ids, a) - slices.Index(ids, b) })
			if !slices.Equal(drops, want) {
				t.Errorf("drops %v, want %v", drops, want)
			}
		})
	}
	// deltas: percentage points of left, both sides needing residents
	rows := funnelRows(f, "vi", []FunnelStep{{Step: "phone", Entered: 10, Left: 5}, {Step: "done", Entered: 4}},
		[]FunnelStep{{Step: "phone", Entered: 10, Left: 2}, {Step: "opened", Entered: 3, Left: 3}})
	byStep := map[string]funnelRow{}
	for _, r := range rows {
		byStep[r.Step] = r
	}
	if r := byStep["phone"]; !r.HasDelta || r.Delta != 30 || !r.Worse() || r.Better() {
		t.Errorf("phone delta %+v", r)
	}
	if r := byStep["opened"]; r.HasDelta || r.Prev.Entered != 3 {
		t.Errorf("opened (nobody in the newest) %+v", r)
	}
	if r := byStep["done"]; r.HasDelta {
		t.Errorf("done (nobody in the previous) %+v", r)
	}
}

func TestStepLabel(t *testing.T) {
	for _, tc := range []struct {
		st     flows.Step
		label  string
		branch bool
	}{
		{flows.Step{Say: flows.Text{"vi": "**Bước 1**: mở ứng dụng\nrồi bấm"}}, "Bước 1: mở ứng dụng", false},
		{flows.Step{Ask: &flows.Ask{Text: flows.Text{"vi": "Bạn dùng điện thoại gì?", "en": "Which phone?"}}}, "Which phone?", false},
		{flows.Step{End: flows.Text{"vi": "Xong"}}, "Xong", false},
		{flows.Step{Branch: []flows.Case{{Else: "x"}}}, "", true},
		{flows.Step{Say: flows.Text{"vi": strings.Repeat("ạ", 100)}}, strings.Repeat("ạ", 59) + "…", false},
	} {
		label, branch := stepLabel(&tc.st, "en")
		if label != tc.label || branch != tc.branch {
			t.Errorf("%+v: %q %v", tc.st, label, branch)
		}
	}
}
