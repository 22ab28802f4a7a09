package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/handoff"
)

func (e *testEnv) visitsSoFar() []handoff.Visit {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	return append([]handoff.Visit(nil), e.st.visits...)
}

func TestLogVisit(t *testing.T) {
	e := newTestEnv(t, Config{Areas: wardAreas(t)})
	vol := e.login(volID)
	page := vol.get(Prefix + "visits")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("page: %d %s", page.StatusCode, page.Body)
	}
	for _, want := range []string{`name="area"`, `value="a1"`, `name="action" value="vneid"`, "Tạo tài khoản mức 1", "Tư vấn chống lừa đảo",
		`type="date"`, `max="2026-12-01"`, `min="2026-10-02"`, `value="2026-12-01"`, "Những lần bạn đã hỗ trợ"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("form lacks %q", want)
		}
	}
	// only the volunteer's own ward is offered
	if strings.Contains(page.Body, `value="a2"`) {
		t.Error("a2 offered to a volunteer of a1")
	}
	noInlineHere(t, page.Body)
	n := nonceFor(t, page.Body, Prefix+"visits")
	form := url.Values{"nonce": {n}, "area": {"a1"}, "action": {"level1", "vneid"}, "people": {"3"},
		"note": {"  Bà Năm, sđt 0912345678, đã cài xong  "}, "date": {"2026-12-01"}}
	res := vol.post(Prefix+"visits", form)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix+"visits?n=notice_visit_saved" {
		t.Fatalf("log: %d %v %s", res.StatusCode, res.Header, res.Body)
	}
	// twice: stored once
	if res := vol.post(Prefix+"visits", form); res.StatusCode != http.StatusSeeOther || !strings.HasSuffix(res.Header.Get("Location"), "notice_visit_again") {
		t.Fatalf("again: %d %v", res.StatusCode, res.Header)
	}
	vs := e.visitsSoFar()
	if len(vs) != 1 {
		t.Fatalf("%d visits", len(vs))
	}
	v := vs[0]
	if v.Volunteer != volID || v.Area != "a1" || strings.Join(v.Actions, ",") != "vneid,level1" || v.People != 3 || !v.At.Equal(testNow) ||
		v.Source != "web:"+n || strings.Contains(v.Note, "0912345678") || !strings.HasPrefix(v.Note, "Bà Năm") || !strings.Contains(v.Note, "678") {
		t.Errorf("stored %+v", v)
	}
	// a day before: at its midday
	form.Set("nonce", nonce())
	form.Set("date", "2026-11-20")
	form.Del("note")
	if res := vol.post(Prefix+"visits", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("earlier: %d %s", res.StatusCode, res.Body)
	}
	if v := e.visitsSoFar()[1]; !v.At.Equal(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)) || v.Note != "" {
		t.Errorf("earlier visit %+v", v)
	}
	body := vol.get(Prefix + "visits?range=30d").Body
	for _, want := range []string{"Phường Thuận Hóa", "Cài VNeID, Tạo tài khoản mức 1", "3 người", "Bà Năm", "01/12/2026"} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	if q := e.lastAsked(); q.Scope != nil || !q.From.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("query %+v", q)
	}
}

func TestVisitsPerAreaAndAction(t *testing.T) {
	e := newTestEnv(t, Config{Areas: wardAreas(t)})
	e.st.visits = []handoff.Visit{
		{ID: 1, Volunteer: volID, VolunteerName: "Anh Minh", Area: "a1", Actions: []string{"vneid", "level1"}, People: 3, At: testNow, Source: "x1"},
		{ID: 2, Volunteer: vol2ID, VolunteerName: "Bạn Hà", Area: "a2", Actions: []string{"vneid"}, People: 1200, At: testNow, Source: "x2"},
		{ID: 3, Volunteer: volID, VolunteerName: "Anh Minh", Area: "a1", Actions: []string{"scam"}, People: 2, At: testNow, Source: "x3"},
		{ID: 4, Volunteer: orgID, VolunteerName: "Chị Lan", Area: "", Actions: []string{"dvc"}, People: 1, At: testNow, Source: "x4"},
	}
	org := e.login(orgID)
	body := org.get(Prefix + "visits").Body
	for _, want := range []string{"Hỗ trợ tận nhà của cả đội", "Theo địa bàn", "Theo việc đã giúp", "Xã Quảng Điền", "1.200", "1.206", "Chưa rõ địa bàn",
		"Bạn Hà", "Anh Minh", "Nộp dịch vụ công"} {
		if !strings.Contains(body, want) {
			t.Errorf("organizer's page lacks %q", want)
		}
	}
	// an organizer of a1 sees a1's only
	body = e.login(orgA1ID).get(Prefix + "visits").Body
	if strings.Contains(body, "Bạn Hà") || strings.Contains(body, "Xã Quảng Điền") || !strings.Contains(body, "Anh Minh") {
		t.Errorf("a1's organizer sees: %s", body)
	}
	// a volunteer their own only
	body = e.login(volID).get(Prefix + "visits").Body
	if strings.Contains(body, "Bạn Hà") || strings.Contains(body, "Chị Lan") || strings.Contains(body, "Theo địa bàn") || !strings.Contains(body, "Tư vấn chống lừa đảo") {
		t.Errorf("volunteer sees: %s", body)
	}
	e.failWith(errDown)
	if res := org.get(Prefix + "visits"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("down: %d", res.StatusCode)
	}
}

