package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/dashboard"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/flows"
)

// The dashboard's durable side (dashboard.Store, handoff.Visits), on both
// durable stores. Each case gets an empty database (the overview counts
// everything in its range).
func TestDashboardContract(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b *dashBackend)
	}{
		{"AddVisit", testAddVisit},
		{"Logins", testDashLogins},
		{"Sessions", testDashSessions},
		{"FunnelExample", testFunnelExample},
		{"FunnelMatchesReference", testFunnelReference},
		{"FlowVersions", testFlowVersions},
		{"Overview", testOverview},
		{"VolunteerStats", testVolunteerStats},
		{"QueueAndStamps", testDashQueue},
		{"VisitsAndExports", testDashVisitsExports},
		{"SetCapacity", testDashCapacity},
	}
	for _, be := range dashBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, be.open(t)) })
			}
		})
	}
}

// dashBackend is one durable store on an empty database.
type dashBackend struct {
	*recordsBackend
	dash   *Dashboard
	sqlite bool
}

func (b *dashBackend) at(t time.Time) any { return dialectTime(b.sqlite, t) }

func dashBackends() []struct {
	name string
	open func(t *testing.T) *dashBackend
} {
	return []struct {
		name string
		open func(t *testing.T) *dashBackend
	}{
		{"postgres", func(t *testing.T) *dashBackend {
			p := openTestPostgres(t, freshDatabase(t))
			return &dashBackend{dash: p.Dashboard(), recordsBackend: &recordsBackend{
				recordsStore: p,
				exec: func(t *testing.T, query string, args ...any) {
					t.Helper()
					if _, err := p.db.Exec(query, args...); err != nil {
						t.Fatal(err)
					}
				},
				count: func(t *testing.T, query string, args ...any) int {
					t.Helper()
					var n int
					if err := p.db.QueryRow(query, args...).Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				},
			}}
		}},
		{"sqlite", func(t *testing.T) *dashBackend {
			s := newTestSQLite(t, t.TempDir()+"/gocua.db")
			return &dashBackend{dash: s.Dashboard(), sqlite: true, recordsBackend: &recordsBackend{
				recordsStore: s,
				exec: func(t *testing.T, query string, args ...any) {
					t.Helper()
					if _, err := s.w.Exec(query, args...); err != nil {
						t.Fatal(err)
					}
				},
				count: func(t *testing.T, query string, args ...any) int {
					t.Helper()
					var n int
					if err := s.r.QueryRow(query, args...).Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				},
			}}
		}},
	}
}

func testAddVisit(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	d := b.Desk()
	v := approved(t, d, "Hoa", 3, "p_a")
	src := unique(t)
	in := handoff.Visit{Volunteer: v.ID, Area: "p_a", Actions: []string{"dvc", "vneid", "dvc"}, People: 3,
		Note: "nhà bác Tư\x00", At: deskT0.Add(90 * time.Minute), Source: src}
	got, added, err := d.AddVisit(ctx, in)
	if err != nil || !added {
		t.Fatalf("AddVisit = %+v, %v, %v", got, added, err)
	}
	if got.ID == 0 || got.Volunteer != v.ID || got.Area != "p_a" || !slices.Equal(got.Actions, []string{"vneid", "dvc"}) ||
		got.People != 3 || got.Note != "nhà bác Tư" || !got.At.Equal(in.At) || got.Source != src || got.VolunteerName != "Hoa" {
		t.Fatalf("stored = %+v", got)
	}
	// the same source again returns the stored visit, whatever it says now,
	// through either type
	again, added, err := b.dash.AddVisit(ctx, handoff.Visit{Volunteer: v.ID, Actions: []string{"scam"}, People: 9, At: deskT0, Source: src})
	if err != nil || added || again.ID != got.ID || again.People != 3 || !slices.Equal(again.Actions, got.Actions) {
		t.Fatalf("again = %+v, %v, %v", again, added, err)
	}
	bad := []handoff.Visit{
		{Volunteer: v.ID, Actions: []string{"vneid"}, People: 0, At: deskT0, Source: src + "/0"},
		{Volunteer: v.ID, Actions: []string{"vneid"}, People: handoff.MaxVisitPeople + 1, At: deskT0, Source: src + "/1"},
		{Volunteer: v.ID, People: 1, At: deskT0, Source: src + "/2"},
		{Volunteer: v.ID, Actions: []string{"vneid", "dance"}, People: 1, At: deskT0, Source: src + "/3"},
		{Volunteer: v.ID, Actions: []string{"vneid"}, People: 1, At: deskT0},
		{Actions: []string{"vneid"}, People: 1, At: deskT0, Source: src + "/5"},
		{Volunteer: v.ID, Actions: []string{"vneid"}, People: 1, Source: src + "/6"},
		{Volunteer: v.ID, Actions: []string{"vneid"}, People: 1, At: deskT0, Source: src + "/7",
			Note: strings.Repeat("ư", handoff.MaxVisitNote+1)},
		{Volunteer: 1 << 40, Actions: []string{"vneid"}, People: 1, At: deskT0, Source: src + "/8"},
	}
	for i, x := range bad {
		if _, _, err := d.AddVisit(ctx, x); err == nil {
			t.Errorf("bad visit %d stored", i)
		}
	}
	if _, added, err := d.AddVisit(ctx, handoff.Visit{Volunteer: v.ID, Actions: []string{"scam"}, People: handoff.MaxVisitPeople,
		At: deskT0, Source: src + "/9", Note: strings.Repeat("ư", handoff.MaxVisitNote)}); err != nil || !added {
		t.Fatalf("visit at the limits: %v, %v", added, err)
	}
	if n := b.count(t, `SELECT count(*) FROM visits`); n != 2 {
		t.Fatalf("%d visits stored", n)
	}
}

