package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/dashboard"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store"
)

// onBothStores runs test on a desk over PostgreSQL and Redis, and on one
// over the embedded stores.
func onBothStores(t *testing.T, test func(t *testing.T, h *deskHarness)) {
	t.Run("postgres+redis", func(t *testing.T) { test(t, startDesk(t)) })
	t.Run("embedded", func(t *testing.T) {
		h := startDeskWith(t, nil, withEnv("GOCUA_DATABASE_URL", ""), withEnv("GOCUA_REDIS_URL", ""),
			withEnv("GOCUA_DATA_DIR", t.TempDir()))
		test(t, h)
	})
}

// last is the last message chat received.
func (h *deskHarness) last(chat int64) telegramtest.SentMessage {
	h.t.Helper()
	sent := h.sentTo(chat)
	if len(sent) == 0 {
		h.t.Fatalf("chat %d received nothing", chat)
	}
	return sent[len(sent)-1]
}

// visitData is the data of m's /visit button with this verb (and, unless
// arg is "", this argument): "dk:vi:<wizard>:<verb>[:<arg>]".
func visitData(t *testing.T, m telegramtest.SentMessage, verb, arg string) string {
	t.Helper()
	for _, row := range m.Keyboard {
		for _, b := range row {
			parts := strings.SplitN(b.CallbackData, ":", 5)
			if len(parts) < 4 || parts[0]+":"+parts[1] != "dk:vi" || parts[3] != verb {
				continue
			}
			if arg == "" || len(parts) == 5 && parts[4] == arg {
				return b.CallbackData
			}
		}
	}
	t.Fatalf("%q has no /visit button %s:%s: %+v", m.Plain, verb, arg, m.Keyboard)
	return ""
}

// staffID is the volunteers.id of the staff member whose private chat is chat.
func (h *deskHarness) staffID(chat int64) int64 {
	h.t.Helper()
	v, err := h.main.DB.Desk().Volunteer(context.Background(), key(chat))
	if err != nil {
		h.t.Fatal(err)
	}
	return v.ID
}

