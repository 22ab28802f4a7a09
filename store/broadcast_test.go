package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/flows"
)

// The broadcast ledger contract (broadcast.Store), on both durable stores.
// PostgreSQL's database is shared by the package's tests: each test makes
// residents of its own (their external ids start with the test's prefix,
// in areas and on channels named after it), scopes its audiences to them,
// and deletes what it made.
func TestBroadcastContract(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, f *bcFixture)
	}{
		{"CreateAndRead", testBroadcastCreate},
		{"CreateRejects", testBroadcastCreateRejects},
		{"SetState", testBroadcastSetState},
		{"SetProgress", testBroadcastSetProgress},
		{"AudienceTerms", testBroadcastAudienceTerms},
		{"AudienceAll", testBroadcastAudienceAll},
		{"AudienceBinds", testBroadcastAudienceBinds},
		{"AudienceErrors", testBroadcastAudienceErrors},
		{"Eligibility", testBroadcastEligibility},
		{"StartRunOnce", testBroadcastStartRunOnce},
		{"StartRunRace", testBroadcastStartRunRace},
		{"StartRunStates", testBroadcastStartRunStates},
		{"Runs", testBroadcastRuns},
		{"Claim", testBroadcastClaim},
		{"ClaimConcurrent", testBroadcastClaimConcurrent},
		{"Record", testBroadcastRecord},
		{"Rescue", testBroadcastRescue},
		{"Release", testBroadcastRelease},
		{"Recipient", testBroadcastRecipient},
		{"Expire", testBroadcastExpire},
		{"FinishRuns", testBroadcastFinishRuns},
		{"Cancel", testBroadcastCancel},
		{"Report", testBroadcastReport},
		{"Tapped", testBroadcastTapped},
		{"OddText", testBroadcastOddText},
	}
	for _, be := range recordsBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, newBCFixture(t, be.open(t))) })
			}
		})
	}
}

var bcT0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// bcFixture is one test's view of a backend.
type bcFixture struct {
	*recordsBackend
	t      *testing.T
	s      *Broadcasts
	sqlite bool
	prefix string      // of the external ids of the test's residents
	area   string      // an area code of the test's own
	ch     bot.Channel // a channel of the test's own
	n      int
}

func newBCFixture(t *testing.T, b *recordsBackend) *bcFixture {
	_, sqlite := b.recordsStore.(*SQLite)
	u := unique(t)
	f := &bcFixture{recordsBackend: b, t: t, s: b.Broadcasts(), sqlite: sqlite,
		prefix: u + "/", area: "area-" + u, ch: bot.Channel("ch-" + u)}
	t.Cleanup(func() {
		// a failed test may have left rows behind: delete them all
		f.exec(t, `DELETE FROM broadcasts WHERE created_by = $1`, f.prefix)
		f.exec(t, `DELETE FROM flow_events WHERE substr(external_id, 1, length($1)) = $1`, f.prefix)
		f.exec(t, `DELETE FROM residents WHERE substr(external_id, 1, length($1)) = $1`, f.prefix)
	})
	return f
}

// tm is a time as this dialect takes it in raw SQL.
func (f *bcFixture) tm(t time.Time) any { return dialectTime(f.sqlite, t) }

// scope is the test's own residents' area.
func (f *bcFixture) scope() broadcast.Node { return broadcast.Areas{Codes: []string{f.area}} }

func (f *bcFixture) aud(n broadcast.Node) broadcast.Audience { return broadcast.Audience{Root: n} }

// res describes a resident to create; zero fields take the defaults: the
// test's area and channel, consent yes, reachable, last seen at bcT0.
type res struct {
	name        string
	ch          bot.Channel
	lang        string
	area        string
	noArea      bool
	consent     bot.Consent
	unreachable bool
	seen        time.Time
}

// resident creates r and returns its key and id.
func (f *bcFixture) resident(r res) (bot.ConvKey, int64) {
	f.t.Helper()
	f.n++
	if r.name == "" {
		r.name = fmt.Sprint("r", f.n)
	}
	key := bot.ConvKey{Channel: cmpOr(r.ch, f.ch), ChatID: f.prefix + r.name}
	area := cmpOr(r.area, f.area)
	if r.noArea {
		area = ""
	}
	f.exec(f.t, `INSERT INTO residents (channel, external_id, name, lang, first_seen, last_seen, reachable, area, consent)
VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)`, string(key.Channel), key.ChatID, "Bác "+r.name, r.lang,
		f.tm(cmpOr(r.seen, bcT0)), !r.unreachable, area, string(cmpOr(r.consent, bot.ConsentYes)))
	id := f.count(f.t, `SELECT id FROM residents WHERE channel = $1 AND external_id = $2`, string(key.Channel), key.ChatID)
	return key, int64(id)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// residents creates n residents of the test's area and channel, consent
// yes, in one statement; their ids ascend with their number.
func (f *bcFixture) residents(n int) {
	f.t.Helper()
	seedResidents(f.t, f.s, n, f.prefix+"bulk", f.area, f.ch)
}

// seedResidents inserts n ≥ 1 residents named prefix/1…prefix/n, consent
// yes, on channel ch in area, last seen at bcT0, with one statement.
func seedResidents(tb testing.TB, s *Broadcasts, n int, prefix, area string, ch bot.Channel) {
	tb.Helper()
	cols := `INSERT INTO residents (channel, external_id, name, lang, first_seen, last_seen, reachable, area, consent) `
	q := cols + `SELECT $1, $2 || '/' || i, 'Bác ' || i, 'vi', $3::timestamptz, $3::timestamptz, true, $4, 'yes'
FROM generate_series(1, $5::int) AS g(i) ORDER BY i`
	if s.sqlite {
		q = `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $5) ` + cols + `
SELECT $1, $2 || '/' || i, 'Bác ' || i, 'vi', $3, $3, 1, $4, 'yes' FROM g`
	}
	if _, err := s.w.ExecContext(context.Background(), q, string(ch), prefix, s.at(bcT0), area, n); err != nil {
		tb.Fatal(err)
	}
}

// events records flow events of key the real way (without refreshing the
// resident's last message).
func (f *bcFixture) events(key bot.ConvKey, evs ...flows.Event) {
	f.t.Helper()
	f.n++
	_, err := f.Record(context.Background(), bot.UpdateRecord{Key: key, UpdateID: fmt.Sprint("ev", f.n),
		At: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), SkipResident: true, Events: evs})
	if err != nil {
		f.t.Fatal(err)
	}
}

func ev(kind flows.EventKind, flow, step string, at time.Time) flows.Event {
	return flows.Event{Kind: kind, Flow: flow, Step: step, At: at}
}

// ticket opens a ticket of resident (id, key) in status, closed at closed.
func (f *bcFixture) ticket(id int64, key bot.ConvKey, status string, closed time.Time) {
	f.t.Helper()
	f.n++
	var at any
	if !closed.IsZero() {
		at = f.tm(closed)
	}
	f.exec(f.t, `INSERT INTO tickets (resident_id, channel, external_id, status, source_update, created_at, updated_at, closed_at)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7)`, id, string(key.Channel), key.ChatID, status, fmt.Sprint("t", f.n), f.tm(bcT0), at)
}