func testDashLogins(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	d := b.dash
	v := approved(t, b.Desk(), "Lan", 3)
	login := dashboard.Login{Hash: "h1", Volunteer: v.ID, Created: deskT0, Expires: deskT0.Add(10 * time.Minute)}
	if err := d.CreateLogin(ctx, login); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateLogin(ctx, login); err == nil {
		t.Fatal("a hash stored twice")
	}
	if _, err := d.UseLogin(ctx, "h1", deskT0.Add(10*time.Minute)); !errors.Is(err, dashboard.ErrLinkRefused) {
		t.Fatalf("expired link: %v", err)
	}
	got, err := d.UseLogin(ctx, "h1", deskT0.Add(time.Minute))
	if err != nil || got != login {
		t.Fatalf("UseLogin = %+v, %v", got, err)
	}
	if _, err := d.UseLogin(ctx, "h1", deskT0.Add(2*time.Minute)); !errors.Is(err, dashboard.ErrLinkRefused) {
		t.Fatalf("used link: %v", err)
	}
	if _, err := d.UseLogin(ctx, "nope", deskT0); !errors.Is(err, dashboard.ErrLinkRefused) {
		t.Fatalf("unknown link: %v", err)
	}

	// of many concurrent uses exactly one signs in
	if err := d.CreateLogin(ctx, dashboard.Login{Hash: "h2", Volunteer: v.ID, Created: deskT0, Expires: deskT0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 20 {
		wg.Go(func() {
			_, err := d.UseLogin(ctx, "h2", deskT0.Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case !errors.Is(err, dashboard.ErrLinkRefused):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d concurrent uses signed in", won)
	}

	// a day after they expire, links are deleted
	if err := d.CreateLogin(ctx, dashboard.Login{Hash: "h3", Volunteer: v.ID, Created: deskT0.Add(25 * time.Hour),
		Expires: deskT0.Add(26 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM dashboard_logins`); n != 2 {
		t.Fatalf("%d logins kept, want h2 and h3", n)
	}
}

func testDashSessions(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	d := b.dash
	lan, hoa := approved(t, b.Desk(), "Lan", 3), approved(t, b.Desk(), "Hoa", 3)
	mk := func(hash string, vol int64, created time.Time, agent string) dashboard.Session {
		t.Helper()
		s, err := d.CreateSession(ctx, dashboard.Session{Hash: hash, Volunteer: vol, CSRF: "c-" + hash, Agent: agent,
			Created: created, Expires: created.Add(30 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	long := strings.Repeat("a", maxAgent-1) + "ữ" // cut inside the rune
	s1 := mk("s1", lan.ID, deskT0, long)
	if s1.ID == 0 || s1.Agent != strings.Repeat("a", maxAgent-1) || !s1.Seen.Equal(deskT0) || !s1.Revoked.IsZero() ||
		s1.CSRF != "c-s1" || s1.Volunteer != lan.ID {
		t.Fatalf("created = %+v", s1)
	}
	s2 := mk("s2", lan.ID, deskT0.Add(time.Hour), "Firefox")
	s3 := mk("s3", hoa.ID, deskT0.Add(2*time.Hour), "Zalo")
	old := mk("s4", hoa.ID, deskT0.Add(-31*24*time.Hour), "old") // expired
	if _, err := d.CreateSession(ctx, dashboard.Session{Hash: "s1", Volunteer: lan.ID, Created: deskT0, Expires: deskT0}); err == nil {
		t.Fatal("a session hash stored twice")
	}

	if got, err := d.Session(ctx, "s2"); err != nil || got != s2 {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	if got, err := d.Session(ctx, "s4"); err != nil || got != old {
		t.Fatalf("expired Session = %+v, %v", got, err)
	}
	if _, err := d.Session(ctx, "nope"); !errors.Is(err, dashboard.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}

	if err := d.TouchSession(ctx, s1.ID, deskT0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := d.TouchSession(ctx, s1.ID, deskT0.Add(time.Minute)); err != nil { // late: kept
		t.Fatal(err)
	}
	if got, _ := d.Session(ctx, "s1"); !got.Seen.Equal(deskT0.Add(5 * time.Minute)) {
		t.Fatalf("seen = %v", got.Seen)
	}
	if err := d.TouchSession(ctx, 1<<40, deskT0); !errors.Is(err, dashboard.ErrNotFound) {
		t.Fatalf("touch unknown: %v", err)
	}

	now := deskT0.Add(3 * time.Hour)
	ids := func(vol int64) []int64 {
		t.Helper()
		list, err := d.Sessions(ctx, vol, now)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	if got := ids(0); !slices.Equal(got, []int64{s3.ID, s2.ID, s1.ID}) {
		t.Fatalf("all sessions = %v", got)
	}
	if got := ids(lan.ID); !slices.Equal(got, []int64{s2.ID, s1.ID}) {
		t.Fatalf("Lan's sessions = %v", got)
	}

	if err := d.RevokeSession(ctx, s3.ID, lan.ID, now); !errors.Is(err, dashboard.ErrNotFound) {
		t.Fatalf("revoking another's session: %v", err)
	}
	if err := d.RevokeSession(ctx, s1.ID, lan.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeSession(ctx, s3.ID, 0, now); err != nil { // an organizer's
		t.Fatal(err)
	}
	if err := d.RevokeSession(ctx, s1.ID, 0, now.Add(time.Hour)); err != nil { // again: kept
		t.Fatal(err)
	}
	if err := d.RevokeSession(ctx, 1<<40, 0, now); !errors.Is(err, dashboard.ErrNotFound) {
		t.Fatalf("revoking an unknown session: %v", err)
	}
	if got, _ := d.Session(ctx, "s1"); !got.Revoked.Equal(now) {
		t.Fatalf("revoked = %v", got.Revoked)
	}
	if got := ids(0); !slices.Equal(got, []int64{s2.ID}) {
		t.Fatalf("live sessions = %v", got)
	}
}

// fev is a flow event of a version, for record.
func fev(kind flows.EventKind, flow, step, version string) flows.Event {
	return flows.Event{Kind: kind, Flow: flow, Step: step, Version: version}
}

// recordFlow records one update's events at at, with the resident's language
// and area then.
func recordFlow(t *testing.T, b *dashBackend, key bot.ConvKey, update string, at time.Time, lang, area string, evs ...flows.Event) {
	t.Helper()
	if _, err := b.Record(context.Background(), bot.UpdateRecord{Key: key, UpdateID: update, At: at, Lang: lang, Area: area,
		Events: evs}); err != nil {
		t.Fatal(err)
	}
}

// The funnel's definition on a small example.
func testFunnelExample(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	key := func(s string) bot.ConvKey { return bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: s} }
	at := func(m int) time.Time { return deskT0.Add(time.Duration(m) * time.Minute) }
	step := func(flow, step string) flows.Event { return fev(flows.EventStepEntered, flow, step, "v1") }
	x, y, z, w := key("x"), key("y"), key("z"), key("w")
	// x: a → b → "Gặp tình nguyện viên" (the volunteer flow's handoff step)
	recordFlow(t, b, x, "1", at(0), "vi", "p_a", fev(flows.EventFlowStarted, "f1", "a", "v1"), step("f1", "a"))
	recordFlow(t, b, x, "2", at(1), "vi", "p_a", step("f1", "b"))
	recordFlow(t, b, x, "3", at(3), "vi", "p_a", fev(flows.EventFlowAbandoned, "f1", "b", "v1"),
		step("volunteer", "request"), fev(flows.EventEscalated, "volunteer", "request", "v1"))
	// y: a, then another flow
	recordFlow(t, b, y, "1", at(0), "vi", "p_a", step("f1", "a"))
	recordFlow(t, b, y, "2", at(5), "vi", "p_a", step("f2", "x"))
	// z: a twice (the last counts), then the end step in one update
	recordFlow(t, b, z, "1", at(0), "en", "", step("f1", "a"))
	recordFlow(t, b, z, "2", at(10), "en", "", step("f1", "a"))
	recordFlow(t, b, z, "3", at(12), "en", "", step("f1", "end"), fev(flows.EventFlowCompleted, "f1", "end", "v1"))
	// w: asked for a person on b (same update), and a visit after the range
	recordFlow(t, b, w, "1", at(0), "vi", "p_b", step("f1", "b"), fev(flows.EventEscalated, "f1", "b", "v1"))
	recordFlow(t, b, w, "2", at(24*60), "vi", "p_b", step("f1", "a"))

	// u: asked for a person on c, by an event of the same update stamped
	// before the range
	asked := fev(flows.EventEscalated, "f1", "c", "v1")
	asked.At = at(-5)
	recordFlow(t, b, key("u"), "1", at(30), "vi", "p_c", step("f1", "c"), asked)

	q := dashboard.FunnelQuery{Query: dashboard.Query{From: at(0), To: at(60)}, Flow: "f1"}
	got, err := b.dash.Funnel(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []dashboard.FunnelStep{
		{Step: "a", Entered: 3, Continued: 2, Left: 1, Median: 90 * time.Second}, // x 1m, z 2m; y left
		{Step: "b", Entered: 2, Escalated: 2},
		{Step: "c", Entered: 1, Escalated: 1},
		{Step: "end", Entered: 1, Continued: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("funnel = %+v\nwant %+v", got, want)
	}
	if got := funnelRef(t, b, q); !slices.Equal(got, want) {
		t.Fatalf("reference = %+v\nwant %+v", got, want)
	}
	q.Area, q.Lang = "p_a", "vi"
	got, err = b.dash.Funnel(ctx, q)
	if want := []dashboard.FunnelStep{{Step: "a", Entered: 2, Continued: 1, Left: 1, Median: time.Minute},
		{Step: "b", Entered: 1, Escalated: 1}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("p_a funnel = %+v, %v", got, err)
	}
	if _, err := b.dash.Funnel(ctx, dashboard.FunnelQuery{Query: dashboard.Query{From: at(1), To: at(1)}, Flow: "f1"}); err == nil {
		t.Fatal("an empty range was counted")
	}
}

// rawEvent is a stored flow event.
type rawEvent struct {
	id                              int64
	channel, ext, update, kind      string
	flow, step, lang, area, version string
	at                              time.Time
}

func (e rawEvent) resident() string { return e.channel + "/" + e.ext }

func (e rawEvent) move() bool {
	return e.kind == string(flows.EventStepEntered) || e.kind == string(flows.EventFlowCompleted)
}

// funnelRef computes Funnel's definition (see Dashboard.Funnel) in Go,
// from every stored event.
func funnelRef(t *testing.T, b *dashBackend, q dashboard.FunnelQuery) []dashboard.FunnelStep {
	t.Helper()
	evs := storedEvents(t, b)
	slices.SortFunc(evs, func(x, y rawEvent) int { return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.id, y.id)) })
	type escKey struct{ resident, update, flow, step string }
	esc := map[escKey]bool{}
	moves := map[string][]rawEvent{}
	var residents []string
	for _, e := range evs {
		if e.kind == string(flows.EventEscalated) {
			esc[escKey{e.resident(), e.update, e.flow, e.step}] = true
		}
		if e.move() {
			if moves[e.resident()] == nil {
				residents = append(residents, e.resident())
			}
			moves[e.resident()] = append(moves[e.resident()], e)
		}
	}
	escalates := func(e rawEvent) bool { return esc[escKey{e.resident(), e.update, e.flow, e.step}] }
	matches := func(e rawEvent) bool {
		return e.kind == string(flows.EventStepEntered) && e.flow == q.Flow && !e.at.Before(q.From) && e.at.Before(q.To) &&
			(q.Scope == nil || slices.Contains(q.Scope, e.area)) &&
			(q.Area == "" || (q.Area == "-" && e.area == "") || e.area == q.Area) &&
			(q.Channel == "" || e.channel == string(q.Channel)) && (q.Lang == "" || e.lang == q.Lang) &&
			(q.Version == "" || e.version == q.Version)
	}
	type outcome struct {
		kind int // 0 left, 1 continued, 2 escalated
		took time.Duration
	}
	steps := map[string]map[string]outcome{} // step → resident → their last visit's outcome
	for _, r := range residents {
		ms := moves[r]
		for i, v := range ms {
			if !matches(v) {
				continue
			}
			var o outcome
			switch {
			case escalates(v) || (i+1 < len(ms) && ms[i+1].kind == string(flows.EventStepEntered) && escalates(ms[i+1])):
				o.kind = 2
			case i+1 < len(ms) && ms[i+1].flow == q.Flow:
				o = outcome{1, ms[i+1].at.Sub(v.at)}
			}
			if steps[v.step] == nil {
				steps[v.step] = map[string]outcome{}
			}
			steps[v.step][r] = o // in order: the last visit stays
		}
	}
	var out []dashboard.FunnelStep
	for step, byResident := range steps {
		s := dashboard.FunnelStep{Step: step}
		var took []time.Duration
		for _, o := range byResident {
			s.Entered++
			switch o.kind {
			case 0:
				s.Left++
			case 1:
				s.Continued++
				took = append(took, o.took)
			case 2:
				s.Escalated++
			}
		}
		if n := len(took); n > 0 {
			slices.Sort(took)
			s.Median = (took[(n-1)/2] + took[n/2]) / 2
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b dashboard.FunnelStep) int {
		return cmp.Or(cmp.Compare(b.Entered, a.Entered), strings.Compare(a.Step, b.Step))
	})
	return out
}

func storedEvents(t *testing.T, b *dashBackend) []rawEvent {
	t.Helper()
	rows, err := b.dash.r.Query(`SELECT id, channel, external_id, update_id, kind, flow, step, lang, area, version, at FROM flow_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []rawEvent
	for rows.Next() {
		var e rawEvent
		var at dbTime
		if err := rows.Scan(&e.id, &e.channel, &e.ext, &e.update, &e.kind, &e.flow, &e.step, &e.lang, &e.area, &e.version, &at); err != nil {
			t.Fatal(err)
		}
		e.at = at.t
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Random event histories: the SQL funnel equals the Go reference for
// several flows and filters.
func testFunnelReference(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(12, 2026))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	fl := map[string][]string{"f1": {"a", "b", "c", "d"}, "f2": {"x", "y"}}
	ends := map[string]string{"f1": "end", "f2": "done"}
	start := deskT0
	var keys []bot.ConvKey
	for i := range 12 {
		ch := bot.ChannelZaloBot
		if i%3 == 0 {
			ch = bot.ChannelTelegram
		}
		keys = append(keys, bot.ConvKey{Channel: ch, ChatID: fmt.Sprint("r", i)})
	}
	last := map[bot.ConvKey]time.Time{}
	events := 0
	for u := 0; events < 400; u++ {
		key := keys[rng.IntN(len(keys))]
		// mostly forward in time, sometimes at the very same instant as the
		// resident's previous update (a tie broken by id)
		at := start.Add(time.Duration(rng.IntN(10*24*60)) * time.Minute).Add(time.Duration(rng.IntN(1e6)) * time.Microsecond)
		if prev, ok := last[key]; ok && rng.IntN(5) == 0 {
			at = prev
		}
		last[key] = at
		ver, flow := pick("v1", "v2"), pick("f1", "f1", "f2")
		step := fl[flow][rng.IntN(len(fl[flow]))]
		var evs []flows.Event
		switch rng.IntN(9) {
		case 0: // the end step
			evs = []flows.Event{fev(flows.EventStepEntered, flow, ends[flow], ver), fev(flows.EventFlowCompleted, flow, ends[flow], ver)}
		case 1: // "Gặp tình nguyện viên"
			evs = []flows.Event{fev(flows.EventFlowAbandoned, flow, step, ver), fev(flows.EventStepEntered, "volunteer", "request", ver),
				fev(flows.EventEscalated, "volunteer", "request", ver)}
		case 2: // asked for a person on the step it entered
			evs = []flows.Event{fev(flows.EventStepEntered, flow, step, ver), fev(flows.EventEscalated, flow, step, ver)}
		case 3: // asked for a person later (another update: not this step's)
			evs = []flows.Event{fev(flows.EventEscalated, flow, step, ver)}
		case 4: // two steps in one update
			evs = []flows.Event{fev(flows.EventFlowStarted, flow, step, ver), fev(flows.EventStepEntered, flow, step, ver),
				fev(flows.EventStepEntered, flow, fl[flow][rng.IntN(len(fl[flow]))], ver)}
		default:
			evs = []flows.Event{fev(flows.EventStepEntered, flow, step, ver)}
		}
		events += len(evs)
		recordFlow(t, b, key, fmt.Sprint("u", u), at, pick("vi", "vi", "en"), pick("p_a", "p_b", ""), evs...)
	}

	all := dashboard.Query{From: start.Add(24 * time.Hour), To: start.Add(9 * 24 * time.Hour)}
	with := func(f func(q *dashboard.Query)) dashboard.Query {
		q := all
		f(&q)
		return q
	}
	queries := []dashboard.FunnelQuery{
		{Query: all, Flow: "f1"},
		{Query: all, Flow: "f2"},
		{Query: all, Flow: "volunteer"},
		{Query: with(func(q *dashboard.Query) { q.Area = "p_a" }), Flow: "f1"},
		{Query: with(func(q *dashboard.Query) { q.Area = "-" }), Flow: "f1"},
		{Query: with(func(q *dashboard.Query) { q.Scope = []string{"p_a", "p_b"} }), Flow: "f1"},
		{Query: with(func(q *dashboard.Query) { q.Scope = []string{"p_b"}; q.Lang = "vi" }), Flow: "f2"},
		{Query: with(func(q *dashboard.Query) { q.Scope = []string{} }), Flow: "f1"},
		{Query: with(func(q *dashboard.Query) { q.Channel = bot.ChannelTelegram }), Flow: "f1"},
		{Query: all, Flow: "f1", Version: "v2"},
		{Query: with(func(q *dashboard.Query) { q.Channel = bot.ChannelZaloBot; q.Lang = "en" }), Flow: "f1", Version: "v1"},
		{Query: with(func(q *dashboard.Query) { q.From, q.To = start.Add(3*24*time.Hour), start.Add(4*24*time.Hour) }), Flow: "f1"},
	}
	for i, q := range queries {
		got, err := b.dash.Funnel(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := funnelRef(t, b, q)
		if !slices.Equal(got, want) {
			t.Errorf("query %d (%+v):\n got %+v\nwant %+v", i, q, got, want)
		}
		for _, s := range got {
			if s.Continued+s.Left+s.Escalated != s.Entered {
				t.Errorf("query %d: %+v does not add up", i, s)
			}
		}
		if i == 0 { // the data exercise every outcome
			var c, l, e int64
			for _, s := range got {
				c, l, e = c+s.Continued, l+s.Left, e+s.Escalated
			}
			if len(got) < 5 || c == 0 || l == 0 || e == 0 {
				t.Fatalf("f1's funnel is too simple: %+v", got)
			}
		}
	}
}

func testFlowVersions(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	key := bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "r"}
	recordFlow(t, b, key, "1", deskT0, "vi", "", fev(flows.EventStepEntered, "f1", "a", ""))
	recordFlow(t, b, key, "2", deskT0.Add(time.Hour), "vi", "", fev(flows.EventStepEntered, "f1", "a", "v1"),
		fev(flows.EventStepEntered, "f1", "b", "v1"))
	recordFlow(t, b, key, "3", deskT0.Add(2*time.Hour), "vi", "", fev(flows.EventStepEntered, "f1", "a", "v2"),
		fev(flows.EventStepEntered, "f2", "x", "v9"))
	recordFlow(t, b, key, "4", deskT0.Add(3*time.Hour), "vi", "", fev(flows.EventStepEntered, "f1", "c", "v1"))
	got, err := b.dash.FlowVersions(ctx, "f1", 10)
	want := []dashboard.FlowVersion{
		{Version: "v2", First: deskT0.Add(2 * time.Hour), Last: deskT0.Add(2 * time.Hour), Events: 1},
		{Version: "v1", First: deskT0.Add(time.Hour), Last: deskT0.Add(3 * time.Hour), Events: 3},
		{Version: "", First: deskT0, Last: deskT0, Events: 1},
	}
	if err != nil || !slices.EqualFunc(got, want, func(a, b dashboard.FlowVersion) bool {
		return a.Version == b.Version && a.First.Equal(b.First) && a.Last.Equal(b.Last) && a.Events == b.Events
	}) {
		t.Fatalf("FlowVersions = %+v, %v", got, err)
	}
	if got, err := b.dash.FlowVersions(ctx, "f1", 1); err != nil || len(got) != 1 || got[0].Version != "v2" {
		t.Fatalf("FlowVersions limit 1 = %+v, %v", got, err)
	}
}

// ict is the deployment's zone of the overview tests (no DST, so fixed).
var ict = time.FixedZone("ICT", 7*3600)

// dec is a time of December 2026 in ICT.
func dec(day, hour, minute int) time.Time { return time.Date(2026, 12, day, hour, minute, 0, 0, ict) }

// overviewFixture is what seedOverview made.
type overviewFixture struct {
	a, b, c            handoff.Volunteer // approved, approved, applicant
	t1, t3, t4, t5, t6 int64
	keys               map[string]bot.ConvKey
}

// seedOverview writes the hand-made history the overview and the
// volunteer stats are checked against; the range is December 1–3 (ICT).
func seedOverview(t *testing.T, b *dashBackend) overviewFixture {
	t.Helper()
	ctx := context.Background()
	desk := b.Desk()
	f := overviewFixture{keys: map[string]bot.ConvKey{}}
	f.a, f.b = approved(t, desk, "An", 5), approved(t, desk, "Bình", 5)
	cv, err := desk.Apply(ctx, handoff.Volunteer{User: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "c"},
		Chat: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "c"}, Name: "Chi"}, dec(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	f.c = cv
	key := func(name string, ch bot.Channel, area string, first time.Time) bot.ConvKey {
		k := bot.ConvKey{Channel: ch, ChatID: name}
		f.keys[name] = k
		recordFlow(t, b, k, "first", first, "vi", area)
		if err := b.SetResidentArea(ctx, k, area, first); err != nil {
			t.Fatal(err)
		}
		return k
	}
	r1 := key("r1", bot.ChannelZaloBot, "p_a", dec(1, 10, 0))
	r2 := key("r2", bot.ChannelTelegram, "p_b", time.Date(2026, 11, 20, 9, 0, 0, 0, ict))
	r3 := key("r3", bot.ChannelZaloBot, "", dec(2, 0, 30))
	r4 := key("r4", bot.ChannelZaloBot, "p_a", time.Date(2026, 11, 25, 9, 0, 0, 0, ict))
	key("r5", bot.ChannelTelegram, "p_a", dec(4, 0, 0)) // at To: outside
	r6 := key("r6", bot.ChannelTelegram, "p_b", dec(2, 10, 0))

	done := func(flow string) flows.Event { return fev(flows.EventFlowCompleted, flow, "end", "v1") }
	recordFlow(t, b, r1, "e1", dec(1, 10, 0), "vi", "p_a", done("f1"))
	recordFlow(t, b, r1, "e2", dec(1, 10, 5), "vi", "p_a", done("f2"))
	recordFlow(t, b, r3, "e1", dec(2, 0, 30), "en", "", done("f1")) // December 1 in UTC
	recordFlow(t, b, r2, "e1", dec(3, 23, 30), "vi", "p_b", done("f1"))
	recordFlow(t, b, r4, "e1", time.Date(2026, 11, 25, 9, 0, 0, 0, ict), "vi", "p_a", done("f1"))

	open := func(k bot.ConvKey, update string, at time.Time, area string) int64 {
		t.Helper()
		res, err := b.Record(ctx, bot.UpdateRecord{Key: k, UpdateID: update, At: at, Lang: "vi",
			Handoff: &bot.TicketRequest{Flow: "f1", Step: "a", Area: area}})
		if err != nil {
			t.Fatal(err)
		}
		return res.TicketID
	}
	claim := func(id int64, v handoff.Volunteer, at time.Time) {
		t.Helper()
		if _, err := desk.Claim(ctx, id, v, at); err != nil {
			t.Fatal(err)
		}
	}
	move := func(id int64, from, to handoff.Status, at time.Time) {
		t.Helper()
		if _, err := desk.Move(ctx, handoff.Move{Ticket: id, From: []handoff.Status{from}, To: to, Actor: "volunteer", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	say := func(id int64, update string, at time.Time) {
		t.Helper()
		if err := desk.Note(ctx, id, update, []bot.TranscriptLine{{From: "volunteer", Text: "chào bác", At: at}}); err != nil {
			t.Fatal(err)
		}
		if err := desk.Said(ctx, id, true, at); err != nil {
			t.Fatal(err)
		}
	}
	rate := func(id int64, k bot.ConvKey, stars int, at time.Time) {
		t.Helper()
		if ok, err := desk.Rate(ctx, id, k, stars, "", at); err != nil || !ok {
			t.Fatalf("rate: %v, %v", ok, err)
		}
	}
	// t1 (p_a): wait 10m, answered after 5m, handled in 60m, 5 stars
	f.t1 = open(r1, "t1", dec(1, 11, 0), "p_a")
	claim(f.t1, f.a, dec(1, 11, 10))
	say(f.t1, "t1-say", dec(1, 11, 15))
	move(f.t1, handoff.Assigned, handoff.Resolved, dec(1, 12, 10))
	rate(f.t1, r1, 5, dec(1, 13, 0))
	// t2 (p_b): opened before the range, claimed in it after 2h, handled
	// in 24h, 3 stars
	t2 := open(r2, "t2", time.Date(2026, 11, 30, 23, 0, 0, 0, ict), "p_b")
	claim(t2, f.b, dec(1, 1, 0))
	move(t2, handoff.Assigned, handoff.Resolved, dec(2, 1, 0))
	rate(t2, r2, 3, dec(2, 2, 0))
	// t3 (no area): claimed by B after 10m and released, claimed by A
	// (answered after 20m, B's earlier message does not count), handled
	// in 2h from A's claim
	f.t3 = open(r3, "t3", dec(2, 0, 40), "")
	claim(f.t3, f.b, dec(2, 0, 50))
	say(f.t3, "t3-b", dec(2, 0, 55))
	move(f.t3, handoff.Assigned, handoff.Waiting, dec(2, 1, 0))
	claim(f.t3, f.a, dec(2, 1, 30))
	say(f.t3, "t3-a", dec(2, 1, 50))
	move(f.t3, handoff.Assigned, handoff.Resolved, dec(2, 3, 30))
	// t4 (p_a): waiting
	f.t4 = open(r1, "t4", dec(3, 9, 0), "p_a")
	// t5 (p_b): wait 5m, handled in 30m
	f.t5 = open(r6, "t5", dec(2, 10, 0), "p_b")
	claim(f.t5, f.b, dec(2, 10, 5))
	move(f.t5, handoff.Assigned, handoff.Resolved, dec(2, 10, 35))
	// t6 (p_a): before the range, still held by A
	f.t6 = open(r4, "t6", time.Date(2026, 11, 25, 9, 0, 0, 0, ict), "p_a")
	claim(f.t6, f.a, time.Date(2026, 11, 25, 9, 30, 0, 0, ict))

	// broadcast deliveries: delivered in the range to r1, r2 and a resident
	// deleted since; failed; delivered before the range
	b.exec(t, `INSERT INTO broadcasts (id, text, audience, at, created_at, updated_at) VALUES (1, 'x', 'all', $1, $1, $1)`, b.at(dec(1, 0, 0)))
	b.exec(t, `INSERT INTO broadcast_runs (id, broadcast_id, tick, started_at) VALUES (1, 1, $1, $1)`, b.at(dec(1, 0, 0)))
	deliver := func(k bot.ConvKey, resident int64, state string, at time.Time) {
		t.Helper()
		if resident == 0 {
			r, err := b.Resident(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			resident = r.ID
		}
		b.exec(t, `INSERT INTO broadcast_deliveries (run_id, resident_id, channel, external_id, lang, area, state, next_at, settled_at)
VALUES (1, $1, $2, $3, 'vi', coalesce((SELECT area FROM residents WHERE id = $1), ''), $4, $5, $5)`,
			resident, string(k.Channel), k.ChatID, state, b.at(at))
	}
	deliver(r1, 0, "delivered", dec(1, 8, 0))
	deliver(r2, 0, "delivered", dec(3, 8, 0))
	deliver(r3, 0, "failed", dec(1, 8, 0))
	deliver(r6, 0, "delivered", time.Date(2026, 11, 28, 8, 0, 0, 0, ict))
	deliver(bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "gone"}, 1<<40, "delivered", dec(2, 8, 0))

	visit := func(v handoff.Volunteer, area string, people int, at time.Time) {
		t.Helper()
		if _, _, err := desk.AddVisit(ctx, handoff.Visit{Volunteer: v.ID, Area: area, Actions: []string{"vneid"},
			People: people, At: at, Source: fmt.Sprint("web:", area, at.Unix())}); err != nil {
			t.Fatal(err)
		}
	}
	visit(f.a, "p_a", 4, dec(1, 15, 0))
	visit(f.a, "", 2, dec(2, 0, 10))                                // December 1 in UTC
	visit(f.b, "p_b", 10, time.Date(2026, 11, 29, 9, 0, 0, 0, ict)) // before
	visit(f.a, "p_a", 7, time.Date(2026, 12, 5, 9, 0, 0, 0, ict))   // after
	return f
}

var overviewRange = dashboard.Query{From: dec(1, 0, 0), To: dec(4, 0, 0), Location: ict}

func testOverview(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	seedOverview(t, b)
	got, err := b.dash.Overview(ctx, overviewRange)
	if err != nil {
		t.Fatal(err)
	}
	pa := dashboard.AreaStats{Area: "p_a", Residents: 1, NewResidents: 1, FlowsCompleted: 2, TicketsOpened: 2,
		TicketsResolved: 1, MedianWait: 10 * time.Minute, MedianHandle: time.Hour, Rated: 1, RatingSum: 5, Satisfied: 1,
		BroadcastsSent: 1, Visits: 1, VisitPeople: 4}
	pb := dashboard.AreaStats{Area: "p_b", Residents: 2, NewResidents: 1, FlowsCompleted: 1, TicketsOpened: 1,
		TicketsResolved: 2, MedianWait: (2*time.Hour + 5*time.Minute) / 2, MedianHandle: (24*time.Hour + 30*time.Minute) / 2,
		Rated: 1, RatingSum: 3, BroadcastsSent: 1}
	none := dashboard.AreaStats{Area: "-", Residents: 1, NewResidents: 1, FlowsCompleted: 1, TicketsOpened: 1,
		TicketsResolved: 1, MedianWait: 10 * time.Minute, MedianHandle: 2 * time.Hour, BroadcastsSent: 1, Visits: 1, VisitPeople: 2}
	want := dashboard.Overview{
		Total: dashboard.AreaStats{Residents: 4, NewResidents: 3, FlowsCompleted: 4, TicketsOpened: 4, TicketsResolved: 4,
			MedianWait:   10 * time.Minute,              // 5m 10m 10m 2h
			MedianHandle: (time.Hour + 2*time.Hour) / 2, // 30m 1h 2h 24h
			Rated:        2, RatingSum: 8, Satisfied: 1, BroadcastsSent: 3, Visits: 2, VisitPeople: 6},
		Areas: []dashboard.AreaStats{none, pa, pb},
		Days: []dashboard.DayStats{
			{Day: dec(1, 0, 0), FlowsCompleted: 2, TicketsOpened: 1, VisitPeople: 4},
			{Day: dec(2, 0, 0), FlowsCompleted: 1, TicketsOpened: 2, VisitPeople: 2},
			{Day: dec(3, 0, 0), FlowsCompleted: 1, TicketsOpened: 1},
		},
	}
	checkOverview(t, "all", got, want)

	// a scope sees its areas only; the area filter too
	got, err = b.dash.Overview(ctx, dashboard.Query{From: overviewRange.From, To: overviewRange.To, Location: ict, Scope: []string{"p_a"}})
	if err != nil {
		t.Fatal(err)
	}
	total := pa
	total.Area = ""
	checkOverview(t, "scope p_a", got, dashboard.Overview{Total: total, Areas: []dashboard.AreaStats{pa}, Days: []dashboard.DayStats{
		{Day: dec(1, 0, 0), FlowsCompleted: 2, TicketsOpened: 1, VisitPeople: 4}, {Day: dec(2, 0, 0)},
		{Day: dec(3, 0, 0), TicketsOpened: 1}}})
	got, err = b.dash.Overview(ctx, dashboard.Query{From: overviewRange.From, To: overviewRange.To, Location: ict, Area: "-"})
	if err != nil {
		t.Fatal(err)
	}
	total = none
	total.Area = ""
	checkOverview(t, "no area", got, dashboard.Overview{Total: total, Areas: []dashboard.AreaStats{none}, Days: []dashboard.DayStats{
		{Day: dec(1, 0, 0)}, {Day: dec(2, 0, 0), FlowsCompleted: 1, TicketsOpened: 1, VisitPeople: 2}, {Day: dec(3, 0, 0)}}})

	// a channel: visits have none, so they all stay
	got, err = b.dash.Overview(ctx, dashboard.Query{From: overviewRange.From, To: overviewRange.To, Location: ict,
		Channel: bot.ChannelTelegram})
	if err != nil {
		t.Fatal(err)
	}
	if tt := got.Total; tt.Residents != 2 || tt.NewResidents != 1 || tt.TicketsOpened != 1 || tt.TicketsResolved != 2 ||
		tt.FlowsCompleted != 1 || tt.BroadcastsSent != 1 || tt.Visits != 2 || tt.VisitPeople != 6 {
		t.Fatalf("telegram total = %+v", tt)
	}

	// a range not on midnights: partial first and last days
	got, err = b.dash.Overview(ctx, dashboard.Query{From: dec(1, 12, 0), To: dec(2, 1, 0), Location: ict})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Days) != 2 || !got.Days[0].Day.Equal(dec(1, 0, 0)) || got.Days[0].FlowsCompleted != 0 || got.Days[0].VisitPeople != 4 ||
		got.Days[1].FlowsCompleted != 1 || got.Days[1].TicketsOpened != 1 || got.Days[1].VisitPeople != 2 {
		t.Fatalf("partial days = %+v", got.Days)
	}
	// in UTC the days are others
	got, err = b.dash.Overview(ctx, dashboard.Query{From: dec(1, 7, 0), To: dec(3, 7, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Days) != 2 || got.Days[0].FlowsCompleted != 3 || got.Days[0].TicketsOpened != 2 || got.Days[0].VisitPeople != 6 {
		t.Fatalf("UTC days = %+v", got.Days)
	}
	if _, err := b.dash.Overview(ctx, dashboard.Query{From: dec(1, 0, 0), To: dec(1, 0, 0).AddDate(5, 0, 0)}); err == nil {
		t.Fatal("five years of days")
	}
}

func checkOverview(t *testing.T, name string, got, want dashboard.Overview) {
	t.Helper()
	if got.Total != want.Total {
		t.Errorf("%s: total\n got %+v\nwant %+v", name, got.Total, want.Total)
	}
	if !slices.Equal(got.Areas, want.Areas) {
		t.Errorf("%s: areas\n got %+v\nwant %+v", name, got.Areas, want.Areas)
	}
	if !slices.EqualFunc(got.Days, want.Days, func(a, b dashboard.DayStats) bool {
		return a.Day.Equal(b.Day) && a.Day.Location() == b.Day.Location() && a.FlowsCompleted == b.FlowsCompleted &&
			a.TicketsOpened == b.TicketsOpened && a.VisitPeople == b.VisitPeople
	}) {
		t.Errorf("%s: days\n got %+v\nwant %+v", name, got.Days, want.Days)
	}
}

func testVolunteerStats(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	f := seedOverview(t, b)
	got, err := b.dash.VolunteerStats(ctx, overviewRange)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]dashboard.VolunteerStats{}
	var order []string
	for _, s := range got {
		byID[s.Volunteer.ID] = s
		order = append(order, s.Volunteer.Name)
	}
	if !slices.Equal(order, []string{"Chi", "An", "Bình"}) {
		t.Fatalf("order = %v", order)
	}
	type nums struct {
		open, handled, rated, sum, visits, people int64
		first                                     time.Duration
		last                                      time.Time
	}
	of := func(s dashboard.VolunteerStats) nums {
		return nums{s.Open, s.Handled, s.Rated, s.RatingSum, s.Visits, s.VisitPeople, s.MedianFirst, s.LastActive}
	}
	// An: t6 held; t1, t3 handled; first answers 5m (t1) and 20m (t3);
	// t1 rated; two visits in the range (and one after, their last act)
	if got, want := of(byID[f.a.ID]), (nums{1, 2, 1, 5, 2, 6, (5*time.Minute + 20*time.Minute) / 2,
		time.Date(2026, 12, 5, 9, 0, 0, 0, ict)}); got.open != want.open || got.handled != want.handled || got.rated != want.rated ||
		got.sum != want.sum || got.visits != want.visits || got.people != want.people || got.first != want.first ||
		!got.last.Equal(want.last) {
		t.Errorf("An = %+v\nwant %+v", got, want)
	}
	// Bình: t2 and t5 handled; never answered a ticket they hold; t2 rated
	if got, want := of(byID[f.b.ID]), (nums{0, 2, 1, 3, 0, 0, 0, dec(2, 10, 5)}); got.open != want.open ||
		got.handled != want.handled || got.rated != want.rated || got.sum != want.sum || got.visits != want.visits ||
		got.first != want.first || !got.last.Equal(want.last) {
		t.Errorf("Bình = %+v\nwant %+v", got, want)
	}
	if c := byID[f.c.ID]; of(c) != (nums{}) {
		t.Errorf("Chi = %+v", c)
	}

	// in scope p_b only Bình's p_b tickets count
	got, err = b.dash.VolunteerStats(ctx, dashboard.Query{From: overviewRange.From, To: overviewRange.To, Scope: []string{"p_b"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		switch s.Volunteer.ID {
		case f.a.ID:
			if s.Open != 0 || s.Handled != 0 || s.Visits != 0 || !s.LastActive.IsZero() {
				t.Errorf("An in p_b = %+v", s)
			}
		case f.b.ID:
			if s.Handled != 2 || s.Rated != 1 || s.Visits != 0 || !s.LastActive.Equal(dec(2, 10, 5)) {
				t.Errorf("Bình in p_b = %+v", s)
			}
		}
	}
}

func testDashQueue(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	f := seedOverview(t, b)
	ids := func(q dashboard.Query, limit int) []int64 {
		t.Helper()
		rows, err := b.dash.OpenTickets(ctx, q, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range rows {
			out = append(out, r.ID)
			if r.ID == f.t6 && (r.VolunteerName != "An" || r.Status != handoff.Assigned || r.Area != "p_a") {
				t.Errorf("t6 = %+v", r)
			}
		}
		return out
	}
	if got := ids(dashboard.Query{}, 10); !slices.Equal(got, []int64{f.t6, f.t4}) {
		t.Fatalf("open = %v", got)
	}
	if got := ids(dashboard.Query{}, 1); !slices.Equal(got, []int64{f.t6}) {
		t.Fatalf("open, 1 = %v", got)
	}
	if got := ids(dashboard.Query{Scope: []string{"p_b"}}, 10); len(got) != 0 {
		t.Fatalf("open in p_b = %v", got)
	}
	if got := ids(dashboard.Query{Channel: bot.ChannelZaloBot, Lang: "vi", Area: "p_a"}, 10); !slices.Equal(got, []int64{f.t6, f.t4}) {
		t.Fatalf("open on zalo = %v", got)
	}

	stamp := func() string {
		t.Helper()
		s, err := b.dash.QueueStamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tstamp := func(id int64) string {
		t.Helper()
		s, err := b.dash.TicketStamp(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	seen := map[string]bool{}
	fresh := func(what, s string) {
		t.Helper()
		if seen[s] {
			t.Fatalf("stamp unchanged by %s: %s", what, s)
		}
		seen[s] = true
	}
	first := stamp()
	fresh("nothing", first)
	if again := stamp(); again != first {
		t.Fatalf("stamp moves by itself: %s, then %s", first, again)
	}
	desk := b.Desk()
	now := dec(5, 9, 0)
	if _, err := desk.Claim(ctx, f.t4, f.b, now); err != nil {
		t.Fatal(err)
	}
	fresh("claim", stamp())
	if _, err := desk.Move(ctx, handoff.Move{Ticket: f.t4, From: []handoff.Status{handoff.Assigned}, To: handoff.Waiting, At: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	fresh("release", stamp())
	if _, err := desk.Claim(ctx, f.t4, f.a, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := desk.Move(ctx, handoff.Move{Ticket: f.t4, From: []handoff.Status{handoff.Assigned}, To: handoff.Waiting, At: now.Add(3 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	fresh("claim and release", stamp())
	r7 := bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "r7"}
	res, err := b.Record(ctx, bot.UpdateRecord{Key: r7, UpdateID: "t7", At: now.Add(4 * time.Minute), Handoff: &bot.TicketRequest{Flow: "f1"}})
	if err != nil {
		t.Fatal(err)
	}
	fresh("open", stamp())

	ts := tstamp(res.TicketID)
	if tstamp(res.TicketID) != ts {
		t.Fatal("ticket stamp moves by itself")
	}
	if err := desk.Note(ctx, res.TicketID, "n1", []bot.TranscriptLine{{From: "resident", Text: "alo", At: now.Add(5 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	ts2 := tstamp(res.TicketID)
	if ts2 == ts {
		t.Fatal("ticket stamp unchanged by a message")
	}
	if err := desk.SetTopicArea(ctx, res.TicketID, "vneid", "p_a"); err != nil {
		t.Fatal(err)
	}
	if tstamp(res.TicketID) == ts2 {
		t.Fatal("ticket stamp unchanged by its topic")
	}
	if _, err := desk.Move(ctx, handoff.Move{Ticket: res.TicketID, From: []handoff.Status{handoff.Waiting}, To: handoff.Cancelled,
		At: now.Add(6 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	fresh("close", stamp())
	if _, err := b.dash.TicketStamp(ctx, 1<<40); !errors.Is(err, dashboard.ErrNotFound) {
		t.Fatalf("stamp of an unknown ticket: %v", err)
	}
}

var errStop = errors.New("stop")

func testDashVisitsExports(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	f := seedOverview(t, b)
	people := func(vs []handoff.Visit) []int {
		var out []int
		for _, v := range vs {
			out = append(out, v.People)
		}
		return out
	}
	wide := dashboard.Query{From: time.Date(2026, 11, 1, 0, 0, 0, 0, ict), To: time.Date(2027, 1, 1, 0, 0, 0, 0, ict)}
	vs, err := b.dash.VisitsIn(ctx, wide, 0, 10)
	if err != nil || !slices.Equal(people(vs), []int{7, 2, 4, 10}) || vs[0].VolunteerName != "An" {
		t.Fatalf("VisitsIn = %+v, %v", vs, err)
	}
	if vs, err := b.dash.VisitsIn(ctx, overviewRange, 0, 10); err != nil || !slices.Equal(people(vs), []int{2, 4}) {
		t.Fatalf("VisitsIn range = %+v, %v", vs, err)
	}
	if vs, err := b.dash.VisitsIn(ctx, wide, f.b.ID, 10); err != nil || !slices.Equal(people(vs), []int{10}) {
		t.Fatalf("VisitsIn of Bình = %+v, %v", vs, err)
	}
	q := wide
	q.Scope, q.Channel = []string{"p_a", "p_b"}, bot.ChannelTelegram // the channel does not apply
	if vs, err := b.dash.VisitsIn(ctx, q, 0, 2); err != nil || !slices.Equal(people(vs), []int{7, 4}) {
		t.Fatalf("VisitsIn in scope = %+v, %v", vs, err)
	}
	q = wide
	q.Area = "-"
	if vs, err := b.dash.VisitsIn(ctx, q, 0, 10); err != nil || !slices.Equal(people(vs), []int{2}) {
		t.Fatalf("VisitsIn with no area = %+v, %v", vs, err)
	}

	var exported []int
	if err := b.dash.ExportVisits(ctx, wide, func(v handoff.Visit) error {
		exported = append(exported, v.People)
		return nil
	}); err != nil || !slices.Equal(exported, []int{10, 4, 2, 7}) {
		t.Fatalf("ExportVisits = %v, %v", exported, err)
	}
	n := 0
	if err := b.dash.ExportVisits(ctx, wide, func(handoff.Visit) error { n++; return errStop }); !errors.Is(err, errStop) || n != 1 {
		t.Fatalf("stopped ExportVisits = %v after %d", err, n)
	}

	var tickets []int64
	var names []string
	if err := b.dash.ExportTickets(ctx, overviewRange, func(r dashboard.TicketRow) error {
		tickets, names = append(tickets, r.ID), append(names, r.VolunteerName)
		return nil
	}); err != nil || !slices.Equal(tickets, []int64{f.t1, f.t3, f.t5, f.t4}) || !slices.Equal(names, []string{"An", "An", "Bình", ""}) {
		t.Fatalf("ExportTickets = %v %v, %v", tickets, names, err)
	}
	tickets = nil
	q = overviewRange
	q.Scope, q.Channel = []string{"p_b"}, bot.ChannelTelegram
	if err := b.dash.ExportTickets(ctx, q, func(r dashboard.TicketRow) error {
		tickets = append(tickets, r.ID)
		return nil
	}); err != nil || !slices.Equal(tickets, []int64{f.t5}) {
		t.Fatalf("ExportTickets in p_b = %v, %v", tickets, err)
	}
	n = 0
	if err := b.dash.ExportTickets(ctx, overviewRange, func(dashboard.TicketRow) error { n++; return errStop }); !errors.Is(err, errStop) || n != 1 {
		t.Fatalf("stopped ExportTickets = %v after %d", err, n)
	}
}

func testDashCapacity(t *testing.T, b *dashBackend) {
	ctx := context.Background()
	v := approved(t, b.Desk(), "Lan", 3)
	if err := b.dash.SetCapacity(ctx, v.ID, 7, deskT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Desk().VolunteerByID(ctx, v.ID); err != nil || got.Capacity != 7 || !got.Updated.Equal(deskT0.Add(time.Hour)) {
		t.Fatalf("after SetCapacity: %+v, %v", got, err)
	}
	for _, c := range []int{0, 51} {
		if err := b.dash.SetCapacity(ctx, v.ID, c, deskT0); err == nil {
			t.Errorf("capacity %d set", c)
		}
	}
	if err := b.dash.SetCapacity(ctx, 1<<40, 5, deskT0); !errors.Is(err, dashboard.ErrNotFound) {
		t.Fatalf("capacity of an unknown volunteer: %v", err)
	}
}

// TestDashboardMigrationDown: migration 11 goes down (events recorded with
// it keep their rows) and up again, on both stores.
func TestDashboardMigrationDown(t *testing.T) {
	cases := []struct {
		name string
		open func(t *testing.T) (*sql.DB, goose.Dialect, string, recordsStore)
	}{
		{"sqlite", func(t *testing.T) (*sql.DB, goose.Dialect, string, recordsStore) {
			s := newTestSQLite(t, t.TempDir()+"/gocua.db")
			return s.w, goose.DialectSQLite3, "migrations/sqlite", s
		}},
		{"postgres", func(t *testing.T) (*sql.DB, goose.Dialect, string, recordsStore) {
			p := openTestPostgres(t, freshDatabase(t))
			return p.db, goose.DialectPostgres, "migrations/postgres", p
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, dialect, dir, st := c.open(t)
			key := bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "r"}
			if _, err := st.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "1", At: deskT0, Lang: "vi", Area: "p_a",
				Events: []flows.Event{fev(flows.EventStepEntered, "f1", "a", "v1")}}); err != nil {
				t.Fatal(err)
			}
			fsys, err := fs.Sub(migrationFiles, dir)
			if err != nil {
				t.Fatal(err)
			}
			prov, err := goose.NewProvider(dialect, db, fsys, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := prov.DownTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			if n, err := st.CountEvents(ctx, "step_entered", "f1"); err != nil || n != 1 {
				t.Fatalf("after down: %d events, %v", n, err)
			}
			if _, err := prov.Up(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "2", At: deskT0.Add(time.Minute), Lang: "vi",
				Events: []flows.Event{fev(flows.EventStepEntered, "f1", "b", "v2")}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