// visitsOf lists the visits volunteer logged, newest first.
func (h *deskHarness) visitsOf(volunteer int64) []handoff.Visit {
	h.t.Helper()
	db, ok := h.main.DB.(interface{ Dashboard() *store.Dashboard })
	if !ok {
		h.t.Fatalf("%T has no dashboard store", h.main.DB)
	}
	now := time.Now()
	vs, err := db.Dashboard().VisitsIn(context.Background(), dashboard.Query{From: now.Add(-time.Hour), To: now.Add(time.Hour),
		Location: time.UTC}, volunteer, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return vs
}

// lastAnswer is the text of the last answered button tap.
func (h *deskHarness) lastAnswer() string {
	h.t.Helper()
	a := h.api.Answers()
	if len(a) == 0 {
		h.t.Fatal("no tap was answered")
	}
	return a[len(a)-1].Text
}

// A volunteer logs a door-to-door visit in taps: a ward from the second
// page, two actions, 3 people, Save. It is stored once, however often the
// Save arrives, and the saved wizard's buttons are stale.
func TestVisitLoggedByButtons(t *testing.T) {
	onBothStores(t, testVisitLoggedByButtons)
}

func testVisitLoggedByButtons(t *testing.T, h *deskHarness) {
	vol := h.volunteer()
	vid := h.staffID(vol)
	h.send(textUpdate(nextUpdateID(), vol, "/visit"))
	h.settle()
	first := h.waitFor(vol, h.text("visit_area"))
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, first, "p", "1")))
	h.settle()
	second := h.last(vol)
	pick := visitData(t, second, "a", "")
	area := pick[strings.LastIndex(pick, ":")+1:]
	if slices.ContainsFunc(first.Keyboard, func(row []telegramtest.Btn) bool {
		return slices.ContainsFunc(row, func(b telegramtest.Btn) bool { return strings.HasSuffix(b.CallbackData, ":a:"+area) })
	}) {
		t.Fatalf("page 2 starts with %s, which page 1 showed", area)
	}
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, second, "a", area)))
	h.settle()
	name, _ := h.main.Areas.Lookup(area)
	actions := h.waitFor(vol, h.text("visit_actions", "place", name.Name))
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, actions, "x", "vneid")))
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, actions, "x", "level1")))
	h.settle()
	marked := 0
	for _, row := range h.last(vol).Keyboard {
		if strings.HasPrefix(row[0].Text, "✅") {
			marked++
		}
	}
	if marked != 2 {
		t.Fatalf("%d actions marked, want 2: %+v", marked, h.last(vol).Keyboard)
	}
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, h.last(vol), "go", "")))
	h.settle()
	people := h.waitFor(vol, h.text("visit_people", "max", "500"))
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, people, "n", "3")))
	h.settle()
	confirm := h.waitFor(vol, "👥 3 người")
	saveData := visitData(t, confirm, "ok", "")
	toggle := visitData(t, actions, "x", "dvc")

	saveID := nextUpdateID()
	save := buttonUpdate(saveID, vol, saveData)
	h.send(save)
	h.settle()
	saved := h.text("visit_saved", "place", name.Name, "actions", "Cài VNeID, Tạo tài khoản mức 1", "people", "3")
	h.waitFor(vol, saved)
	vs := h.visitsOf(vid)
	if len(vs) != 1 {
		t.Fatalf("%d visits stored, want 1: %+v", len(vs), vs)
	}
	want := handoff.Visit{Volunteer: vid, Area: area, Actions: []string{"vneid", "level1"}, People: 3,
		Source: "telegram:" + strconv.FormatInt(vol, 10) + ":" + strconv.FormatInt(saveID, 10)}
	if got := vs[0]; got.Volunteer != want.Volunteer || got.Area != want.Area || !slices.Equal(got.Actions, want.Actions) ||
		got.People != want.People || got.Source != want.Source {
		t.Fatalf("stored %+v, want %+v", got, want)
	}

	// Telegram delivers the Save again: nothing more is stored or said
	h.send(save)
	h.settle()
	if n := len(h.visitsOf(vid)); n != 1 {
		t.Fatalf("%d visits after the Save came again", n)
	}
	if n := countText(h.sentTo(vol), saved); n != 1 {
		t.Fatalf("the visit was confirmed %d times", n)
	}
	// the saved wizard's buttons are stale
	stale := plain(h.main.Flows.Text("vi", "stale_button", nil))
	for _, data := range []string{saveData, toggle} {
		before := len(h.sentTo(vol))
		h.send(buttonUpdate(nextUpdateID(), vol, data))
		h.settle()
		if got := h.lastAnswer(); got != stale {
			t.Fatalf("a tap on %s after Save answered %q", data, got)
		}
		if n := len(h.sentTo(vol)); n != before {
			t.Fatalf("a stale tap on %s sent %q", data, texts(h.sentTo(vol)[before:]))
		}
	}
	if n := len(h.visitsOf(vid)); n != 1 {
		t.Fatalf("%d visits after stale taps", n)
	}
}

// A typed number of people is read; "abc" or 9999 is asked again.
func TestVisitPeopleTyped(t *testing.T) {
	h := startDesk(t)
	vol := h.volunteer()
	h.send(textUpdate(nextUpdateID(), vol, "/visit"))
	h.settle()
	areas := h.waitFor(vol, h.text("visit_area"))
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, areas, "a", "")))
	h.settle()
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, h.last(vol), "x", "scam")))
	h.settle()
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, h.last(vol), "go", "")))
	h.settle()
	h.waitFor(vol, h.text("visit_people", "max", "500"))
	again := h.text("visit_people_again", "max", "500")
	for i, typed := range []string{"abc", "9999", "0"} {
		h.send(textUpdate(nextUpdateID(), vol, typed))
		h.settle()
		if n := countText(h.sentTo(vol), again); n != i+1 {
			t.Fatalf("after %q the count was asked again %d times, want %d", typed, n, i+1)
		}
	}
	h.send(textUpdate(nextUpdateID(), vol, " 12 "))
	h.settle()
	confirm := h.waitFor(vol, "👥 12 người")
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, confirm, "ok", "")))
	h.settle()
	vs := h.visitsOf(h.staffID(vol))
	if len(vs) != 1 || vs[0].People != 12 || !slices.Equal(vs[0].Actions, []string{"scam"}) {
		t.Fatalf("stored %+v", vs)
	}
	// what was typed went nowhere else: no ticket, no relay
	if containsText(h.sentTo(vol), h.text("desk_idle")) {
		t.Fatal("a typed count was taken for a message to a resident")
	}
}

