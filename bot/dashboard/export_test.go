package dashboard

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

const csvBOM = "\uFEFF"

// readCSV checks a CSV download and parses it back.
func readCSV(t *testing.T, res response, name string) [][]string {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %s", res.StatusCode, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="`+name+`"` {
		t.Errorf("Content-Disposition %q, want %s", cd, name)
	}
	if !strings.HasPrefix(res.Body, csvBOM) {
		t.Errorf("no byte order mark: %q", res.Body[:min(len(res.Body), 10)])
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(res.Body, csvBOM)))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, res.Body)
	}
	if len(rows) == 0 {
		t.Fatal("no header row")
	}
	return rows
}

func seedExportTickets(e *testEnv) {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	for _, tk := range []handoff.Ticket{
		{ID: 1, Resident: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "123456789"}, Status: handoff.Waiting, Area: "a1",
			Flow: "install_vneid", Step: "phone", Topic: "vneid", Lang: "vi", Summary: `=HYPERLINK("http://evil.example","bấm")`,
			CreatedAt: e.now.Add(-3 * time.Hour), Callback: "0912000111"},
		{ID: 2, Resident: bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: "zalo-user-98765"}, Status: handoff.Assigned, Area: "a2",
			Volunteer: volID, Summary: "Bác gọi số 0912345678 giúp, căn cước 001203004005", CreatedAt: e.now.Add(-5 * time.Hour),
			AssignedAt: e.now.Add(-4 * time.Hour)},
		{ID: 3, Resident: bot.ConvKey{Channel: bot.ChannelWeb, ChatID: "ab"}, Status: handoff.Waiting, Summary: "+1 cộng\t@SUM(A1)",
			CreatedAt: e.now.Add(-time.Hour)},
		{ID: 4, Resident: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "555"}, Status: handoff.Resolved, Area: "a1",
			CreatedAt: e.now.Add(-2 * time.Hour), Rating: 5},
	} {
		e.st.tickets[tk.ID] = tk
	}
}

func TestExportTicketsCSV(t *testing.T) {
	e := newReportEnv(t)
	seedExportTickets(e)
	c := e.login(orgID)
	res := c.get(Prefix + "exports/tickets.csv")
	rows := readCSV(t, res, "gocua-tickets-2026-11-02-2026-12-01.csv")
	if rows[0][0] != "Mã phiếu" || rows[0][5] != "Người dân (4 ký tự cuối)" || len(rows[0]) != 16 {
		t.Errorf("header %q", rows[0])
	}
	// the store's order (oldest first), open tickets only in the fake
	var ids []string
	for _, r := range rows[1:] {
		ids = append(ids, r[0])
		if len(r) != len(rows[0]) {
			t.Errorf("row %s has %d cells", r[0], len(r))
		}
	}
	if !slices.Equal(ids, []string{"2", "1", "3"}) {
		t.Fatalf("rows %v", ids)
	}
	two, one, three := rows[1], rows[2], rows[3]
	for _, tc := range []struct{ got, want string }{
		{two[1], "2026-12-01 11:00"}, // 04:00 UTC in Vietnam
		{two[2], "Đang được giúp"},
		{two[3], "Phường Phú Xuân"},
		{two[4], "zalo-oa"},
		{two[5], "…8765"},
		{two[11], "Anh Minh"},
		{two[12], "2026-12-01 12:00"},
		{two[13], ""},
		{one[2], "Đang chờ"},
		{one[5], "…6789"},
		{one[10], `'=HYPERLINK("http://evil.example","bấm")`}, // never a formula
		{three[3], "Chưa rõ địa bàn"},
		{three[5], "ab"},
		{three[10], "'+1 cộng\t@SUM(A1)"},
	} {
		if tc.got != tc.want {
			t.Errorf("cell %q, want %q", tc.got, tc.want)
		}
	}
	for _, secret := range []string{"123456789", "zalo-user-98765", "0912345678", "001203004005", "0912000111"} {
		if strings.Contains(res.Body, secret) {
			t.Errorf("the export shows %s", secret)
		}
	}
	if q := e.lastReportQuery(); q.Scope != nil || !q.From.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, reportZone)) || q.Location != reportZone {
		t.Errorf("query %+v", q)
	}

	// the header in the viewer's language
	c.get(Prefix + "lang?to=en&back=" + url.QueryEscape(Prefix))
	rows = readCSV(t, c.get(Prefix+"exports/tickets.csv?from=2026-11-01&to=2026-11-30&channel=telegram&area=a1"), "gocua-tickets-2026-11-01-2026-11-30.csv")
	if rows[0][0] != "Ticket" || rows[0][15] != "Rating (stars)" {
		t.Errorf("English header %q", rows[0])
	}
	if q := e.lastReportQuery(); q.Channel != bot.ChannelTelegram || q.Area != "a1" || !q.To.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, reportZone)) {
		t.Errorf("filters %+v", q)
	}

	// an organizer of a1 exports a1 only
	a1 := e.login(orgA1ID)
	rows = readCSV(t, a1.get(Prefix+"exports/tickets.csv"), "gocua-tickets-2026-11-02-2026-12-01.csv")
	if q := e.lastReportQuery(); !slices.Equal(q.Scope, []string{"a1"}) {
		t.Errorf("scope %v", q.Scope)
	}
	if len(rows) != 2 || rows[1][0] != "1" {
		t.Errorf("a1's export: %q", rows)
	}

	// nothing to export: the header alone
	e.st.mu.Lock()
	clear(e.st.tickets)
	e.st.mu.Unlock()
	if rows := readCSV(t, c.get(Prefix+"exports/tickets.csv"), "gocua-tickets-2026-11-02-2026-12-01.csv"); len(rows) != 1 {
		t.Errorf("empty export: %q", rows)
	}
}

