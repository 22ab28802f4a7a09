package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/bot/handoff"
)

// applicantID is an applicant the volunteers tests add, of area a1.
const applicantID = 6

// wardAreas are the test deployment's two wards, a1 and a2.
func wardAreas(t *testing.T) *areas.Set {
	t.Helper()
	set, err := areas.Parse("wards.yaml", []byte(`province: {code: hue, name: "Thành phố Huế"}
areas:
  - code: a1
    name: "Phường Thuận Hóa"
    kind: ward
    offices:
      - kind: police
        name: "Công an phường Thuận Hóa"
        address: "1 Lê Lợi"
        hours: "Thứ Hai–Thứ Sáu 7:30–11:30"
  - code: a2
    name: "Xã Quảng Điền"
    kind: commune
`))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// withApplicant adds an applicant to the test desk.
func withApplicant(e *testEnv) {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	e.st.vols[applicantID] = handoff.Volunteer{ID: applicantID, Name: "Anh Tú", Role: handoff.RoleVolunteer, Status: handoff.Applied,
		Areas: []string{"a1"}, Skills: []string{"vneid", "scam"}, Capacity: 3,
		User: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "106"}, Chat: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "106"}}
}

// nonceFor is the nonce of a page's form that posts to action.
func nonceFor(t *testing.T, body, action string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<form[^>]*action="` + regexp.QuoteMeta(action) + `"[^>]*>.*?name="nonce" value="([0-9a-f]{32})"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form to %s with a nonce in:\n%s", action, body)
	}
	return m[1]
}

// inbound is what the fake desk was handed so far.
func (e *testEnv) inboundSoFar() []bot.Inbound {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	return append([]bot.Inbound(nil), e.st.inbound...)
}

func TestVolunteersPage(t *testing.T) {
	e := newTestEnv(t, Config{Areas: wardAreas(t)})
	withApplicant(e)
	e.st.stats = []VolunteerStats{{Volunteer: handoff.Volunteer{ID: volID}, Open: 2, Handled: 1234, MedianFirst: 90 * time.Second,
		Rated: 4, RatingSum: 18, Visits: 5, VisitPeople: 12, LastActive: testNow.Add(-time.Hour)}}
	org := e.login(orgID)
	res := org.get(Prefix + "volunteers")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("page: %d %s", res.StatusCode, res.Body)
	}
	for _, want := range []string{
		"Đơn đăng ký mới", "Anh Tú", "Phường Thuận Hóa", "Chống lừa đảo", `/volunteers/6/approve`, `/volunteers/6/reject`,
		"Anh Minh", "1.234", "4,5 ★", "4 lượt đánh giá", "5 lần · 12 người", "1 phút", "2 / 3",
		"Bạn Hà", "Ông Tư", "Đang tạm dừng", `/volunteers/4/reinstate`, `/volunteers/2/suspend`, `/volunteers/2/promote`,
		`name="capacity"`, `data-confirm=`,
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// the organizer is not offered to suspend themselves, nor an organizer promotion
	for _, not := range []string{`/volunteers/1/suspend`, `/volunteers/1/promote`, `/volunteers/5/promote`, `/volunteers/4/suspend`} {
		if strings.Contains(res.Body, not) {
			t.Errorf("page offers %s", not)
		}
	}
	// every form has its own nonce
	nonces := regexp.MustCompile(`name="nonce" value="([0-9a-f]{32})"`).FindAllStringSubmatch(res.Body, -1)
	seen := map[string]bool{}
	for _, m := range nonces {
		if seen[m[1]] {
			t.Errorf("nonce %s used twice", m[1])
		}
		seen[m[1]] = true
	}
	if len(nonces) < 5 {
		t.Errorf("%d nonces", len(nonces))
	}
	noInlineHere(t, res.Body)

	// the range: 7 days by default, 30 on asking; the day starts at midnight
	for _, c := range []struct {
		q    string
		days int
	}{{"", 7}, {"?range=30d", 30}, {"?range=1y", 7}, {"?range=%00", 7}} {
		if res := org.get(Prefix + "volunteers" + c.q); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", c.q, res.StatusCode)
		}
		q := e.lastAsked()
		want := time.Date(2026, 12, 1-(c.days-1), 0, 0, 0, 0, time.UTC)
		if !q.From.Equal(want) || !q.To.Equal(testNow) || q.Scope != nil {
			t.Errorf("%s: query %+v, want from %v", c.q, q, want)
		}
	}

	// an organizer of a1 sees those who serve a1 or any area
	a1 := e.login(orgA1ID)
	body := a1.get(Prefix + "volunteers").Body
	if strings.Contains(body, "Bạn Hà") || !strings.Contains(body, "Anh Minh") || !strings.Contains(body, "Anh Tú") || !strings.Contains(body, "Chị Lan") {
		t.Errorf("a1's organizer sees: %s", body)
	}
	if q := e.lastAsked(); len(q.Scope) != 1 || q.Scope[0] != "a1" {
		t.Errorf("scope %v", q.Scope)
	}
	// a volunteer may not open it
	if res := e.login(volID).get(Prefix + "volunteers"); res.StatusCode != http.StatusForbidden {
		t.Errorf("volunteer: %d", res.StatusCode)
	}
	// the store down
	e.failWith(errDown)
	if res := org.get(Prefix + "volunteers"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("store down: %d", res.StatusCode)
	}
}