// A volunteer who serves one ward has it preselected (and can change it);
// "/visit 3 vneid,level1" logs at once; a wrong quick form shows how.
func TestVisitQuickForm(t *testing.T) {
	h := startDesk(t)
	vol := newChatID()
	d := h.main.DB.Desk()
	ctx := context.Background()
	v, err := d.Apply(ctx, handoff.Volunteer{User: key(vol), Chat: key(vol), Name: "Hòa", Areas: []string{"phuong_phu_xuan"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetStaff(ctx, v.ID, handoff.Approved, handoff.RoleVolunteer, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.send(textUpdate(nextUpdateID(), vol, "/visit"))
	h.settle()
	actions := h.waitFor(vol, h.text("visit_actions", "place", "Phường Phú Xuân"))
	visitData(t, actions, "ar", "") // changeable
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, actions, "c", "")))
	h.settle()
	h.waitFor(vol, h.text("visit_cancelled"))

	h.send(textUpdate(nextUpdateID(), vol, "/visit 3 vneid,level1"))
	h.settle()
	h.waitFor(vol, h.text("visit_saved", "place", "Phường Phú Xuân", "actions", "Cài VNeID, Tạo tài khoản mức 1", "people", "3"))
	h.send(textUpdate(nextUpdateID(), vol, "/visit 3 dance"))
	h.settle()
	h.waitFor(vol, h.text("visit_usage"))
	vs := h.visitsOf(v.ID)
	if len(vs) != 1 || vs[0].Area != "phuong_phu_xuan" || vs[0].People != 3 || len(vs[0].Actions) != 2 {
		t.Fatalf("stored %+v", vs)
	}
	// the cancelled wizard's buttons are stale
	h.send(buttonUpdate(nextUpdateID(), vol, visitData(t, actions, "x", "vneid")))
	h.settle()
	if got := h.lastAnswer(); got != plain(h.main.Flows.Text("vi", "stale_button", nil)) {
		t.Fatalf("a cancelled wizard's tap answered %q", got)
	}
}

// /visit is for active staff only: a resident gets the not-staff answer,
// a suspended volunteer the suspended one, and neither a wizard.
func TestVisitOnlyForStaff(t *testing.T) {
	h := startDesk(t)
	resident := newChatID()
	h.send(textUpdate(nextUpdateID(), resident, "/start"))
	h.send(textUpdate(nextUpdateID(), resident, "/visit 3 vneid"))
	h.send(buttonUpdate(nextUpdateID(), resident, "dk:vi:abc:ok"))
	h.settle()
	h.waitFor(resident, h.text("desk_not_staff"))

	vol := h.volunteer()
	h.send(textUpdate(nextUpdateID(), h.org, "/suspend "+strconv.FormatInt(h.staffID(vol), 10)))
	h.settle()
	h.waitFor(vol, h.text("desk_suspended"))
	h.send(textUpdate(nextUpdateID(), vol, "/visit"))
	h.settle()
	if n := countText(h.sentTo(vol), h.text("desk_suspended")); n != 2 {
		t.Fatalf("the suspended volunteer was told %d times, want 2", n)
	}
	for _, chat := range []int64{resident, vol} {
		for _, m := range h.sentTo(chat) {
			if len(m.Keyboard) > 0 && strings.HasPrefix(m.Keyboard[0][0].CallbackData, "dk:vi:") {
				t.Fatalf("chat %d got a visit wizard: %q", chat, m.Plain)
			}
		}
	}
	if vs := h.visitsOf(h.staffID(vol)); len(vs) != 0 {
		t.Fatalf("visits stored: %+v", vs)
	}
}

// webTap is a staff member's action on the web dashboard, as bot/dashboard
// hands it to the core.
func webTap(h *deskHarness, chat, user string, in bot.Inbound) bot.Ack {
	h.t.Helper()
	in.Key = bot.ConvKey{Channel: bot.ChannelDashboard, ChatID: chat}
	in.UserID, in.UpdateID, in.Seq = user, "web:"+strconv.FormatInt(nextUpdateID(), 10), nextUpdateID()
	ack, err := h.main.Service.HandleTap(context.Background(), in)
	if err != nil {
		h.t.Fatal(err)
	}
	h.settle()
	return ack
}

// The web dashboard acts as its volunteer: an unknown id (or another
// user's) does nothing; an approved volunteer claims, answers by replying
// to "#N", notes and resolves, and the claim's context never reaches their
// Telegram chat (the page shows it). Nobody applies from the web.
func TestDashboardIdentity(t *testing.T) {
	h := startDesk(t)
	vol := h.volunteer()
	vid := strconv.FormatInt(h.staffID(vol), 10)
	resident := newChatID()
	n := h.waitingTicket(resident)
	ns := strconv.FormatInt(n, 10)
	claim := bot.Inbound{Kind: bot.InButton, Data: "dk:claim:" + ns}

	residentBefore, volBefore := len(h.sentTo(resident)), len(h.sentTo(vol))
	webTap(h, "987654321", "987654321", claim)
	webTap(h, vid, "987654321", claim)
	if tk := h.ticket(n); tk.Status != handoff.Waiting {
		t.Fatalf("an unknown dashboard user moved the ticket to %s", tk.Status)
	}
	if len(h.sentTo(resident)) != residentBefore || len(h.sentTo(vol)) != volBefore {
		t.Fatal("an unknown dashboard user's tap sent messages")
	}

	ack := webTap(h, vid, vid, claim)
	if !strings.Contains(ack.Text, "#"+ns) {
		t.Fatalf("the claim answered %+v", ack)
	}
	if tk := h.ticket(n); tk.Status != handoff.Assigned || strconv.FormatInt(tk.Volunteer, 10) != vid {
		t.Fatalf("ticket %s, volunteer %d after the web claim", tk.Status, tk.Volunteer)
	}
	h.waitFor(resident, "đã nhận yêu cầu")
	if sent := h.sentTo(vol)[volBefore:]; len(sent) != 0 {
		t.Fatalf("the web claim sent the volunteer's Telegram chat %q", texts(sent))
	}

	webTap(h, vid, vid, bot.Inbound{Kind: bot.InText, Text: "Bác mở ứng dụng VNeID giúp cháu nhé", ReplyTo: "#" + ns})
	h.waitFor(resident, "Bác mở ứng dụng VNeID giúp cháu nhé")
	webTap(h, vid, vid, bot.Inbound{Kind: bot.InCommand, Command: "note", Args: "đã hướng dẫn bật NFC", ReplyTo: "#" + ns})
	lines, err := h.main.DB.Desk().Transcript(context.Background(), n)
	if err != nil || !slices.ContainsFunc(lines, func(l bot.TranscriptLine) bool { return strings.Contains(l.Text, "bật NFC") }) {
		t.Fatalf("transcript %+v, %v", lines, err)
	}
	webTap(h, vid, vid, bot.Inbound{Kind: bot.InButton, Data: "dk:done:" + ns + ":vneid"})
	h.waitFor(resident, h.text("desk_resolved"))
	if tk := h.ticket(n); tk.Status != handoff.Resolved || tk.Category != "vneid" {
		t.Fatalf("ticket %s (%q) after the web resolve", tk.Status, tk.Category)
	}

	webTap(h, vid, vid, bot.Inbound{Kind: bot.InButton, Data: "dk:send"})
	webTap(h, vid, vid, bot.Inbound{Kind: bot.InCommand, Command: "volunteer"})
	if _, err := h.main.DB.Desk().Volunteer(context.Background(),
		bot.ConvKey{Channel: bot.ChannelDashboard, ChatID: vid}); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("an application from the web: %v", err)
	}
	if sent := h.sentTo(vol)[volBefore:]; len(sent) != 0 {
		t.Fatalf("the web session sent the volunteer's Telegram chat %q", texts(sent))
	}
}