func TestExportVisitsCSV(t *testing.T) {
	e := newReportEnv(t)
	e.st.visits = []handoff.Visit{
		{ID: 1, Volunteer: volID, VolunteerName: "Anh Minh", Area: "a1", Actions: []string{"vneid", "scam"}, People: 3,
			Note: "-5 người, gọi 0912345678", At: time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC), Source: "s1"},
		{ID: 2, Volunteer: orgID, VolunteerName: "Chị Lan", Area: "a2", Actions: []string{"dvc", "new_thing"}, People: 12,
			Note: "@ nhà văn hóa", At: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Source: "s2"},
	}
	c := e.login(orgID)
	rows := readCSV(t, c.get(Prefix+"exports/visits.csv?channel=telegram"), "gocua-visits-2026-11-02-2026-12-01.csv")
	if len(rows) != 3 || rows[0][0] != "Mã lần hỗ trợ" {
		t.Fatalf("visits %q", rows)
	}
	// the store's order (the fake: newest first)
	if got, want := rows[1], []string{"2", "2026-11-21 16:00", "Phường Phú Xuân", "Chị Lan", "Nộp dịch vụ công; new_thing", "12", "'@ nhà văn hóa"}; !slices.Equal(got, want) {
		t.Errorf("visit 2: %q", got)
	}
	if got := rows[2]; got[4] != "Cài VNeID; Tư vấn chống lừa đảo" || !strings.HasPrefix(got[6], "'-5 người") || strings.Contains(got[6], "0912345678") {
		t.Errorf("visit 1: %q", got)
	}
	// visits have no channel
	if q := e.lastReportQuery(); q.Channel != "" {
		t.Errorf("channel %q", q.Channel)
	}
}