func TestStaffDecisionsGoThroughTheDesk(t *testing.T) {
	e := newTestEnv(t, Config{})
	withApplicant(e)
	e.st.ack = bot.Ack{Text: "Đã duyệt Anh Tú ✅"}
	org := e.login(orgID)
	page := org.get(Prefix + "volunteers").Body
	n := nonceFor(t, page, Prefix+"volunteers/6/approve")
	res := org.post(Prefix+"volunteers/6/approve", url.Values{"nonce": {n}, "range": {"30d"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix+"volunteers?range=30d" {
		t.Fatalf("approve: %d %v", res.StatusCode, res.Header)
	}
	in := e.inboundSoFar()
	if len(in) != 1 {
		t.Fatalf("inbound %+v", in)
	}
	got := in[0]
	if got.Key != (bot.ConvKey{Channel: bot.ChannelDashboard, ChatID: "1"}) || got.UserID != "1" || got.Kind != bot.InButton ||
		got.Data != "dk:ok:6" || got.UpdateID != "web:"+n || got.At.IsZero() || got.Seq == 0 {
		t.Errorf("approve as %+v", got)
	}
	// the desk's answer is shown on the next page
	if body := org.get(Prefix + "volunteers").Body; !strings.Contains(body, "Đã duyệt Anh Tú ✅") {
		t.Errorf("no notice: %s", body)
	}
	// the same form again is the same update: the desk handles it once
	org.post(Prefix+"volunteers/6/approve", url.Values{"nonce": {n}})
	if in := e.inboundSoFar(); len(in) != 2 || in[1].UpdateID != got.UpdateID || in[1].Data != got.Data {
		t.Errorf("again: %+v", in)
	}

	// each decision as the desk expects it
	for _, c := range []struct {
		name           string
		id             int64
		kind           bot.InboundKind
		data, cmd, arg string
	}{
		{"reject", applicantID, bot.InButton, "dk:no:6", "", ""},
		{"suspend", volID, bot.InCommand, "", "suspend", "2"},
		{"reinstate", suspID, bot.InCommand, "", "approve", "4"},
		{"promote", vol2ID, bot.InCommand, "", "promote", "3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.inboundSoFar())
			path := Prefix + "volunteers/" + itoa(c.id) + "/" + c.name
			n := nonceFor(t, org.get(Prefix+"volunteers").Body, path)
			if res := org.post(path, url.Values{"nonce": {n}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("%d %s", res.StatusCode, res.Body)
			}
			in := e.inboundSoFar()
			if len(in) != before+1 {
				t.Fatalf("inbound %+v", in)
			}
			got := in[len(in)-1]
			if got.Kind != c.kind || got.Data != c.data || got.Command != c.cmd || got.Args != c.arg || got.UpdateID != "web:"+n ||
				got.Key.Channel != bot.ChannelDashboard {
				t.Errorf("sent %+v", got)
			}
		})
	}
}

func TestStaffDecisionsBadInput(t *testing.T) {
	e := newTestEnv(t, Config{})
	withApplicant(e)
	org, a1 := e.login(orgID), e.login(orgA1ID)
	good := nonce()
	for _, c := range []struct {
		name   string
		c      *client
		path   string
		nonce  string
		code   int
		notice string
	}{
		{"no nonce", org, "volunteers/6/approve", "", http.StatusBadRequest, ""},
		{"short nonce", org, "volunteers/6/approve", "abc", http.StatusBadRequest, ""},
		{"not hex", org, "volunteers/6/approve", strings.Repeat("z", 32), http.StatusBadRequest, ""},
		{"too long", org, "volunteers/6/approve", good + "0", http.StatusBadRequest, ""},
		{"unicode", org, "volunteers/6/approve", strings.Repeat("é", 16), http.StatusBadRequest, ""},
		{"unknown volunteer", org, "volunteers/99/approve", good, http.StatusNotFound, ""},
		{"garbage id", org, "volunteers/abc/approve", good, http.StatusNotFound, ""},
		{"negative id", org, "volunteers/-6/approve", good, http.StatusNotFound, ""},
		{"another area's", a1, "volunteers/3/suspend", good, http.StatusNotFound, ""},
		{"approve the approved", org, "volunteers/2/approve", good, http.StatusSeeOther, "notice_vol_changed"},
		{"reject the approved", org, "volunteers/2/reject", good, http.StatusSeeOther, "notice_vol_changed"},
		{"suspend the suspended", org, "volunteers/4/suspend", good, http.StatusSeeOther, "notice_vol_changed"},
		{"reinstate the active", org, "volunteers/2/reinstate", good, http.StatusSeeOther, "notice_vol_changed"},
		{"promote an organizer", org, "volunteers/5/promote", good, http.StatusSeeOther, "notice_vol_changed"},
		{"suspend oneself", org, "volunteers/1/suspend", good, http.StatusSeeOther, "notice_vol_changed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := c.c.post(Prefix+c.path, url.Values{"nonce": {c.nonce}})
			if res.StatusCode != c.code || c.notice != "" && !strings.Contains(res.Header.Get("Location"), "n="+c.notice) {
				t.Errorf("%d %v", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}
	if in := e.inboundSoFar(); len(in) != 0 {
		t.Errorf("the desk got %+v", in)
	}
	// a volunteer cannot decide
	if res := e.login(volID).post(Prefix+"volunteers/6/approve", url.Values{"nonce": {good}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("volunteer: %d", res.StatusCode)
	}
	// the desk down
	e.failWith(errDown)
	if res := org.post(Prefix+"volunteers/6/approve", url.Values{"nonce": {good}}); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("desk down: %d", res.StatusCode)
	}
}

func TestCapacity(t *testing.T) {
	e := newTestEnv(t, Config{})
	org, a1 := e.login(orgID), e.login(orgA1ID)
	for _, c := range []struct {
		c     *client
		id    string
		value string
		code  int
		want  int
	}{
		{org, "2", "7", http.StatusSeeOther, 7},
		{org, "2", " 50 ", http.StatusSeeOther, 50},
		{org, "2", "1", http.StatusSeeOther, 1},
		{org, "2", "0", http.StatusBadRequest, 1},
		{org, "2", "51", http.StatusBadRequest, 1},
		{org, "2", "-3", http.StatusBadRequest, 1},
		{org, "2", "abc", http.StatusBadRequest, 1},
		{org, "2", "", http.StatusBadRequest, 1},
		{org, "2", "1e3", http.StatusBadRequest, 1},
		{org, "2", "٣", http.StatusBadRequest, 1},
		{org, "2", "99999999999999999999999", http.StatusBadRequest, 1},
		{org, "2", strings.Repeat("🙂", 5000), http.StatusBadRequest, 1},
		{org, "99", "5", http.StatusNotFound, 1},
		{org, "x", "5", http.StatusNotFound, 1},
		{a1, "3", "5", http.StatusNotFound, 1},
		{a1, "2", "4", http.StatusSeeOther, 4},
	} {
		res := c.c.post(Prefix+"volunteers/"+c.id+"/capacity", url.Values{"capacity": {c.value}})
		if res.StatusCode != c.code {
			t.Errorf("%s=%q: %d", c.id, clipBytes(c.value, 20), res.StatusCode)
		}
		if c.code == http.StatusBadRequest && (!strings.Contains(res.Body, "từ 1 đến 50") || !strings.Contains(res.Body, `aria-invalid="true"`)) {
			t.Errorf("%q: no clear message: %s", clipBytes(c.value, 20), res.Body)
		}
		e.st.mu.Lock()
		got := e.st.vols[volID].Capacity
		e.st.mu.Unlock()
		if got != c.want {
			t.Errorf("%s=%q: capacity %d, want %d", c.id, clipBytes(c.value, 20), got, c.want)
		}
	}
}

// noInlineHere fails on inline script or style (the CSP forbids them).
func noInlineHere(t *testing.T, body string) {
	t.Helper()
	for _, bad := range []string{"<script>", " style=", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("page has %q", bad)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// lastAsked is the last query a page made.
func (e *testEnv) lastAsked() Query {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	if len(e.st.queries) == 0 {
		e.t.Fatal("no query")
	}
	return e.st.queries[len(e.st.queries)-1]
}

// failWith makes every call of the fake fail.
func (e *testEnv) failWith(err error) {
	e.st.mu.Lock()
	e.st.fail = err
	e.st.mu.Unlock()
}

// errDown is a store or desk that does not answer.
var errDown = errors.New("test: down")