// /dashboard gives an active staff member a one-time login link to the
// dashboard, and a button opening it, in their private chat; a resident
// gets the not-staff answer; typed in the group it is ignored.
func TestDashboardCommandMintsLink(t *testing.T) {
	h := startDesk(t)
	vol := h.volunteer()
	h.send(textUpdate(nextUpdateID(), vol, "/dashboard"))
	h.settle()
	intro, _, _ := strings.Cut(h.text("desk_dashboard_link"), "{link}")
	m := h.waitFor(vol, intro)
	if len(m.Keyboard) != 1 || len(m.Keyboard[0]) != 1 || m.Keyboard[0][0].URL == "" {
		t.Fatalf("no button opens the link: %+v", m.Keyboard)
	}
	link := m.Keyboard[0][0].URL
	if !strings.Contains(link, "/dashboard/") || !strings.Contains(m.Plain, link) || !strings.Contains(m.Plain, "một lần") {
		t.Fatalf("the message does not give the link %q once: %q", link, m.Plain)
	}

	resident := newChatID()
	h.send(textUpdate(nextUpdateID(), resident, "/dashboard"))
	h.settle()
	h.waitFor(resident, h.text("desk_not_staff"))
	if containsText(h.sentTo(resident), "/dashboard/") {
		t.Fatal("a resident got a dashboard link")
	}

	groupBefore, volBefore := len(h.sentTo(volunteerGroup)), len(h.sentTo(vol))
	h.raw(telegramtest.TextMessage(nextUpdateID(), volunteerGroup, vol, "/dashboard"))
	h.settle()
	if len(h.sentTo(volunteerGroup)) != groupBefore || len(h.sentTo(vol)) != volBefore {
		t.Fatalf("/dashboard in the group was answered: %q %q", texts(h.sentTo(volunteerGroup)[groupBefore:]),
			texts(h.sentTo(vol)[volBefore:]))
	}
}