func TestExportFunnelCSV(t *testing.T) {
	e := newReportEnv(t)
	e.st.funnel[""] = installFunnel
	e.st.funnel["aaaaaaaaaaaa"] = []FunnelStep{{Step: "phone", Entered: 3, Left: 3}}
	e.st.versions = []FlowVersion{{Version: "aaaaaaaaaaaa"}}
	c := e.login(orgID)
	rows := readCSV(t, c.get(Prefix+"exports/funnel.csv?flow=install_vneid&from=2026-11-01&to=2026-11-30"), "gocua-funnel-install_vneid-2026-11-01-2026-11-30.csv")
	steps := append(flowStepIDs(t, "install_vneid"), "old_step")
	if len(rows) != len(steps)+1 || rows[0][3] != "Đến bước này" {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	for i, step := range steps {
		r := rows[i+1]
		if r[0] != strconv.Itoa(i+1) || r[1] != step || r[3] != strconv.FormatInt(funnelEntered(installFunnel, step), 10) {
			t.Errorf("row %d: %q", i, r)
		}
	}
	phone := rows[1]
	if got, want := phone[3:], []string{"200", "150", "40", "10", "20", "45", "▼ nhiều người dừng"}; !slices.Equal(got, want) {
		t.Errorf("phone %q", got)
	}
	// the default flow, and one version
	rows = readCSV(t, c.get(Prefix+"exports/funnel.csv?version=aaaaaaaaaaaa"), "gocua-funnel-install_vneid-2026-11-02-2026-12-01.csv")
	if rows[1][3] != "3" {
		t.Errorf("version: %q", rows[1])
	}
}

func TestExportsPage(t *testing.T) {
	e := newReportEnv(t)
	c := e.login(orgID)
	res := c.get(Prefix + "exports")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("exports page: %d", res.StatusCode)
	}
	for _, want := range []string{`name="what" value="tickets" checked`, `name="what" value="visits"`, `name="what" value="funnel"`,
		`type="date"`, `name="area"`, `name="channel"`, `<option value="install_vneid" selected>`, `aria-current="page"`} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("the form lacks %q", want)
		}
	}
	reportNoInline(t, res.Body)
	// sent, it goes on to the file, with only what the file uses
	for _, tc := range []struct{ query, to string }{
		{"what=tickets&from=2026-11-01&to=2026-11-30&area=a1&channel=web&flow=level2",
			"exports/tickets.csv?area=a1&channel=web&from=2026-11-01&to=2026-11-30"},
		{"what=visits&channel=web", "exports/visits.csv?from=2026-11-02&to=2026-12-01"},
		{"what=funnel&flow=level2&lang=en", "exports/funnel.csv?flow=level2&from=2026-11-02&lang=en&to=2026-12-01"},
		{"what=funnel", "exports/funnel.csv?flow=install_vneid&from=2026-11-02&to=2026-12-01"},
	} {
		res := c.get(Prefix + "exports?" + tc.query)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix+tc.to {
			t.Errorf("%s: %d %q", tc.query, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// refused values are named
	cases := map[string]string{"what=": "(what)", "what=all": "(what)", "what=funnel&flow=nope": "(flow)",
		"what=tickets&from=x": "(from)", "what=tickets&from=2026-12-01&to=2026-11-01": "(to)", "to=2030-01-01": "(from – to)"}
	for _, bad := range reportBadParams {
		for _, f := range []string{"what", "from", "to", "area", "channel"} {
			cases[url.Values{"what": {"tickets"}, f: {bad}}.Encode()] = "(" + f + ")"
		}
	}
	for q, field := range cases {
		res := c.get(Prefix + "exports?" + q)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, field) || strings.Contains(res.Body, "<script>alert") {
			t.Errorf("%.80s: %d, %s not named", q, res.StatusCode, field)
		}
	}
}

func TestExportRefusals(t *testing.T) {
	e := newReportEnv(t)
	seedExportTickets(e)
	c := e.login(orgID)
	for _, path := range []string{"exports/nope.csv", "exports/tickets", "exports/tickets.CSV", "exports/tickets.csv.csv",
		"exports/.csv", "exports/" + url.PathEscape(strings.Repeat("é", 3000)) + ".csv", "exports/%00.csv"} {
		if res := c.get(Prefix + path); res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("%.60s: %d", path, res.StatusCode)
		}
	}
	for _, q := range []string{"from=2026-02-30", "to=x", "from=2026-12-01&to=2026-11-01", "from=2020-01-01", "area=a9",
		"channel=sms", "channel=" + url.QueryEscape(reportBadParams[2])} {
		for _, what := range []string{"tickets", "visits", "funnel"} {
			res := c.get(Prefix + "exports/" + what + ".csv?" + q)
			if res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
				res.Header.Get("Content-Disposition") != "" || !strings.Contains(res.Body, `role="alert"`) {
				t.Errorf("%s %.60s: %d %q", what, q, res.StatusCode, res.Header.Get("Content-Type"))
			}
		}
	}
	for _, q := range []string{"flow=nope", "version=zzz", "lang=fr"} {
		if res := c.get(Prefix + "exports/funnel.csv?" + q); res.StatusCode != http.StatusBadRequest {
			t.Errorf("funnel %s: %d", q, res.StatusCode)
		}
	}
	// organizers only
	vol := e.login(volID)
	for _, path := range []string{"exports", "exports?what=tickets", "exports/tickets.csv", "exports/visits.csv", "exports/funnel.csv"} {
		if res := vol.get(Prefix + path); res.StatusCode != http.StatusForbidden || strings.Contains(res.Body, "Mã phiếu") {
			t.Errorf("volunteer %s: %d", path, res.StatusCode)
		}
	}
	// a store failing at once: an error page, not a file
	h := newReportHookEnv(t, e)
	h.hooks.exportTickets = func(context.Context, Query, func(TicketRow) error) error { return errBoom }
	res := h.login(orgID).get(Prefix + "exports/tickets.csv")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Content-Disposition") != "" {
		t.Errorf("store down: %d %v", res.StatusCode, res.Header)
	}
}