// broadcast creates a one-off broadcast (cron "" when not given).
func (f *bcFixture) broadcast(b broadcast.Broadcast) broadcast.Broadcast {
	f.t.Helper()
	if b.Text == "" {
		b.Text = "Thông báo: phường làm việc thứ Bảy"
	}
	if b.Cron == "" && b.At.IsZero() {
		b.At = bcT0
	}
	b.CreatedBy = f.prefix
	if b.CreatedAt.IsZero() {
		b.CreatedAt = bcT0.Add(-time.Hour)
	}
	id, err := f.s.CreateBroadcast(context.Background(), b)
	if err != nil {
		f.t.Fatal(err)
	}
	got, err := f.s.Broadcast(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// start starts b's run at tick bcT0 for the test's residents.
func (f *bcFixture) start(b broadcast.Broadcast, rules broadcast.Rules, at time.Time) broadcast.Run {
	f.t.Helper()
	run, started, err := f.s.StartRun(context.Background(), b, f.aud(f.scope()), rules, at, at)
	if err != nil || !started {
		f.t.Fatalf("StartRun = %+v, %v, %v", run, started, err)
	}
	return run
}

// delivery is a delivery row as stored.
type delivery struct {
	state, reason, claimedBy string
	attempts                 int
	nextAt, claimedAt        time.Time
	settledAt, tappedAt      time.Time
}

func (f *bcFixture) delivery(run, resident int64) delivery {
	f.t.Helper()
	var d delivery
	var next, claimed, settled, tapped dbTime
	err := f.s.r.QueryRowContext(context.Background(), `SELECT state, reason, claimed_by, attempts, next_at, claimed_at,
       settled_at, tapped_at FROM broadcast_deliveries WHERE run_id = $1 AND resident_id = $2`, run, resident).Scan(
		&d.state, &d.reason, &d.claimedBy, &d.attempts, &next, &claimed, &settled, &tapped)
	if err != nil {
		f.t.Fatalf("delivery %d/%d: %v", run, resident, err)
	}
	d.nextAt, d.claimedAt, d.settledAt, d.tappedAt = next.t, claimed.t, settled.t, tapped.t
	return d
}

// deliveries counts run's deliveries in state.
func (f *bcFixture) deliveries(run int64, state string) int {
	f.t.Helper()
	return f.count(f.t, `SELECT count(*) FROM broadcast_deliveries WHERE run_id = $1 AND ($2 = '' OR state = $2)`, run, state)
}

func (f *bcFixture) claim(n int, at time.Time) []broadcast.Delivery {
	f.t.Helper()
	ds, err := f.s.Claim(context.Background(), f.ch, "w1", n, at)
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

func (f *bcFixture) record(outs ...broadcast.Outcome) {
	f.t.Helper()
	if err := f.s.Record(context.Background(), outs); err != nil {
		f.t.Fatal(err)
	}
}

func (f *bcFixture) report(run int64) broadcast.Report {
	f.t.Helper()
	rep, err := f.s.Report(context.Background(), run)
	if err != nil {
		f.t.Fatal(err)
	}
	if got := rep.Settled() + rep.Pending; got != rep.Run.Total {
		f.t.Errorf("report %+v adds up to %d, total %d", rep, got, rep.Run.Total)
	}
	return rep
}

func (f *bcFixture) finishMine(now time.Time, mine ...int64) []broadcast.Run {
	f.t.Helper()
	runs, err := f.s.FinishRuns(context.Background(), now)
	if err != nil {
		f.t.Fatal(err)
	}
	return slices.DeleteFunc(runs, func(r broadcast.Run) bool { return !slices.Contains(mine, r.ID) })
}

func (f *bcFixture) state(id int64) broadcast.Broadcast {
	f.t.Helper()
	b, err := f.s.Broadcast(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func testBroadcastCreate(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	in := broadcast.Broadcast{
		Text: "Lịch tiêm chủng 🗓️", Image: "telegram:AgAD123",
		Buttons:  []broadcast.Button{{Label: "Đăng ký", Flow: "vaccine", Step: "ask"}, {Label: "Xem", Flow: "info"}},
		Audience: "area:19771 and lang:vi", At: bcT0.Add(90*time.Minute + 123456789*time.Nanosecond),
		Paid: true, Expires: 1500 * time.Millisecond,
		ProgressChat: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "-100123"}, ProgressMsg: "77",
		CreatedAt: bcT0, UpdatedAt: bcT0.Add(time.Second),
	}
	one := f.broadcast(in)
	if one.ID == 0 || one.Text != in.Text || one.Image != in.Image || !reflect.DeepEqual(one.Buttons, in.Buttons) ||
		one.Audience != in.Audience || !one.At.Equal(in.At.Truncate(time.Microsecond)) || one.Cron != "" ||
		one.State != broadcast.Active || one.Missed || !one.Paid || one.Expires != 2*time.Second ||
		one.CreatedBy != f.prefix || one.ProgressChat != in.ProgressChat || one.ProgressMsg != "77" ||
		!one.CreatedAt.Equal(bcT0) || !one.UpdatedAt.Equal(bcT0.Add(time.Second)) || one.Recurring() {
		t.Fatalf("one-off = %+v", one)
	}
	rec := f.broadcast(broadcast.Broadcast{Cron: "0 8 * * 1", Audience: "all", State: broadcast.Done, Missed: true,
		CreatedAt: bcT0.Add(time.Minute)})
	if !rec.At.IsZero() || rec.Cron != "0 8 * * 1" || rec.State != broadcast.Active || rec.Missed || rec.Buttons != nil ||
		!rec.Recurring() || rec.Expires != 0 || !rec.UpdatedAt.Equal(rec.CreatedAt) {
		t.Fatalf("recurring = %+v", rec)
	}
	third := f.broadcast(broadcast.Broadcast{Audience: "all"})

	list, err := f.s.Broadcasts(ctx, 2)
	if err != nil || len(list) != 2 || list[0].ID != third.ID || list[1].ID != rec.ID {
		t.Fatalf("Broadcasts(2) = %+v, %v; want the newest two, newest first", list, err)
	}
	if list, err := f.s.Broadcasts(ctx, 0); err != nil || len(list) != 0 {
		t.Errorf("Broadcasts(0) = %v, %v", list, err)
	}
	if err := f.s.SetState(ctx, rec.ID, []broadcast.State{broadcast.Active}, broadcast.Paused, false, bcT0); err != nil {
		t.Fatal(err)
	}
	sched, err := f.s.Scheduled(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, b := range sched {
		if b.CreatedBy == f.prefix {
			ids = append(ids, b.ID)
		}
		if b.State != broadcast.Active {
			t.Errorf("Scheduled lists %d in state %s", b.ID, b.State)
		}
	}
	if !slices.Equal(ids, []int64{one.ID, third.ID}) {
		t.Errorf("Scheduled = %v, want the active ones oldest first %v", ids, []int64{one.ID, third.ID})
	}
	if _, err := f.s.Broadcast(ctx, 1<<40); !errors.Is(err, broadcast.ErrNotFound) {
		t.Errorf("unknown broadcast: %v, want ErrNotFound", err)
	}
}

func testBroadcastCreateRejects(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	ok := broadcast.Broadcast{Text: "x", At: bcT0, Audience: "all", CreatedBy: f.prefix}
	bad := map[string]func(b *broadcast.Broadcast){
		"empty text":        func(b *broadcast.Broadcast) { b.Text = "" },
		"only NULs":         func(b *broadcast.Broadcast) { b.Text = "\x00\x00" },
		"blank text":        func(b *broadcast.Broadcast) { b.Text = " \n\t" },
		"negative expiry":   func(b *broadcast.Broadcast) { b.Expires = -time.Second },
		"both at and cron":  func(b *broadcast.Broadcast) { b.Cron = "* * * * *" },
		"neither":           func(b *broadcast.Broadcast) { b.At = time.Time{} },
		"cron of blanks":    func(b *broadcast.Broadcast) { b.At, b.Cron = time.Time{}, "  " },
		"expiry too long":   func(b *broadcast.Broadcast) { b.Expires = 1 << 62 },
		"cancelled context": nil,
	}
	for name, mod := range bad {
		b := ok
		c := ctx
		if mod != nil {
			mod(&b)
		} else {
			cc, cancel := context.WithCancel(ctx)
			cancel()
			c = cc
		}
		if id, err := f.s.CreateBroadcast(c, b); err == nil || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: id %d, err %v; want a store: error", name, id, err)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM broadcasts WHERE created_by = $1`, f.prefix); n != 0 {
		t.Errorf("%d broadcasts stored by rejected calls", n)
	}
	if _, err := f.s.CreateBroadcast(ctx, ok); err != nil {
		t.Errorf("valid broadcast: %v", err)
	}
}

func testBroadcastSetState(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	b := f.broadcast(broadcast.Broadcast{Audience: "all"})
	act, pau := broadcast.Active, broadcast.Paused
	steps := []struct {
		from    []broadcast.State
		to      broadcast.State
		missed  bool
		wantErr error
		want    broadcast.State
	}{
		{[]broadcast.State{pau}, act, false, broadcast.ErrState, act}, // not paused
		{[]broadcast.State{act}, pau, false, nil, pau},
		{[]broadcast.State{act}, pau, false, broadcast.ErrState, pau},
		{[]broadcast.State{pau, act}, act, false, nil, act},
		{[]broadcast.State{act, pau}, broadcast.Done, true, nil, broadcast.Done},
		{[]broadcast.State{act, pau}, act, false, broadcast.ErrState, broadcast.Done}, // resuming a finished one
	}
	for i, s := range steps {
		at := bcT0.Add(time.Duration(i+1) * time.Minute)
		err := f.s.SetState(ctx, b.ID, s.from, s.to, s.missed, at)
		if !errors.Is(err, s.wantErr) || (err == nil) != (s.wantErr == nil) {
			t.Fatalf("step %d: %v → %s: err %v, want %v", i, s.from, s.to, err, s.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("step %d: error %q does not start with store:", i, err)
		}
		got := f.state(b.ID)
		if got.State != s.want {
			t.Fatalf("step %d: state %s, want %s", i, got.State, s.want)
		}
		if err == nil && !got.UpdatedAt.Equal(at) {
			t.Errorf("step %d: updated %v, want %v", i, got.UpdatedAt, at)
		}
	}
	if got := f.state(b.ID); !got.Missed {
		t.Error("missed not recorded")
	}
	if err := f.s.SetState(ctx, 1<<40, []broadcast.State{act}, pau, false, bcT0); !errors.Is(err, broadcast.ErrNotFound) {
		t.Errorf("unknown broadcast: %v, want ErrNotFound", err)
	}
	if err := f.s.SetState(ctx, b.ID, nil, pau, false, bcT0); err == nil {
		t.Error("no from states: no error")
	}
	if err := f.s.SetState(ctx, b.ID, []broadcast.State{broadcast.Done}, "gone", false, bcT0); err == nil {
		t.Error("unknown state: no error")
	}
	// missed is never unmarked
	if err := f.s.SetState(ctx, b.ID, []broadcast.State{broadcast.Done}, broadcast.Cancelled, false, bcT0); err != nil {
		t.Fatal(err)
	}
	if got := f.state(b.ID); !got.Missed || got.State != broadcast.Cancelled {
		t.Errorf("after cancel: %+v", got)
	}
}

func testBroadcastSetProgress(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	b := f.broadcast(broadcast.Broadcast{Audience: "all"})
	chat := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "4242"}
	if err := f.s.SetProgress(ctx, b.ID, chat, "m-1"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetProgress(ctx, b.ID, chat, "m-2\x00"); err != nil {
		t.Fatal(err)
	}
	if got := f.state(b.ID); got.ProgressChat != chat || got.ProgressMsg != "m-2" {
		t.Errorf("progress = %v %q", got.ProgressChat, got.ProgressMsg)
	}
	if err := f.s.SetProgress(ctx, 1<<40, chat, "m"); !errors.Is(err, broadcast.ErrNotFound) {
		t.Errorf("unknown broadcast: %v, want ErrNotFound", err)
	}
}

// matched returns the names of the residents aud matches, sorted, read
// with the compiled SQL; CountAudience must agree on how many.
func (f *bcFixture) matched(aud broadcast.Audience, rules broadcast.Rules, now time.Time) []string {
	f.t.Helper()
	q := &sqlArgs{sqlite: f.sqlite}
	where, err := compileAudience(q, aud, rules, now)
	if err != nil {
		f.t.Fatal(err)
	}
	rows, err := f.s.r.QueryContext(context.Background(), `SELECT r.external_id FROM residents r WHERE `+where, q.args...)
	if err != nil {
		f.t.Fatalf("%s: %v", where, err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var ext string
		if err := rows.Scan(&ext); err != nil {
			f.t.Fatal(err)
		}
		name, ok := strings.CutPrefix(ext, f.prefix)
		if !ok {
			f.t.Fatalf("matched %q, not one of the test's residents", ext)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	slices.Sort(names)
	c, err := f.s.CountAudience(context.Background(), aud, rules, now)
	if err != nil {
		f.t.Fatal(err)
	}
	if c.Matched != len(names) {
		f.t.Errorf("CountAudience matched %d, the query %d", c.Matched, len(names))
	}
	return names
}

func testBroadcastAudienceTerms(t *testing.T, f *bcFixture) {
	now := bcT0
	d := func(n int) time.Time { return now.Add(-time.Duration(n) * day) }
	// flows named in Vietnamese, one with a quote: bound, never spliced
	fl := "hướng_dẫn_" + f.prefix
	gl := "cài đặt 'app' " + f.prefix
	areaB := "b-" + f.area
	quoted := f.area + "'; DROP TABLE residents; --"

	k1, id1 := f.resident(res{name: "r1", lang: "vi", ch: bot.ChannelTelegram, seen: d(1)})
	f.events(k1, ev(flows.EventFlowStarted, fl, "s1", d(10)), ev(flows.EventStepEntered, fl, "s1", d(10)))
	f.ticket(id1, k1, TicketResolved, d(2))

	k2, id2 := f.resident(res{name: "r2", lang: "en", area: areaB, ch: bot.ChannelZaloBot, seen: d(40)})
	f.events(k2, ev(flows.EventStepEntered, fl, "s1", d(10)))
	f.events(k2, ev(flows.EventStepEntered, fl, "s2", now.Add(-30*time.Hour)))
	f.ticket(id2, k2, TicketResolved, d(10))

	// completed in the update that entered the last step: same time
	k3, id3 := f.resident(res{name: "r3", ch: bot.ChannelZaloOA, seen: d(5)})
	f.events(k3, ev(flows.EventFlowStarted, fl, "s1", d(10)), ev(flows.EventStepEntered, fl, "done", d(10)),
		ev(flows.EventFlowCompleted, fl, "done", d(10)))
	f.ticket(id3, k3, TicketAssigned, time.Time{})

	// moved on to another flow
	k4, _ := f.resident(res{name: "r4", lang: "vi", noArea: true, ch: bot.ChannelWeb, seen: d(100)})
	f.events(k4, ev(flows.EventFlowStarted, fl, "s1", d(20)), ev(flows.EventStepEntered, fl, "s1", d(20)))
	f.events(k4, ev(flows.EventFlowAbandoned, fl, "s1", d(5)), ev(flows.EventFlowStarted, gl, "x", d(5)),
		ev(flows.EventStepEntered, gl, "x", d(5)))

	f.resident(res{name: "r5", lang: "en", area: quoted, ch: bot.ChannelTelegram, seen: now})

	// someone else's resident, in none of the test's areas: never matched
	f.resident(res{name: "other", area: "other-" + f.area})

	// scope: the test's residents (r4 has no area but started fl)
	scope := broadcast.Or{Nodes: []broadcast.Node{broadcast.Areas{Codes: []string{f.area, areaB, quoted}},
		broadcast.Started{Flow: fl}}}
	in := func(n broadcast.Node) broadcast.Audience {
		return broadcast.Audience{Root: broadcast.And{Nodes: []broadcast.Node{scope, n}}}
	}
	vi := broadcast.Rules{DefaultLang: "vi"}
	en := broadcast.Rules{DefaultLang: "en"}
	cases := []struct {
		name  string
		node  broadcast.Node
		rules broadcast.Rules
		want  []string
	}{
		{"all", broadcast.All{}, vi, []string{"r1", "r2", "r3", "r4", "r5"}},
		{"area", broadcast.Areas{Codes: []string{f.area}}, vi, []string{"r1", "r3"}},
		{"area with a quote", broadcast.Areas{Codes: []string{f.area, quoted}}, vi, []string{"r1", "r3", "r5"}},
		{"area none", broadcast.Areas{Codes: []string{"none"}}, vi, []string{"r4"}},
		{"area and none", broadcast.Areas{Codes: []string{areaB, "none"}}, vi, []string{"r2", "r4"}},
		{"no areas", broadcast.Areas{}, vi, []string{}},
		{"lang default", broadcast.Langs{Langs: []string{"vi"}}, vi, []string{"r1", "r3", "r4"}},
		{"lang not default", broadcast.Langs{Langs: []string{"en"}}, vi, []string{"r2", "r5"}},
		{"lang other default", broadcast.Langs{Langs: []string{"vi"}}, en, []string{"r1", "r4"}},
		{"lang other default en", broadcast.Langs{Langs: []string{"en"}}, en, []string{"r2", "r3", "r5"}},
		{"lang no default", broadcast.Langs{Langs: []string{"vi"}}, broadcast.Rules{}, []string{"r1", "r4"}},
		{"channel", broadcast.Channels{Channels: []bot.Channel{bot.ChannelTelegram}}, vi, []string{"r1", "r5"}},
		{"channels", broadcast.Channels{Channels: []bot.Channel{bot.ChannelZaloOA, bot.ChannelWeb}}, vi, []string{"r3", "r4"}},
		{"started", broadcast.Started{Flow: fl}, vi, []string{"r1", "r3", "r4"}},
		{"started other", broadcast.Started{Flow: gl}, vi, []string{"r4"}},
		{"started unknown", broadcast.Started{Flow: "không_có"}, vi, []string{}},
		{"completed", broadcast.Completed{Flow: fl}, vi, []string{"r3"}},
		{"completed other", broadcast.Completed{Flow: gl}, vi, []string{}},
		{"stuck 3d", broadcast.Stuck{Flow: fl, Days: 3}, vi, []string{"r1"}},
		{"stuck 1d", broadcast.Stuck{Flow: fl, Days: 1}, vi, []string{"r1", "r2"}},
		{"stuck at step", broadcast.Stuck{Flow: fl, Step: "s2", Days: 1}, vi, []string{"r2"}},
		{"stuck at first step", broadcast.Stuck{Flow: fl, Step: "s1", Days: 1}, vi, []string{"r1"}},
		{"stuck too long", broadcast.Stuck{Flow: fl, Days: 11}, vi, []string{}},
		{"stuck other flow", broadcast.Stuck{Flow: gl, Days: 3}, vi, []string{"r4"}},
		{"stuck other flow long", broadcast.Stuck{Flow: gl, Days: 7}, vi, []string{}},
		{"resolved 7d", broadcast.Resolved{Days: 7}, vi, []string{"r1"}},
		{"resolved 30d", broadcast.Resolved{Days: 30}, vi, []string{"r1", "r2"}},
		{"seen within", broadcast.Seen{Within: true, Days: 7}, vi, []string{"r1", "r3", "r5"}},
		{"seen before", broadcast.Seen{Days: 30}, vi, []string{"r2", "r4"}},
		{"not", broadcast.Not{Node: broadcast.Areas{Codes: []string{f.area}}}, vi, []string{"r2", "r4", "r5"}},
		{"and", broadcast.And{Nodes: []broadcast.Node{broadcast.Langs{Langs: []string{"en"}},
			broadcast.Channels{Channels: []bot.Channel{bot.ChannelTelegram}}}}, vi, []string{"r5"}},
		{"or", broadcast.Or{Nodes: []broadcast.Node{broadcast.Completed{Flow: fl}, broadcast.Resolved{Days: 7}}}, vi,
			[]string{"r1", "r3"}},
		{"not or", broadcast.Not{Node: broadcast.Or{Nodes: []broadcast.Node{broadcast.Started{Flow: fl},
			broadcast.Seen{Within: true, Days: 7}}}}, vi, []string{"r2"}},
		{"empty and", broadcast.And{}, vi, []string{"r1", "r2", "r3", "r4", "r5"}},
		{"empty or", broadcast.Or{}, vi, []string{}},
	}
	for _, c := range cases {
		if got := f.matched(in(c.node), c.rules, now); !slices.Equal(got, c.want) {
			t.Errorf("%s: matched %v, want %v", c.name, got, c.want)
		}
	}
	// a parsed expression compiles the same way
	a, err := broadcast.Parse("channel:web hoặc channel:telegram và không seen>30d")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.matched(broadcast.Audience{Root: broadcast.And{Nodes: []broadcast.Node{scope, a.Root}}}, vi, now); !slices.Equal(got, []string{"r1", "r4", "r5"}) {
		t.Errorf("parsed %q: matched %v", a, got)
	}
	// the SQL is the same for every value: none is spliced into it
	q1, q2 := &sqlArgs{sqlite: f.sqlite}, &sqlArgs{sqlite: f.sqlite}
	s1, _ := compileAudience(q1, in(broadcast.Areas{Codes: []string{quoted}}), vi, now)
	s2, _ := compileAudience(q2, in(broadcast.Areas{Codes: []string{"x"}}), vi, now)
	if s1 != s2 || strings.Contains(s1, "DROP") || strings.Contains(s1, fl) {
		t.Errorf("values spliced into the SQL: %s", s1)
	}
}

func testBroadcastAudienceAll(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	f.resident(res{})
	f.resident(res{consent: bot.ConsentNo})
	c, err := f.s.CountAudience(ctx, f.aud(broadcast.All{}), broadcast.Rules{}, bcT0)
	if err != nil {
		t.Fatal(err)
	}
	all := f.count(t, `SELECT count(*) FROM residents`)
	yes := f.count(t, `SELECT count(*) FROM residents WHERE consent = 'yes' AND reachable`)
	if c.Matched != all || c.Recipients != yes || c.Matched != c.Recipients+c.NoConsent+c.Unreachable+c.Window {
		t.Errorf("all = %+v; %d residents, %d of them consenting and reachable", c, all, yes)
	}
}

// testBroadcastAudienceBinds: values with quotes, Vietnamese, NULs and
// emoji reach the database as values.
func testBroadcastAudienceBinds(t *testing.T, f *bcFixture) {
	odd := []string{
		f.area + `'`, f.area + `''; DELETE FROM residents; --`, f.area + `"\`, f.area + " Phường Bến Thành 🏙️",
		f.area + "$1", f.area + "?", f.area + "%_",
	}
	for i, a := range odd {
		f.resident(res{name: fmt.Sprint("odd", i), area: a, lang: "l'" + a})
	}
	for i, a := range odd {
		want := []string{fmt.Sprint("odd", i)}
		if got := f.matched(f.aud(broadcast.Areas{Codes: []string{a}}), broadcast.Rules{}, bcT0); !slices.Equal(got, want) {
			t.Errorf("area %q: matched %v, want %v", a, got, want)
		}
		if got := f.matched(f.aud(broadcast.Langs{Langs: []string{"l'" + a}}), broadcast.Rules{}, bcT0); !slices.Equal(got, want) {
			t.Errorf("lang %q: matched %v, want %v", "l'"+a, got, want)
		}
	}
	// a NUL is dropped (as when it is stored), invalid UTF-8 replaced
	f.resident(res{name: "nul", area: f.area + "\uFFFDx"})
	if got := f.matched(f.aud(broadcast.Areas{Codes: []string{f.area + "\xffx\x00"}}), broadcast.Rules{}, bcT0); !slices.Equal(got, []string{"nul"}) {
		t.Errorf("area with invalid UTF-8: matched %v", got)
	}
	if n := f.count(t, `SELECT count(*) FROM residents WHERE substr(external_id, 1, length($1)) = $1`, f.prefix); n != len(odd)+1 {
		t.Errorf("%d residents left, want %d", n, len(odd)+1)
	}
}

func testBroadcastAudienceErrors(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	b := f.broadcast(broadcast.Broadcast{Audience: "all"})
	deep := broadcast.Node(broadcast.All{})
	for range maxAudienceDepth + 5 {
		deep = broadcast.Not{Node: deep}
	}
	type bogus struct{ broadcast.All }
	for name, aud := range map[string]broadcast.Audience{
		"zero":        {},
		"nil in and":  {Root: broadcast.And{Nodes: []broadcast.Node{broadcast.All{}, nil}}},
		"empty not":   {Root: broadcast.Not{}},
		"unknown":     {Root: bogus{}},
		"deep":        {Root: deep},
		"minus days":  {Root: broadcast.Seen{Days: -1}},
		"minus stuck": {Root: broadcast.Stuck{Flow: "f", Days: -3}},
	} {
		if _, err := f.s.CountAudience(ctx, aud, broadcast.Rules{}, bcT0); err == nil || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: CountAudience err = %v", name, err)
		}
		if _, _, err := f.s.StartRun(ctx, b, aud, broadcast.Rules{}, bcT0, bcT0); err == nil {
			t.Errorf("%s: StartRun succeeded", name)
		}
	}
	if _, err := f.s.LastRun(ctx, b.ID); !errors.Is(err, broadcast.ErrNotFound) {
		t.Errorf("a failed StartRun left a run: %v", err)
	}
}

func testBroadcastEligibility(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	type want struct {
		state  broadcast.DeliveryState
		reason string
	}
	people := []struct {
		r res
		w want
	}{
		{res{name: "yes"}, want{broadcast.Pending, ""}},
		{res{name: "unasked", consent: bot.ConsentUnasked}, want{broadcast.Skipped, broadcast.ReasonNoConsent}},
		{res{name: "no-blocked", consent: bot.ConsentNo, unreachable: true}, want{broadcast.Skipped, broadcast.ReasonNoConsent}},
		{res{name: "blocked"}, want{broadcast.Skipped, broadcast.ReasonUnreachable}},
		{res{name: "oa-old", ch: bot.ChannelZaloOA, seen: now.Add(-8 * day)}, want{broadcast.Skipped, broadcast.ReasonWindow}},
		{res{name: "oa-recent", ch: bot.ChannelZaloOA, seen: now.Add(-6 * day)}, want{broadcast.Pending, ""}},
		{res{name: "oa-blocked", ch: bot.ChannelZaloOA, unreachable: true, seen: now.Add(-8 * day)},
			want{broadcast.Skipped, broadcast.ReasonUnreachable}},
		{res{name: "tg-old", ch: bot.ChannelTelegram, seen: now.Add(-100 * day)}, want{broadcast.Pending, ""}},
	}
	people[3].r.unreachable = true
	ids := make([]int64, len(people))
	for i, p := range people {
		_, ids[i] = f.resident(p.r)
	}
	rules := broadcast.Rules{DefaultLang: "vi", Windows: map[bot.Channel]time.Duration{bot.ChannelZaloOA: 7 * day}}
	c, err := f.s.CountAudience(ctx, f.aud(f.scope()), rules, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (broadcast.Count{Matched: 8, Recipients: 3, NoConsent: 2, Unreachable: 2, Window: 1}); c != want {
		t.Errorf("count = %+v, want %+v", c, want)
	}
	// without the window everyone reachable who said yes may receive it
	if c, _ := f.s.CountAudience(ctx, f.aud(f.scope()), broadcast.Rules{}, now); c.Recipients != 4 || c.Window != 0 {
		t.Errorf("count without windows = %+v", c)
	}

	b := f.broadcast(broadcast.Broadcast{Audience: f.area})
	run := f.start(b, rules, now)
	if run.Total != 8 || run.State != broadcast.RunSending || !run.StartedAt.Equal(now) || !run.Tick.Equal(now) ||
		run.Broadcast != b.ID || !run.FinishedAt.IsZero() {
		t.Fatalf("run = %+v", run)
	}
	for i, p := range people {
		d := f.delivery(run.ID, ids[i])
		if d.state != string(p.w.state) || d.reason != p.w.reason || !d.nextAt.Equal(now) || d.attempts != 0 {
			t.Errorf("%s: %+v, want %+v", p.r.name, d, p.w)
		}
		if settled := !d.settledAt.IsZero(); settled != (p.w.state == broadcast.Skipped) || settled && !d.settledAt.Equal(now) {
			t.Errorf("%s: settled at %v", p.r.name, d.settledAt)
		}
	}
	rep := f.report(run.ID)
	wantSkipped := map[string]int{broadcast.ReasonNoConsent: 2, broadcast.ReasonUnreachable: 2, broadcast.ReasonWindow: 1}
	if rep.Pending != 3 || !maps.Equal(rep.Skipped, wantSkipped) || rep.Delivered+rep.Blocked+rep.Failed+rep.Tapped != 0 {
		t.Errorf("report = %+v", rep)
	}
}

func testBroadcastStartRunOnce(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	f.residents(5)
	b := f.broadcast(broadcast.Broadcast{Cron: "*/5 * * * *"})
	tick := bcT0.Add(123456789 * time.Nanosecond)
	first, started, err := f.s.StartRun(ctx, b, f.aud(f.scope()), broadcast.Rules{}, tick, bcT0.Add(time.Second))
	if err != nil || !started || first.Total != 5 || !first.Tick.Equal(tick.Truncate(time.Microsecond)) {
		t.Fatalf("first = %+v, %v, %v", first, started, err)
	}
	f.resident(res{name: "late"}) // joins after the run started: not in it
	again, started, err := f.s.StartRun(ctx, b, f.aud(f.scope()), broadcast.Rules{}, tick, bcT0.Add(time.Minute))
	if err != nil || started || again != first {
		t.Fatalf("again = %+v, %v, %v; want %+v, not started", again, started, err, first)
	}
	if n := f.deliveries(first.ID, ""); n != 5 {
		t.Errorf("%d deliveries, want 5", n)
	}
	// a delivery keeps the area its resident had when the run started
	f.exec(t, `UPDATE residents SET area = 'moved' WHERE area = $1`, f.area)
	if n := f.count(t, `SELECT count(*) FROM broadcast_deliveries WHERE run_id = $1 AND area = $2`, first.ID, f.area); n != 5 {
		t.Errorf("%d deliveries of area %s, want 5", n, f.area)
	}
	f.exec(t, `UPDATE residents SET area = $1 WHERE area = 'moved'`, f.area)
	next, started, err := f.s.StartRun(ctx, b, f.aud(f.scope()), broadcast.Rules{}, tick.Add(5*time.Minute), bcT0.Add(5*time.Minute))
	if err != nil || !started || next.ID == first.ID || next.Total != 6 {
		t.Fatalf("next tick = %+v, %v, %v", next, started, err)
	}
	if n := f.count(t, `SELECT count(*) FROM broadcast_runs WHERE broadcast_id = $1`, b.ID); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
}

func testBroadcastStartRunRace(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	f.residents(300)
	b := f.broadcast(broadcast.Broadcast{})
	const callers = 4
	runs := make([]broadcast.Run, callers)
	started := make([]bool, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-begin
			runs[i], started[i], errs[i] = f.s.StartRun(ctx, b, f.aud(f.scope()), broadcast.Rules{}, bcT0, bcT0)
		})
	}
	close(begin)
	wg.Wait()
	n := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if started[i] {
			n++
		}
		if runs[i] != runs[0] {
			t.Errorf("caller %d got run %+v, caller 0 %+v", i, runs[i], runs[0])
		}
	}
	if n != 1 {
		t.Errorf("%d callers started the run, want 1", n)
	}
	if got := f.deliveries(runs[0].ID, ""); got != 300 || runs[0].Total != 300 {
		t.Errorf("%d deliveries, total %d; want 300", got, runs[0].Total)
	}
}

func testBroadcastStartRunStates(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	f.residents(2)
	paused := f.broadcast(broadcast.Broadcast{})
	if err := f.s.SetState(ctx, paused.ID, []broadcast.State{broadcast.Active}, broadcast.Paused, false, bcT0); err != nil {
		t.Fatal(err)
	}
	run := f.start(paused, broadcast.Rules{}, bcT0) // its deliveries wait for the resume
	if ds := f.claim(10, bcT0.Add(time.Hour)); len(ds) != 0 {
		t.Errorf("claimed %d deliveries of a paused broadcast", len(ds))
	}
	if err := f.s.SetState(ctx, paused.ID, []broadcast.State{broadcast.Paused}, broadcast.Done, false, bcT0); err != nil {
		t.Fatal(err)
	}
	// done: the existing run is still returned; no new one starts
	again, started, err := f.s.StartRun(ctx, paused, f.aud(f.scope()), broadcast.Rules{}, bcT0, bcT0)
	if err != nil || started || again.ID != run.ID {
		t.Errorf("existing run of a done broadcast: %+v, %v, %v", again, started, err)
	}
	if _, _, err := f.s.StartRun(ctx, paused, f.aud(f.scope()), broadcast.Rules{}, bcT0.Add(time.Hour), bcT0); !errors.Is(err, broadcast.ErrState) {
		t.Errorf("new run of a done broadcast: %v, want ErrState", err)
	}
	cancelled := f.broadcast(broadcast.Broadcast{})
	if err := f.s.SetState(ctx, cancelled.ID, []broadcast.State{broadcast.Active}, broadcast.Cancelled, false, bcT0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.StartRun(ctx, cancelled, f.aud(f.scope()), broadcast.Rules{}, bcT0, bcT0); !errors.Is(err, broadcast.ErrState) {
		t.Errorf("run of a cancelled broadcast: %v, want ErrState", err)
	}
	if _, _, err := f.s.StartRun(ctx, broadcast.Broadcast{ID: 1 << 40}, f.aud(f.scope()), broadcast.Rules{}, bcT0, bcT0); !errors.Is(err, broadcast.ErrNotFound) {
		t.Errorf("run of an unknown broadcast: %v, want ErrNotFound", err)
	}
}

func testBroadcastRuns(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	b := f.broadcast(broadcast.Broadcast{Cron: "0 8 * * *"})
	if _, err := f.s.LastRun(ctx, b.ID); !errors.Is(err, broadcast.ErrNotFound) {
		t.Fatalf("LastRun without runs: %v, want ErrNotFound", err)
	}
	// ticks started out of order: the latest tick is the last run
	ticks := []time.Time{bcT0.Add(day), bcT0, bcT0.Add(2 * day), bcT0.Add(-day)}
	ids := map[time.Time]int64{}
	for _, tick := range ticks {
		ids[tick] = f.start(b, broadcast.Rules{}, tick).ID
	}
	last, err := f.s.LastRun(ctx, b.ID)
	if err != nil || last.ID != ids[bcT0.Add(2*day)] || last.Total != 0 {
		t.Errorf("LastRun = %+v, %v", last, err)
	}
	runs, err := f.s.Runs(ctx, b.ID, 3)
	if err != nil || len(runs) != 3 {
		t.Fatalf("Runs = %+v, %v", runs, err)
	}
	for i, tick := range []time.Time{bcT0.Add(2 * day), bcT0.Add(day), bcT0} {
		if runs[i].ID != ids[tick] || !runs[i].Tick.Equal(tick) {
			t.Errorf("Runs[%d] = %+v, want tick %v", i, runs[i], tick)
		}
	}
	if runs, err := f.s.Runs(ctx, b.ID, 0); err != nil || len(runs) != 0 {
		t.Errorf("Runs(0) = %v, %v", runs, err)
	}
	if runs, err := f.s.Runs(ctx, 1<<40, 10); err != nil || len(runs) != 0 {
		t.Errorf("Runs of an unknown broadcast = %v, %v", runs, err)
	}
}

func testBroadcastClaim(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	var keys []bot.ConvKey
	var ids []int64
	for i := range 5 {
		k, id := f.resident(res{name: fmt.Sprint("c", i), lang: []string{"vi", "en"}[i%2], seen: now.Add(-time.Hour)})
		keys, ids = append(keys, k), append(ids, id)
	}
	f.resident(res{name: "elsewhere", ch: bot.ChannelZaloOA}) // another channel
	f.resident(res{name: "unasked", consent: bot.ConsentUnasked})
	b := f.broadcast(broadcast.Broadcast{})
	run := f.start(b, broadcast.Rules{}, now)

	if ds := f.claim(10, now.Add(-time.Second)); len(ds) != 0 {
		t.Fatalf("claimed %d deliveries before they were due", len(ds))
	}
	if ds, err := f.s.Claim(ctx, f.ch, "w", 0, now); err != nil || len(ds) != 0 {
		t.Errorf("Claim(0) = %v, %v", ds, err)
	}
	// the resident's current consent comes with the claim
	if err := f.SetConsent(ctx, keys[1], bot.ConsentNo, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := f.claim(2, now.Add(time.Minute))
	want := []broadcast.Delivery{
		{Run: run.ID, Broadcast: b.ID, Resident: ids[0], Key: keys[0], Lang: "vi", Attempts: 1,
			Consent: bot.ConsentYes, Reachable: true, LastSeen: now.Add(-time.Hour)},
		{Run: run.ID, Broadcast: b.ID, Resident: ids[1], Key: keys[1], Lang: "en", Attempts: 1,
			Consent: bot.ConsentNo, Reachable: true, LastSeen: now.Add(-time.Hour)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claim = %+v\nwant %+v", got, want)
	}
	d := f.delivery(run.ID, ids[0])
	if d.state != "sending" || d.claimedBy != "w1" || !d.claimedAt.Equal(now.Add(time.Minute)) || d.attempts != 1 {
		t.Errorf("claimed row = %+v", d)
	}
	// a second broadcast: its run comes after the first's
	b2 := f.broadcast(broadcast.Broadcast{})
	run2 := f.start(b2, broadcast.Rules{}, now)
	got = f.claim(4, now.Add(time.Minute))
	if len(got) != 4 || got[0].Resident != ids[2] || got[2].Resident != ids[4] || got[3].Run != run2.ID || got[3].Resident != ids[0] {
		t.Fatalf("claim across runs = %+v", got)
	}
	// paused: nothing of it is claimed until it is resumed
	if err := f.s.SetState(ctx, b2.ID, []broadcast.State{broadcast.Active}, broadcast.Paused, false, now); err != nil {
		t.Fatal(err)
	}
	if got := f.claim(10, now.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("claimed %d of a paused broadcast", len(got))
	}
	if err := f.s.SetState(ctx, b2.ID, []broadcast.State{broadcast.Paused}, broadcast.Active, false, now); err != nil {
		t.Fatal(err)
	}
	// c1 said no before run2 started: skipped in it
	if got := f.claim(10, now.Add(time.Minute)); len(got) != 3 {
		t.Fatalf("claimed %d after the resume, want 3", len(got))
	}
	if got := f.claim(10, now.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("claimed %d more, want none", len(got))
	}
	// the other channel's is its own
	oa, err := f.s.Claim(ctx, bot.ChannelZaloOA, "w2", 100, now)
	if err != nil {
		t.Fatal(err)
	}
	mine := 0
	for _, d := range oa {
		if d.Run == run.ID || d.Run == run2.ID {
			mine++
		}
	}
	if mine != 2 {
		t.Errorf("claimed %d zalo-oa deliveries of the test's runs, want 2", mine)
	}
}

func testBroadcastClaimConcurrent(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	const total, workers = 2000, 8
	f.residents(total)
	run := f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, bcT0)
	if run.Total != total {
		t.Fatalf("run total %d", run.Total)
	}
	claimed := make([][]broadcast.Delivery, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				ds, err := f.s.Claim(ctx, f.ch, fmt.Sprint("w", w), 16, bcT0)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				claimed[w] = append(claimed[w], ds...)
			}
		})
	}
	wg.Wait()
	seen := map[int64]int{}
	for w, ds := range claimed {
		for _, d := range ds {
			if seen[d.Resident]++; seen[d.Resident] > 1 {
				t.Errorf("resident %d claimed twice (worker %d)", d.Resident, w)
			}
			if d.Attempts != 1 || d.Run != run.ID {
				t.Errorf("claimed %+v", d)
			}
		}
	}
	if len(seen) != total {
		t.Errorf("%d deliveries claimed, want %d", len(seen), total)
	}
	if n := f.deliveries(run.ID, "sending"); n != total {
		t.Errorf("%d rows sending, want %d", n, total)
	}
	for w := range workers {
		n := f.count(t, `SELECT count(*) FROM broadcast_deliveries WHERE run_id = $1 AND claimed_by = $2`, run.ID, fmt.Sprint("w", w))
		if n != len(claimed[w]) {
			t.Errorf("worker %d: %d rows claimed by it, it got %d", w, n, len(claimed[w]))
		}
	}
}

func testBroadcastRecord(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	f.residents(7)
	b := f.broadcast(broadcast.Broadcast{})
	run := f.start(b, broadcast.Rules{}, now)
	ds := f.claim(6, now)
	if len(ds) != 6 {
		t.Fatalf("claimed %d", len(ds))
	}
	at := now.Add(time.Second)
	retry := now.Add(time.Minute)
	out := func(i int, st broadcast.DeliveryState, reason string) broadcast.Outcome {
		return broadcast.Outcome{Run: run.ID, Resident: ds[i].Resident, State: st, Reason: reason, At: at, Retry: retry}
	}
	// an invalid outcome in a batch: nothing is stored
	if err := f.s.Record(ctx, []broadcast.Outcome{out(0, broadcast.Delivered, ""), out(1, broadcast.Sending, "")}); err == nil {
		t.Fatal("recording Sending succeeded")
	}
	if n := f.deliveries(run.ID, "sending"); n != 6 {
		t.Fatalf("a rejected batch changed rows: %d sending", n)
	}
	f.record(out(0, broadcast.Delivered, ""), out(1, broadcast.Blocked, "Forbidden: bot was blocked"),
		out(2, broadcast.Failed, "400 Bad Request: chat not found 'x'"), out(3, broadcast.Skipped, broadcast.ReasonNoConsent),
		out(4, broadcast.Pending, "429 Too Many Requests"),
		// outcomes for the unclaimed row and an unknown one change nothing
		broadcast.Outcome{Run: run.ID, Resident: ds[5].Resident + 1, State: broadcast.Delivered, At: at},
		broadcast.Outcome{Run: run.ID, Resident: 1 << 40, State: broadcast.Delivered, At: at})
	if err := f.s.Record(ctx, nil); err != nil {
		t.Errorf("Record(nil) = %v", err)
	}
	wants := []struct{ state, reason string }{
		{"delivered", ""}, {"blocked", "Forbidden: bot was blocked"}, {"failed", "400 Bad Request: chat not found 'x'"},
		{"skipped", broadcast.ReasonNoConsent}, {"pending", "429 Too Many Requests"}, {"sending", ""},
	}
	for i, w := range wants {
		d := f.delivery(run.ID, ds[i].Resident)
		if d.state != w.state || d.reason != w.reason {
			t.Errorf("row %d = %+v, want %v", i, d, w)
		}
		switch w.state {
		case "pending":
			if !d.nextAt.Equal(retry) || !d.claimedAt.IsZero() || d.claimedBy != "" || !d.settledAt.IsZero() || d.attempts != 1 {
				t.Errorf("retried row = %+v", d)
			}
		case "sending":
		default:
			if !d.settledAt.Equal(at) || !d.claimedAt.Equal(now) || d.claimedBy != "w1" || !d.nextAt.Equal(now) {
				t.Errorf("settled row %d = %+v", i, d)
			}
		}
	}
	if d := f.delivery(run.ID, ds[5].Resident+1); d.state != "pending" {
		t.Errorf("unclaimed row recorded: %+v", d)
	}
	// a late outcome for a settled row changes nothing
	f.record(broadcast.Outcome{Run: run.ID, Resident: ds[0].Resident, State: broadcast.Failed, Reason: "late", At: at.Add(time.Hour)})
	if d := f.delivery(run.ID, ds[0].Resident); d.state != "delivered" || !d.settledAt.Equal(at) {
		t.Errorf("late outcome overwrote: %+v", d)
	}
	// the retry is due at Retry, and counts its attempt
	got := f.claim(10, retry.Add(-time.Microsecond))
	if len(got) != 1 || got[0].Resident == ds[4].Resident {
		t.Errorf("before the retry: claimed %+v, want only the unclaimed row", got)
	}
	got = f.claim(10, retry)
	if len(got) != 1 || got[0].Resident != ds[4].Resident || got[0].Attempts != 2 {
		t.Errorf("at the retry: claimed %+v", got)
	}
	// zero times: At is now, Retry is At
	f.record(broadcast.Outcome{Run: run.ID, Resident: ds[4].Resident, State: broadcast.Pending})
	if d := f.delivery(run.ID, ds[4].Resident); d.state != "pending" || d.nextAt.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("retry without times: %+v", d)
	}
	rep := f.report(run.ID)
	if rep.Delivered != 1 || rep.Blocked != 1 || rep.Failed != 1 || rep.Skipped[broadcast.ReasonNoConsent] != 1 || rep.Pending != 3 {
		t.Errorf("report = %+v", rep)
	}
	// a retry of a run cancelled meanwhile is skipped as cancelled
	got = f.claim(10, time.Now().Add(time.Hour))
	if len(got) != 1 || got[0].Resident != ds[4].Resident {
		t.Fatalf("claimed %+v, want the retry", got)
	}
	if err := f.s.SetState(ctx, b.ID, []broadcast.State{broadcast.Active}, broadcast.Cancelled, false, at); err != nil {
		t.Fatal(err)
	}
	f.record(broadcast.Outcome{Run: run.ID, Resident: ds[4].Resident, State: broadcast.Pending, At: at, Retry: retry},
		broadcast.Outcome{Run: run.ID, Resident: ds[5].Resident, State: broadcast.Delivered, At: at})
	if d := f.delivery(run.ID, ds[4].Resident); d.state != "skipped" || d.reason != broadcast.ReasonCancelled || !d.settledAt.Equal(at) {
		t.Errorf("retry in a cancelled run: %+v", d)
	}
	if d := f.delivery(run.ID, ds[5].Resident); d.state != "delivered" {
		t.Errorf("delivery in a cancelled run: %+v", d)
	}
	if rep := f.report(run.ID); rep.Pending != 1 || rep.Delivered != 2 || rep.Skipped[broadcast.ReasonCancelled] != 1 {
		t.Errorf("report after the cancel = %+v", rep)
	}
}

// A batch of many outcomes is stored in one go.
func TestBroadcastRecordBatch(t *testing.T) {
	for _, be := range recordsBackends() {
		t.Run(be.name, func(t *testing.T) {
			f := newBCFixture(t, be.open(t))
			f.residents(500)
			run := f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, bcT0)
			ds := f.claim(500, bcT0)
			outs := make([]broadcast.Outcome, len(ds))
			for i, d := range ds {
				outs[i] = broadcast.Outcome{Run: d.Run, Resident: d.Resident, State: broadcast.Delivered, At: bcT0}
			}
			f.record(outs...)
			if n := f.deliveries(run.ID, "delivered"); n != 500 {
				t.Errorf("%d delivered, want 500", n)
			}
		})
	}
}

func testBroadcastRescue(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	f.residents(4)
	run := f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, now)
	ds := f.claim(3, now.Add(time.Second))
	n, err := f.s.Rescue(ctx, now.Add(time.Second))
	if err != nil || n != 0 {
		t.Fatalf("Rescue of claims not older = %d, %v", n, err)
	}
	if n, err = f.s.Rescue(ctx, now.Add(time.Minute)); err != nil || n != 3 {
		t.Fatalf("Rescue = %d, %v; want 3", n, err)
	}
	for _, d := range ds {
		row := f.delivery(run.ID, d.Resident)
		if row.state != "pending" || !row.claimedAt.IsZero() || row.claimedBy != "" || !row.nextAt.Equal(now) || row.attempts != 1 {
			t.Errorf("rescued row = %+v", row)
		}
	}
	again := f.claim(10, now.Add(time.Minute))
	if len(again) != 4 || again[0].Attempts != 2 || again[3].Attempts != 1 {
		t.Errorf("claimed after the rescue: %+v", again)
	}
	if n, err := f.s.Rescue(ctx, now); err != nil || n != 0 {
		t.Errorf("Rescue(before the claims) = %d, %v", n, err)
	}

	// a claim of a cancelled run, never recorded: skipped as cancelled
	f2 := f.broadcast(broadcast.Broadcast{})
	run2 := f.start(f2, broadcast.Rules{}, now)
	c := f.claim(1, now)
	if len(c) != 1 || c[0].Run != run2.ID {
		t.Fatalf("claim = %+v", c)
	}
	if err := f.s.SetState(ctx, f2.ID, []broadcast.State{broadcast.Active}, broadcast.Cancelled, false, now); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.Rescue(ctx, now.Add(time.Hour)); err != nil || n != 5 {
		t.Errorf("Rescue = %d, %v; want 5", n, err)
	}
	if d := f.delivery(run2.ID, c[0].Resident); d.state != "skipped" || d.reason != broadcast.ReasonCancelled {
		t.Errorf("rescued claim of a cancelled run = %+v", d)
	}
	f.report(run2.ID)
}

func testBroadcastRelease(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	f.residents(4)
	run := f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, now)
	mine := f.claim(2, now) // by w1
	theirs, err := f.s.Claim(ctx, f.ch, "w2", 1, now)
	if err != nil || len(mine) != 2 || len(theirs) != 1 {
		t.Fatalf("claims: %v %v %v", mine, theirs, err)
	}
	if n, err := f.s.Release(ctx, "w1"); err != nil || n != 2 {
		t.Fatalf("Release = %d, %v; want 2", n, err)
	}
	for _, d := range mine {
		if row := f.delivery(run.ID, d.Resident); row.state != "pending" || row.claimedBy != "" || !row.claimedAt.IsZero() || !row.nextAt.Equal(now) {
			t.Errorf("released row = %+v", row)
		}
	}
	if row := f.delivery(run.ID, theirs[0].Resident); row.state != "sending" || row.claimedBy != "w2" {
		t.Errorf("another owner's claim = %+v", row)
	}
	if n, err := f.s.Release(ctx, "w1"); err != nil || n != 0 {
		t.Errorf("Release again = %d, %v", n, err)
	}
	if _, err := f.s.Release(ctx, ""); err == nil {
		t.Error("Release of no owner succeeded")
	}
	if row := f.delivery(run.ID, theirs[0].Resident); row.state != "sending" {
		t.Errorf("Release(\"\") took back %+v", row)
	}
	// a claim of a run cancelled meanwhile: skipped as cancelled
	again, err := f.s.Claim(ctx, f.ch, "w3", 10, now.Add(time.Second))
	if err != nil || len(again) != 3 {
		t.Fatalf("claim = %v, %v", again, err)
	}
	b := f.state(run.Broadcast)
	if err := f.s.SetState(ctx, b.ID, []broadcast.State{broadcast.Active}, broadcast.Cancelled, false, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.Release(ctx, "w3"); err != nil || n != 3 {
		t.Errorf("Release = %d, %v; want 3", n, err)
	}
	if row := f.delivery(run.ID, again[0].Resident); row.state != "skipped" || row.reason != broadcast.ReasonCancelled ||
		!row.settledAt.Equal(now.Add(time.Second)) {
		t.Errorf("released claim of a cancelled run = %+v", row)
	}
	if rep := f.report(run.ID); rep.Pending != 1 || rep.Skipped[broadcast.ReasonCancelled] != 3 {
		t.Errorf("report = %+v", rep)
	}
}

func testBroadcastRecipient(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	key, id := f.resident(res{})
	check := func(wantConsent bot.Consent, wantReachable bool) {
		t.Helper()
		c, r, err := f.s.Recipient(ctx, id)
		if err != nil || c != wantConsent || r != wantReachable {
			t.Errorf("Recipient = %q, %v, %v; want %q, %v", c, r, err, wantConsent, wantReachable)
		}
	}
	check(bot.ConsentYes, true)
	if err := f.SetConsent(ctx, key, bot.ConsentNo, bcT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check(bot.ConsentNo, true)
	if err := f.SetReachable(ctx, key, false, bcT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check(bot.ConsentNo, false)
	if c, r, err := f.s.Recipient(ctx, 1<<40); err != nil || c != bot.ConsentUnasked || r {
		t.Errorf("unknown resident: %q, %v, %v; want unasked, unreachable", c, r, err)
	}
}

func testBroadcastExpire(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	f.residents(3)
	exp := f.broadcast(broadcast.Broadcast{Expires: time.Hour})
	run := f.start(exp, broadcast.Rules{}, now)
	never := f.broadcast(broadcast.Broadcast{})
	run2 := f.start(never, broadcast.Rules{}, now)
	claimed := f.claim(1, now) // run's first: stays with its worker
	if len(claimed) != 1 || claimed[0].Run != run.ID {
		t.Fatalf("claim = %+v", claimed)
	}
	if n, err := f.s.Expire(ctx, now.Add(time.Hour-time.Microsecond)); err != nil || n != 0 {
		t.Errorf("Expire before = %d, %v", n, err)
	}
	if n, err := f.s.Expire(ctx, now.Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("Expire = %d, %v; want 2", n, err)
	}
	if n, err := f.s.Expire(ctx, now.Add(1000*time.Hour)); err != nil || n != 0 {
		t.Errorf("Expire again = %d, %v; want 0", n, err)
	}
	rep := f.report(run.ID)
	if rep.Skipped[broadcast.ReasonExpired] != 2 || rep.Pending != 1 {
		t.Errorf("expired report = %+v", rep)
	}
	if d := f.delivery(run.ID, claimed[0].Resident+1); !d.settledAt.Equal(now.Add(time.Hour)) {
		t.Errorf("expired row = %+v", d)
	}
	if rep := f.report(run2.ID); rep.Pending != 3 {
		t.Errorf("a broadcast that never expires: %+v", rep)
	}
}

func testBroadcastFinishRuns(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	f.residents(2)
	oneOff := f.broadcast(broadcast.Broadcast{})
	run := f.start(oneOff, broadcast.Rules{}, now)
	recurring := f.broadcast(broadcast.Broadcast{Cron: "0 9 * * *"})
	run2 := f.start(recurring, broadcast.Rules{}, now)
	if got := f.finishMine(now, run.ID, run2.ID); len(got) != 0 {
		t.Fatalf("finished %+v with deliveries pending", got)
	}
	ds := f.claim(10, now)
	if len(ds) != 4 {
		t.Fatalf("claimed %d", len(ds))
	}
	if got := f.finishMine(now, run.ID, run2.ID); len(got) != 0 {
		t.Fatalf("finished %+v with deliveries claimed", got)
	}
	outs := make([]broadcast.Outcome, len(ds))
	for i, d := range ds {
		outs[i] = broadcast.Outcome{Run: d.Run, Resident: d.Resident, State: broadcast.Delivered, At: now}
	}
	f.record(outs...)
	end := now.Add(time.Minute)
	got := f.finishMine(end, run.ID, run2.ID)
	if len(got) != 2 || got[0].ID != run.ID || got[1].ID != run2.ID {
		t.Fatalf("finished %+v, want both runs", got)
	}
	for _, r := range got {
		if r.State != broadcast.RunFinished || !r.FinishedAt.Equal(end) || r.Total != 2 {
			t.Errorf("finished run = %+v", r)
		}
	}
	if b := f.state(oneOff.ID); b.State != broadcast.Done || !b.UpdatedAt.Equal(end) || b.Missed {
		t.Errorf("one-off after its run = %+v", b)
	}
	if b := f.state(recurring.ID); b.State != broadcast.Active {
		t.Errorf("recurring after a run = %s, want active", b.State)
	}
	if got := f.finishMine(end, run.ID, run2.ID); len(got) != 0 {
		t.Errorf("finished again: %+v", got)
	}
	last, err := f.s.LastRun(ctx, oneOff.ID)
	if err != nil || last.State != broadcast.RunFinished {
		t.Errorf("LastRun = %+v, %v", last, err)
	}

	// an audience of no one: finished at once; paused one-off → done
	paused := f.broadcast(broadcast.Broadcast{})
	empty, _, err := f.s.StartRun(ctx, paused, f.aud(broadcast.Areas{Codes: []string{"nobody-" + f.area}}), broadcast.Rules{}, now, now)
	if err != nil || empty.Total != 0 {
		t.Fatal(empty, err)
	}
	if err := f.s.SetState(ctx, paused.ID, []broadcast.State{broadcast.Active}, broadcast.Paused, false, now); err != nil {
		t.Fatal(err)
	}
	if got := f.finishMine(end, empty.ID); len(got) != 1 {
		t.Errorf("empty run not finished: %+v", got)
	}
	if b := f.state(paused.ID); b.State != broadcast.Done {
		t.Errorf("paused one-off after its run = %s, want done", b.State)
	}
	// a cancelled broadcast's run is not finished, and stays cancelled
	cancelled := f.broadcast(broadcast.Broadcast{})
	crun := f.start(cancelled, broadcast.Rules{}, now)
	if err := f.s.SetState(ctx, cancelled.ID, []broadcast.State{broadcast.Active}, broadcast.Cancelled, false, now); err != nil {
		t.Fatal(err)
	}
	if got := f.finishMine(end, crun.ID); len(got) != 0 {
		t.Errorf("cancelled run finished: %+v", got)
	}
	if b := f.state(cancelled.ID); b.State != broadcast.Cancelled {
		t.Errorf("cancelled broadcast became %s", b.State)
	}
}

func testBroadcastCancel(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	f.residents(4)
	b := f.broadcast(broadcast.Broadcast{Cron: "0 9 * * *"})
	old := f.start(b, broadcast.Rules{}, now.Add(-day))
	ds := f.claim(4, now)
	outs := make([]broadcast.Outcome, len(ds))
	for i, d := range ds {
		outs[i] = broadcast.Outcome{Run: d.Run, Resident: d.Resident, State: broadcast.Delivered, At: now}
	}
	f.record(outs...)
	if got := f.finishMine(now, old.ID); len(got) != 1 {
		t.Fatalf("old run not finished")
	}
	run := f.start(b, broadcast.Rules{}, now)
	claimed := f.claim(1, now)
	at := now.Add(time.Minute)
	if err := f.s.SetState(ctx, b.ID, []broadcast.State{broadcast.Active, broadcast.Paused}, broadcast.Cancelled, false, at); err != nil {
		t.Fatal(err)
	}
	last, err := f.s.LastRun(ctx, b.ID)
	if err != nil || last.ID != run.ID || last.State != broadcast.RunCancelled || !last.FinishedAt.Equal(at) {
		t.Errorf("cancelled run = %+v, %v", last, err)
	}
	runs, _ := f.s.Runs(ctx, b.ID, 10)
	if len(runs) != 2 || runs[1].State != broadcast.RunFinished {
		t.Errorf("runs = %+v; the finished one stays finished", runs)
	}
	if n := f.count(t, `SELECT count(*) FROM broadcast_deliveries WHERE run_id = $1 AND state = 'skipped' AND reason = $2 AND settled_at = $3`,
		run.ID, broadcast.ReasonCancelled, f.tm(at)); n != 3 {
		t.Errorf("%d pending deliveries skipped as cancelled, want 3", n)
	}
	if d := f.delivery(run.ID, claimed[0].Resident); d.state != "sending" {
		t.Errorf("claimed delivery = %+v; stays with its worker", d)
	}
	if got := f.claim(10, at); len(got) != 0 {
		t.Errorf("claimed %d after the cancel", len(got))
	}
	f.record(broadcast.Outcome{Run: run.ID, Resident: claimed[0].Resident, State: broadcast.Delivered, At: at})
	rep := f.report(run.ID)
	if rep.Delivered != 1 || rep.Skipped[broadcast.ReasonCancelled] != 3 || rep.Pending != 0 {
		t.Errorf("report = %+v", rep)
	}
	if rep := f.report(old.ID); rep.Delivered != 4 {
		t.Errorf("old run's report = %+v", rep)
	}
	if err := f.s.SetState(ctx, b.ID, []broadcast.State{broadcast.Active, broadcast.Paused}, broadcast.Cancelled, false, at); !errors.Is(err, broadcast.ErrState) {
		t.Errorf("cancel twice: %v, want ErrState", err)
	}
}

func testBroadcastReport(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	f.residents(10)
	f.resident(res{name: "no", consent: bot.ConsentNo})
	f.resident(res{name: "blocked", unreachable: true})
	run := f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, now)
	ds := f.claim(8, now)
	states := []broadcast.DeliveryState{broadcast.Delivered, broadcast.Delivered, broadcast.Delivered, broadcast.Blocked,
		broadcast.Failed, broadcast.Skipped, broadcast.Pending}
	var outs []broadcast.Outcome
	for i, st := range states {
		reason := ""
		if st == broadcast.Skipped {
			reason = broadcast.ReasonNoConsent
		}
		outs = append(outs, broadcast.Outcome{Run: run.ID, Resident: ds[i].Resident, State: st, Reason: reason, At: now, Retry: now})
	}
	f.record(outs...)
	for _, d := range ds[:2] {
		if err := f.s.Tapped(ctx, run.ID, d.Key, now); err != nil {
			t.Fatal(err)
		}
	}
	rep := f.report(run.ID)
	want := broadcast.Report{Run: run, Pending: 2 + 2, Delivered: 3, Blocked: 1, Failed: 1, Tapped: 2,
		Skipped: map[string]int{broadcast.ReasonNoConsent: 2, broadcast.ReasonUnreachable: 1}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report = %+v\nwant     %+v", rep, want)
	}
	if rep.Settled() != 8 || rep.SkippedTotal() != 3 || rep.Settled()+rep.Pending != 12 {
		t.Errorf("settled %d, skipped %d", rep.Settled(), rep.SkippedTotal())
	}
	if _, err := f.s.Report(ctx, 1<<40); !errors.Is(err, broadcast.ErrNotFound) {
		t.Errorf("unknown run: %v, want ErrNotFound", err)
	}
	empty := f.report(f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, now.Add(time.Hour)).ID)
	if empty.Skipped == nil {
		t.Error("Skipped is nil")
	}
}

func testBroadcastTapped(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	now := bcT0
	k1, id1 := f.resident(res{name: "a"})
	k2, id2 := f.resident(res{name: "b"})
	run := f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, now)
	other := f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, now)
	for i := range 3 {
		if err := f.s.Tapped(ctx, run.ID, k1, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if d := f.delivery(run.ID, id1); !d.tappedAt.Equal(now) {
		t.Errorf("tapped at %v, want the first tap %v", d.tappedAt, now)
	}
	if d := f.delivery(run.ID, id2); !d.tappedAt.IsZero() {
		t.Errorf("untapped row tapped at %v", d.tappedAt)
	}
	if d := f.delivery(other.ID, id1); !d.tappedAt.IsZero() {
		t.Errorf("another run's row tapped at %v", d.tappedAt)
	}
	for _, c := range []struct {
		run int64
		key bot.ConvKey
	}{{1 << 40, k1}, {run.ID, bot.ConvKey{Channel: k2.Channel, ChatID: k2.ChatID + "x"}}, {run.ID, bot.ConvKey{Channel: "web", ChatID: k2.ChatID}}} {
		if err := f.s.Tapped(ctx, c.run, c.key, now); err != nil {
			t.Errorf("Tapped(%d, %v) = %v", c.run, c.key, err)
		}
	}
	if rep := f.report(run.ID); rep.Tapped != 1 {
		t.Errorf("tapped %d, want 1", rep.Tapped)
	}
}

func testBroadcastOddText(t *testing.T, f *bcFixture) {
	ctx := context.Background()
	in := broadcast.Broadcast{
		Text:  "Kính gửi bà con 👵🏽👨‍👩‍👧 \u202eRTL\u202c — 'trích dẫn' \"kép\" \\ $1 ? \x00NUL \xffbad; DROP TABLE broadcasts;",
		Image: "https://ví-dụ.vn/ảnh?x='1'",
		Buttons: []broadcast.Button{{Label: "Đăng ký \"ngay\" <b>'</b>\x00", Flow: "đăng_ký", Step: "bước'1"},
			{Label: strings.Repeat("ư", 300), Flow: "f"}},
		Audience:     "area:P-Bến_Thành and not completed:cài_đặt\x00",
		Cron:         "0 8 * * 1\x00",
		ProgressChat: bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "'🙂'"}, ProgressMsg: "\"m\"",
	}
	b := f.broadcast(in)
	if b.Text != "Kính gửi bà con 👵🏽👨‍👩‍👧 \u202eRTL\u202c — 'trích dẫn' \"kép\" \\ $1 ? NUL \uFFFDbad; DROP TABLE broadcasts;" ||
		b.Image != in.Image || b.Audience != "area:P-Bến_Thành and not completed:cài_đặt" || b.Cron != "0 8 * * 1" ||
		b.Buttons[0] != (broadcast.Button{Label: "Đăng ký \"ngay\" <b>'</b>", Flow: "đăng_ký", Step: "bước'1"}) ||
		b.Buttons[1] != in.Buttons[1] || b.ProgressChat != in.ProgressChat || b.ProgressMsg != in.ProgressMsg {
		t.Errorf("stored = %+v", b)
	}
	// an odd recipient and outcome text
	k, id := f.resident(res{name: "🧓🏼'\"", lang: "vi"})
	run := f.start(b, broadcast.Rules{}, bcT0)
	ds := f.claim(1, bcT0)
	if len(ds) != 1 || ds[0].Key != k || ds[0].Resident != id {
		t.Fatalf("claim = %+v", ds)
	}
	f.record(broadcast.Outcome{Run: run.ID, Resident: id, State: broadcast.Failed, Reason: "lỗi 'x'\x00 \xff", At: bcT0})
	if d := f.delivery(run.ID, id); d.reason != "lỗi 'x' \uFFFD" {
		t.Errorf("reason = %q", d.reason)
	}
	if err := f.s.Tapped(ctx, run.ID, k, bcT0); err != nil {
		t.Fatal(err)
	}
	if rep := f.report(run.ID); rep.Tapped != 1 || rep.Failed != 1 {
		t.Errorf("report = %+v", rep)
	}
}

// TestBroadcastSourceOnce: a broadcast made twice from the same source (a
// chat's confirming update delivered again) is stored once; without a
// source, every call makes one.
func TestBroadcastSourceOnce(t *testing.T) {
	for _, be := range recordsBackends() {
		t.Run(be.name, func(t *testing.T) {
			st := be.open(t).Broadcasts()
			ctx := context.Background()
			b := broadcast.Broadcast{Text: "Thông báo", Audience: "all", At: time.Now(), Source: "telegram:42:" + t.Name()}
			first, err := st.CreateBroadcast(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			again, err := st.CreateBroadcast(ctx, b)
			if err != nil || again != first {
				t.Fatalf("second create from the same source: %d, %v; want %d", again, err, first)
			}
			b.Source = ""
			x, err1 := st.CreateBroadcast(ctx, b)
			y, err2 := st.CreateBroadcast(ctx, b)
			if err1 != nil || err2 != nil || x == y || x == first {
				t.Fatalf("without a source: %d %v, %d %v", x, err1, y, err2)
			}
		})
	}
}

// TestBroadcastUncountedTry: a delivery put back without reaching the
// platform (held by the pacing, a 429's pause, a shutdown) keeps its tries;
// one put back after a real failure spends one.
func TestBroadcastUncountedTry(t *testing.T) {
	for _, be := range recordsBackends() {
		t.Run(be.name, func(t *testing.T) {
			f := newBCFixture(t, be.open(t))
			f.residents(1)
			f.start(f.broadcast(broadcast.Broadcast{}), broadcast.Rules{}, bcT0)
			at := bcT0
			for i := range 3 {
				ds := f.claim(1, at)
				if len(ds) != 1 || ds[0].Attempts != 1 {
					t.Fatalf("claim %d after held-back tries: %+v, want attempt 1", i, ds)
				}
				f.record(broadcast.Outcome{Run: ds[0].Run, Resident: ds[0].Resident, State: broadcast.Pending, At: at, Retry: at, Uncounted: true})
				at = at.Add(time.Second)
			}
			ds := f.claim(1, at)
			f.record(broadcast.Outcome{Run: ds[0].Run, Resident: ds[0].Resident, State: broadcast.Pending, At: at, Retry: at})
			if ds = f.claim(1, at.Add(time.Second)); len(ds) != 1 || ds[0].Attempts != 2 {
				t.Fatalf("after a failed try: %+v, want attempt 2", ds)
			}
		})
	}
}