func TestLogVisitBadInput(t *testing.T) {
	e := newTestEnv(t, Config{Areas: wardAreas(t)})
	vol, org := e.login(volID), e.login(orgID)
	base := func(kv ...string) url.Values {
		f := url.Values{"nonce": {nonce()}, "area": {"a1"}, "action": {"vneid"}, "people": {"2"}, "date": {"2026-12-01"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<del>" {
				f.Del(kv[i])
				continue
			}
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	for _, c := range []struct {
		name string
		c    *client
		form url.Values
		code int
		want string
	}{
		{"no nonce", vol, base("nonce", "<del>"), http.StatusBadRequest, ""},
		{"garbage nonce", vol, base("nonce", strings.Repeat("g", 32)), http.StatusBadRequest, ""},
		{"another's area", vol, base("area", "a2"), http.StatusBadRequest, "không thuộc địa bàn của bạn"},
		{"unknown area", org, base("area", "zz"), http.StatusBadRequest, "không thuộc địa bàn"},
		{"no area", vol, base("area", ""), http.StatusBadRequest, "Bạn chọn xã / phường đã đến"},
		{"no action", vol, base("action", "<del>"), http.StatusBadRequest, "ít nhất một việc"},
		{"unknown action", vol, base("action", "hack"), http.StatusBadRequest, "không có trong danh sách"},
		{"no people", vol, base("people", ""), http.StatusBadRequest, "từ 1 đến 500"},
		{"zero people", vol, base("people", "0"), http.StatusBadRequest, "từ 1 đến 500"},
		{"too many people", vol, base("people", "501"), http.StatusBadRequest, "từ 1 đến 500"},
		{"people abc", vol, base("people", "abc"), http.StatusBadRequest, "từ 1 đến 500"},
		{"people fraction", vol, base("people", "2.5"), http.StatusBadRequest, "từ 1 đến 500"},
		{"long note", vol, base("note", strings.Repeat("ữ", 501)), http.StatusBadRequest, "dài 501 ký tự, tối đa 500"},
		{"broken note", vol, base("note", "ok \xc3\x28"), http.StatusBadRequest, "ký tự lỗi"},
		{"future", vol, base("date", "2026-12-02"), http.StatusBadRequest, "chưa tới"},
		{"too old", vol, base("date", "2026-09-30"), http.StatusBadRequest, "60 ngày"},
		{"no such day", vol, base("date", "2026-02-30"), http.StatusBadRequest, "Ngày chưa đúng"},
		{"garbage day", vol, base("date", "hôm qua"), http.StatusBadRequest, "Ngày chưa đúng"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := c.c.post(Prefix+"visits", c.form)
			if res.StatusCode != c.code || !strings.Contains(res.Body, c.want) {
				t.Errorf("%d %s", res.StatusCode, res.Body)
			}
			if c.want != "" {
				// shown next to the form, with what was typed
				if !strings.Contains(res.Body, `aria-invalid="true"`) || !strings.Contains(res.Body, `value="`+c.form.Get("nonce")+`"`) {
					t.Errorf("not shown with the form: %s", res.Body)
				}
				noInlineHere(t, res.Body)
			}
		})
	}
	// a note of exactly 500 runes of odd unicode is fine
	if res := vol.post(Prefix+"visits", base("note", strings.Repeat("\u0301", 250)+strings.Repeat("🇻🇳", 125))); res.StatusCode != http.StatusSeeOther {
		t.Errorf("odd note: %d", res.StatusCode)
	}
	if n := len(e.visitsSoFar()); n != 1 {
		t.Errorf("%d visits stored", n)
	}
}

func TestLogVisitWithoutAreas(t *testing.T) {
	e := newTestEnv(t, Config{})
	vol := e.login(volID)
	if body := vol.get(Prefix + "visits").Body; strings.Contains(body, `name="area"`) {
		t.Error("asks for an area when none are configured")
	}
	res := vol.post(Prefix+"visits", url.Values{"nonce": {nonce()}, "action": {"scam"}, "people": {"1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
	if v := e.visitsSoFar()[0]; v.Area != "" || !v.At.Equal(testNow) {
		t.Errorf("stored %+v", v)
	}
}