func TestExportStreams(t *testing.T) {
	e := newReportEnv(t)
	h := newReportHookEnv(t, e)
	const n = 3 * csvFlushEvery
	release := make(chan struct{})
	h.hooks.exportTickets = func(ctx context.Context, q Query, fn func(TicketRow) error) error {
		for i := 1; i <= n; i++ {
			if i == csvFlushEvery+1 { // the client has the first rows before the store sends the next
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Second):
					return errors.New("the client got nothing while the store was sending")
				}
			}
			row := TicketRow{Ticket: handoff.Ticket{ID: int64(i), Status: handoff.Waiting, Area: "a1", CreatedAt: e.now,
				Resident: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "10000" + strconv.Itoa(i)}, Summary: "dòng " + strconv.Itoa(i)}}
			if err := fn(row); err != nil {
				return err
			}
		}
		return nil
	}
	c := h.login(orgID)
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+Prefix+"exports/tickets.csv", nil)
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	header, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(header, csvBOM+"Mã phiếu,") {
		t.Fatalf("first line %q: %v", header, err)
	}
	close(release)
	rows, err := csv.NewReader(br).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if r[0] != strconv.Itoa(i+1) || r[10] != "dòng "+strconv.Itoa(i+1) {
			t.Fatalf("row %d: %q", i, r[:1])
		}
	}

	// a store failing half way cuts the download: a partial file never
	// looks complete
	h.hooks.exportTickets = func(ctx context.Context, q Query, fn func(TicketRow) error) error {
		for i := range 5 {
			if err := fn(TicketRow{Ticket: handoff.Ticket{ID: int64(i + 1)}}); err != nil {
				return err
			}
		}
		return errBoom
	}
	req, _ = http.NewRequest(http.MethodGet, h.ts.URL+Prefix+"exports/tickets.csv", nil)
	if res, err := c.http.Do(req); err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("a cut export read as complete (%d)", res.StatusCode)
		}
	}
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"=1+1":           "'=1+1",
		"+84 912":        "'+84 912",
		"-5":             "'-5",
		"@SUM(A1)":       "'@SUM(A1)",
		"\tx":            "'\tx",
		"\rx":            "'\rx",
		"a=1":            "a=1",
		"Phường Phú Hội": "Phường Phú Hội",
		"'=x":            "'=x",
		" =x":            " =x",
		"－1":             "－1", // a fullwidth minus is not a formula
	} {
		if got := safeCell(in); got != want {
			t.Errorf("safeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskedID(t *testing.T) {
	for in, want := range map[string]string{"": "", "ab": "ab", "1234": "1234", "12345": "…2345", "zalo-user-98765": "…8765", "ngườidùng": "…dùng"} {
		if got := handoff.ShortID(in); got != want {
			t.Errorf("ShortID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSVFileName(t *testing.T) {
	if got := csvFileName(`gocua-funnel-a"b/c\d é-2026-11-01`); got != "gocua-funnel-a_b_c_d__-2026-11-01" {
		t.Errorf("file name %q", got)
	}
}