// failingLinks fails to mint once, then mints a fixed link.
type failingLinks struct {
	mu     sync.Mutex
	failed bool
}

func (f *failingLinks) MintLink(context.Context, int64, time.Time) (string, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed {
		f.failed = true
		return "", 0, errors.New("login store down")
	}
	return "https://desk.example.vn/dashboard/login?t=abc", 15 * time.Minute, nil
}

// A link that cannot be minted is an error: Telegram delivers the update
// again, and then it is answered, with how long the link lasts.
func TestDashboardCommandRetriedWhenMintFails(t *testing.T) {
	h := startDeskWith(t, nil, withMain(func(m *Main) {
		m.DeskTune = func(c *handoff.Config) { c.Links = &failingLinks{} }
	}))
	vol := h.volunteer()
	ask := textUpdate(nextUpdateID(), vol, "/dashboard")
	if code := h.postJSON(ask); code == http.StatusOK {
		t.Fatal("a link that could not be minted was answered 200")
	}
	h.send(ask)
	h.settle()
	h.waitFor(vol, h.text("desk_dashboard_link", "link", "https://desk.example.vn/dashboard/login?t=abc", "minutes", "15"))
}

// With no way to mint links, staff are told who can set the dashboard up.
func TestDashboardCommandWithoutLinks(t *testing.T) {
	h := startDeskWith(t, nil, withMain(func(m *Main) { m.DeskTune = func(c *handoff.Config) { c.Links = nil } }))
	vol := h.volunteer()
	h.send(textUpdate(nextUpdateID(), vol, "/dashboard"))
	h.settle()
	h.waitFor(vol, h.text("desk_dashboard_off"))
}
