package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// The durable-store contract: one suite, run against PostgreSQL and SQLite,
// covering everything bot.Records and the read helpers promise.

// recordsStore is what both durable stores offer.
type recordsStore interface {
	bot.Records
	bot.Preferences
	bot.Residents
	Ping(ctx context.Context) error
	Migrate(ctx context.Context) error
	Close()
	Resident(ctx context.Context, key bot.ConvKey) (Resident, error)
	Ticket(ctx context.Context, id int64) (Ticket, error)
	TicketMessages(ctx context.Context, id int64) ([]TicketMessage, error)
	CountEvents(ctx context.Context, kind, flow string) (int64, error)
	WaitingTickets(ctx context.Context) (int64, error)
	SigningKeys(ctx context.Context, p KeyPolicy, now time.Time) ([]bot.SigningKey, error)
	Desk() *Desk
	Uploads() *Uploads
	Broadcasts() *Broadcasts
	bot.Reminders
	RemindersQueue() *RemindersQueue
}

var (
	_ recordsStore = (*Postgres)(nil)
	_ recordsStore = (*SQLite)(nil)
)

// recordsBackend is one store under test, with raw access for the checks
// the API does not offer. Queries use the SQL both dialects accept.
type recordsBackend struct {
	recordsStore
	exec  func(t *testing.T, query string, args ...any)
	count func(t *testing.T, query string, args ...any) int
}

func (b *recordsBackend) countTickets(t *testing.T, key bot.ConvKey) int {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM tickets WHERE channel = $1 AND external_id = $2`,
		string(key.Channel), key.ChatID)
}

func (b *recordsBackend) countEvents(t *testing.T, key bot.ConvKey) int {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM flow_events WHERE channel = $1 AND external_id = $2`,
		string(key.Channel), key.ChatID)
}

// recordsBackends opens each store: PostgreSQL on this run's migrated
// database (tests use keys unique to them), SQLite on a fresh file.
func recordsBackends() []struct {
	name string
	open func(t *testing.T) *recordsBackend
} {
	return []struct {
		name string
		open func(t *testing.T) *recordsBackend
	}{
		{"postgres", func(t *testing.T) *recordsBackend {
			p := newTestPostgres(t)
			return &recordsBackend{
				recordsStore: p,
				exec: func(t *testing.T, query string, args ...any) {
					t.Helper()
					if _, err := p.pool.Exec(context.Background(), query, args...); err != nil {
						t.Fatal(err)
					}
				},
				count: func(t *testing.T, query string, args ...any) int {
					t.Helper()
					var n int
					if err := p.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				},
			}
		}},
		{"sqlite", func(t *testing.T) *recordsBackend {
			s := newTestSQLite(t, t.TempDir()+"/gocua.db")
			return &recordsBackend{
				recordsStore: s,
				exec: func(t *testing.T, query string, args ...any) {
					t.Helper()
					if _, err := s.w.ExecContext(context.Background(), query, args...); err != nil {
						t.Fatal(err)
					}
				},
				count: func(t *testing.T, query string, args ...any) int {
					t.Helper()
					var n int
					if err := s.r.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				},
			}
		}},
	}
}

func TestRecordsContract(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, p *recordsBackend)
	}{
		{"Idempotent", testRecordsIdempotent},
		{"Rerun", testRecordsRerun},
		{"SigningKeys", testSigningKeys},
		{"RerunKeepsJoinedTicket", testRecordsRerunKeepsJoinedTicket},
		{"OneWaitingTicket", testRecordsOneWaitingTicket},
		{"ConcurrentHandoffs", testRecordsConcurrentHandoffs},
		{"ConcurrentResidents", testRecordsConcurrentResidents},
		{"TranscriptAppend", testRecordsTranscriptAppend},
		{"FailedRecordWritesNothing", testRecordsFailedWritesNothing},
		{"Resident", testRecordsResident},
		{"Times", testRecordsTimes},
		{"SetReachable", testSetReachable},
		{"Consent", testConsent},
		{"CancelTicket", testCancelTicket},
		{"WaitingTickets", testWaitingTickets},
		{"SkipResident", testSkipResident},
		{"NotFound", testNotFound},
		{"OddText", testRecordsOddText},
		{"Uploads", testUploads},
		{"UploadsDelete", testUploadsDelete},
		{"UploadsConcurrent", testUploadsConcurrent},
	}
	for _, b := range recordsBackends() {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, b.open(t)) })
			}
		})
	}
}

func event(kind, flow, step string) flows.Event {
	return flows.Event{Kind: flows.EventKind(kind), Flow: flow, Step: step}
}

// unique returns a name unique to this run of the test, so tests can run
// again (-count) on the same database.
func unique(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
}

// zaloKey returns a conversation key unique to this run of the test.
func zaloKey(t testing.TB, suffix string) bot.ConvKey {
	return bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: unique(t) + "/" + suffix}
}

var t0 = time.Date(2026, 3, 7, 7, 30, 0, 0, time.UTC)

// testRecordsConcurrentResidents: many residents recorded at once, with
// reads in between, all land (SQLite's single writer never reports busy).
func testRecordsConcurrentResidents(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	const residents, updates = 8, 15
	flow := unique(t)
	keys := make([]bot.ConvKey, residents)
	for i := range keys {
		keys[i] = zaloKey(t, fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			for u := range updates {
				_, err := p.Record(ctx, bot.UpdateRecord{
					Key: key, UpdateID: fmt.Sprint("u", u), At: t0.Add(time.Duration(u) * time.Second),
					Name: fmt.Sprint("Bác ", i), Lang: "vi",
					Events:     []flows.Event{event("step_entered", flow, fmt.Sprint("s", u))},
					Handoff:    handoffEvery(u, 5),
					Transcript: []bot.TranscriptLine{{From: "resident", Text: fmt.Sprint("tin ", u)}},
				})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := p.Resident(ctx, key); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, err := p.CountEvents(ctx, "step_entered", flow); err != nil || n != residents*updates {
		t.Errorf("CountEvents = %d, %v; want %d", n, err, residents*updates)
	}
	for i, key := range keys {
		r, err := p.Resident(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != fmt.Sprint("Bác ", i) || !r.LastSeen.Equal(t0.Add((updates-1)*time.Second)) {
			t.Errorf("resident %d = %+v", i, r)
		}
		// Handoffs at u = 0, 5, 10 all join the one waiting ticket.
		if n := p.countTickets(t, key); n != 1 {
			t.Errorf("resident %d has %d tickets, want 1", i, n)
		}
	}
}

// testConsent: a new resident is not asked yet (and receives nothing);
// answers stick across later messages; the newest answer wins, so a late
// re-delivery of an older one changes nothing; an answer before anything
// else was recorded creates the resident; only the three answers are stored.
func testConsent(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	consent := func(key bot.ConvKey) bot.Consent {
		t.Helper()
		r, err := p.Resident(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := p.ResidentProfile(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Consent != r.Consent {
			t.Fatalf("profile says %q, resident row %q", pr.Consent, r.Consent)
		}
		return r.Consent
	}
	key := zaloKey(t, "1")
	if pr, err := p.ResidentProfile(ctx, key); err != nil || pr.Consent != bot.ConsentUnasked || pr.Area != "" {
		t.Fatalf("unknown resident: %+v, %v; want unasked, no area", pr, err)
	}
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0}); err != nil {
		t.Fatal(err)
	}
	if c := consent(key); c != bot.ConsentUnasked {
		t.Errorf("a new resident has consent %q, want unasked", c)
	}
	steps := []struct {
		c    bot.Consent
		at   time.Time
		want bot.Consent
	}{
		{bot.ConsentYes, t0.Add(time.Minute), bot.ConsentYes},
		{bot.ConsentNo, t0.Add(time.Hour), bot.ConsentNo},
		{bot.ConsentYes, t0.Add(30 * time.Minute), bot.ConsentNo}, // older: ignored
		{bot.ConsentYes, t0.Add(2 * time.Hour), bot.ConsentYes},
	}
	for i, st := range steps {
		if err := p.SetConsent(ctx, key, st.c, st.at); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: fmt.Sprintf("v%d", i), At: st.at.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		if c := consent(key); c != st.want {
			t.Errorf("step %d (%s at +%s): consent %q, want %q", i, st.c, st.at.Sub(t0), c, st.want)
		}
	}
	fresh := zaloKey(t, "2")
	if err := p.SetConsent(ctx, fresh, bot.ConsentNo, t0); err != nil {
		t.Fatal(err)
	}
	if c := consent(fresh); c != bot.ConsentNo {
		t.Errorf("a resident created by /stop has consent %q", c)
	}
	if err := p.SetConsent(ctx, fresh, "maybe", t0.Add(time.Hour)); err == nil {
		t.Error(`consent "maybe" was accepted`)
	}
}

// handoffEvery asks for a person on every n-th update.
func handoffEvery(u, n int) *bot.TicketRequest {
	if u%n != 0 {
		return nil
	}
	return &bot.TicketRequest{Flow: "f", Step: fmt.Sprint("s", u)}
}

// testRecordsFailedWritesNothing: a record that fails part way (here, a
// transcript line from an unknown sender) leaves no trace.
func testRecordsFailedWritesNothing(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	_, err := p.Record(ctx, bot.UpdateRecord{
		Key: key, UpdateID: "u1", At: t0,
		Events:     []flows.Event{event("escalated", "f", "s")},
		Handoff:    &bot.TicketRequest{Flow: "f", Step: "s"},
		Transcript: []bot.TranscriptLine{{From: "resident", Text: "ok"}, {From: "martian", Text: "?"}},
	})
	if err == nil {
		t.Fatal("a transcript line from an unknown sender was accepted")
	}
	if _, err := p.Resident(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("resident written by a failed record: err = %v", err)
	}
	if n := p.countTickets(t, key); n != 0 {
		t.Errorf("%d tickets written by a failed record", n)
	}
	if n := p.countEvents(t, key); n != 0 {
		t.Errorf("%d events written by a failed record", n)
	}
	// The same update, fixed, goes through.
	res, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0, Handoff: &bot.TicketRequest{Flow: "f"}})
	if err != nil || res.TicketID == 0 {
		t.Fatalf("retry = %+v, %v", res, err)
	}
}

// testRecordsTimes: times keep microseconds, compare across time zones and
// come back equal.
func testRecordsTimes(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	hanoi := time.FixedZone("ICT", 7*3600)
	later := t0.Add(1500*time.Millisecond + 250*time.Microsecond).In(hanoi)
	earlier := t0.Add(time.Second) // whole second: shorter without trailing zeros
	for _, rec := range []bot.UpdateRecord{
		{Key: key, UpdateID: "u2", At: later, Name: "mới"},
		{Key: key, UpdateID: "u1", At: earlier, Name: "cũ", Handoff: &bot.TicketRequest{Flow: "f"},
			Transcript: []bot.TranscriptLine{{From: "bot", Text: "x", At: later}}},
	} {
		if _, err := p.Record(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	r, err := p.Resident(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !r.FirstSeen.Equal(earlier) || !r.LastSeen.Equal(later) || r.Name != "mới" {
		t.Errorf("resident seen %v .. %v, name %q; want %v .. %v, mới", r.FirstSeen, r.LastSeen, r.Name, earlier, later)
	}
	// Replaying u1 finds its ticket.
	res, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: earlier, Handoff: &bot.TicketRequest{Flow: "f"}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := p.TicketMessages(ctx, res.TicketID)
	if err != nil || len(msgs) != 1 || !msgs[0].At.Equal(later) {
		t.Errorf("transcript = %+v, %v; want one line at %v", msgs, err, later)
	}
	// A record without a time is stamped now.
	before := time.Now().Add(-time.Second)
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u3"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := p.Resident(ctx, key); r.LastSeen.Before(before) || r.LastSeen.After(time.Now().Add(time.Second)) {
		t.Errorf("record without time: last seen %v, want about now", r.LastSeen)
	}
}

func testRecordsIdempotent(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	rec := bot.UpdateRecord{
		Key: key, UpdateID: "u1", At: t0, Name: "Bà Năm", Lang: "vi",
		Events: []flows.Event{
			event("step_entered", "install_vneid", "choose_phone"),
			event("escalated", "install_vneid", "android_3"),
		},
		Handoff: &bot.TicketRequest{
			Flow: "install_vneid", Step: "android_3", Reason: "stuck",
			Summary: "Không quét được CCCD", Vars: map[string]string{"phone": "android"},
		},
		Transcript: []bot.TranscriptLine{
			{From: "resident", Text: "Tôi không quét được", At: t0},
			{From: "bot", Text: "Đang tìm tình nguyện viên", At: t0.Add(time.Second)},
		},
	}
	first, err := p.Record(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if first.TicketID == 0 {
		t.Fatal("no ticket created")
	}
	again, err := p.Record(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("replay returned %+v, want %+v", again, first)
	}

	tk, err := p.Ticket(ctx, first.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != TicketWaiting || tk.Key != key || tk.Flow != "install_vneid" || tk.Step != "android_3" ||
		tk.Reason != "stuck" || tk.Summary != "Không quét được CCCD" || tk.Vars["phone"] != "android" ||
		tk.SourceUpdate != "u1" || !tk.CreatedAt.Equal(t0) {
		t.Errorf("ticket = %+v", tk)
	}
	msgs, err := p.TicketMessages(ctx, first.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].From != "resident" || msgs[1].From != "bot" ||
		msgs[0].Text != "Tôi không quét được" || !msgs[1].At.Equal(t0.Add(time.Second)) {
		t.Errorf("transcript = %+v", msgs)
	}
	if n := p.countTickets(t, key); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	if n := p.countEvents(t, key); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
	n, err := p.CountEvents(ctx, "escalated", "install_vneid")
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("CountEvents(escalated, install_vneid) = %d", n)
	}
	res, err := p.Resident(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if tk.ResidentID != res.ID {
		t.Errorf("ticket resident %d, want %d", tk.ResidentID, res.ID)
	}
}

// A rerun (the first attempt lost its commit to a concurrent writer and the
// turn was redone) replaces what the first attempt recorded: its events,
// and a waiting ticket it opened that this attempt does not ask for.
func testRecordsRerun(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	first := bot.UpdateRecord{
		Key: key, UpdateID: "u1", At: t0,
		Events: []flows.Event{
			event("step_entered", "install_vneid", "choose_phone"),
			event("escalated", "install_vneid", "android_3"),
		},
		Handoff:    &bot.TicketRequest{Flow: "install_vneid", Step: "android_3"},
		Transcript: []bot.TranscriptLine{{From: "resident", Text: "không được", At: t0}},
	}
	res, err := p.Record(ctx, first)
	if err != nil || res.TicketID == 0 {
		t.Fatalf("first attempt: %+v, %v", res, err)
	}
	// the rerun of the same update: the state had moved on, no handoff now
	rerun := bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0.Add(time.Millisecond), Rerun: true,
		Events: []flows.Event{event("step_entered", "level2", "intro")}}
	again, err := p.Record(ctx, rerun)
	if err != nil {
		t.Fatal(err)
	}
	if again.TicketID != 0 {
		t.Errorf("rerun returned ticket %d", again.TicketID)
	}
	if n := p.countTickets(t, key); n != 0 {
		t.Errorf("%d tickets left by the losing attempt, want 0", n)
	}
	if n := p.countEvents(t, key); n != 1 {
		t.Errorf("%d events, want the rerun's 1", n)
	}
	// a rerun that hands off again gets a ticket with its own data
	rerun.Handoff = &bot.TicketRequest{Flow: "level2", Step: "intro"}
	res, err = p.Record(ctx, rerun)
	if err != nil || res.TicketID == 0 {
		t.Fatalf("rerun with handoff: %+v, %v", res, err)
	}
	if tk, _ := p.Ticket(ctx, res.TicketID); tk.Flow != "level2" {
		t.Errorf("ticket = %+v, want the rerun's", tk)
	}
}

// Signing keys rotate: a new one after Rotate, the old one kept (it still
// verifies what it signed) until Keep; purposes are separate.
func testSigningKeys(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	pol := KeyPolicy{Purpose: "test-" + t.Name(), Rotate: 24 * time.Hour, Keep: 72 * time.Hour}
	first, err := p.SigningKeys(ctx, pol, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(first[0].Secret) != 32 || first[0].ID == 0 || !first[0].Created.Equal(t0) {
		t.Fatalf("first call = %+v, want one new 32-byte key", first)
	}
	again, err := p.SigningKeys(ctx, pol, t0.Add(time.Hour))
	if err != nil || len(again) != 1 || again[0].ID != first[0].ID || string(again[0].Secret) != string(first[0].Secret) {
		t.Fatalf("within Rotate: %+v, %v; want the same key", again, err)
	}
	rotated, err := p.SigningKeys(ctx, pol, t0.Add(25*time.Hour))
	if err != nil || len(rotated) != 2 || rotated[1].ID != first[0].ID || string(rotated[0].Secret) == string(first[0].Secret) {
		t.Fatalf("after Rotate: %+v, %v; want a new key first, the old one kept", rotated, err)
	}
	retired, err := p.SigningKeys(ctx, pol, t0.Add(73*time.Hour))
	if err != nil || len(retired) != 2 || retired[0].ID == first[0].ID || retired[1].ID == first[0].ID {
		t.Fatalf("after Keep: %+v, %v; want the first key gone", retired, err)
	}
	other, err := p.SigningKeys(ctx, KeyPolicy{Purpose: pol.Purpose + "-other", Rotate: time.Hour, Keep: time.Hour}, t0)
	if err != nil || len(other) != 1 || other[0].ID == rotated[0].ID {
		t.Fatalf("another purpose: %+v, %v", other, err)
	}
}

// A rerun never deletes a ticket another update has joined since.
func testRecordsRerunKeepsJoinedTicket(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	res, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0,
		Handoff: &bot.TicketRequest{Flow: "f", Step: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	// another update (on another replica) joined the waiting ticket
	joined, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u2", At: t0.Add(time.Second),
		Handoff:    &bot.TicketRequest{Flow: "f", Step: "s"},
		Transcript: []bot.TranscriptLine{{From: "resident", Text: "còn đó không", At: t0.Add(time.Second)}}})
	if err != nil || joined.TicketID != res.TicketID {
		t.Fatalf("join: %+v, %v", joined, err)
	}
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0, Rerun: true}); err != nil {
		t.Fatal(err)
	}
	if tk, err := p.Ticket(ctx, res.TicketID); err != nil || tk.Status != TicketWaiting {
		t.Fatalf("joined ticket after a rerun: %+v, %v", tk, err)
	}
	if msgs, _ := p.TicketMessages(ctx, res.TicketID); len(msgs) != 1 {
		t.Errorf("transcript = %+v, want u2's line kept", msgs)
	}
}

func testRecordsOneWaitingTicket(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	handoff := func(update string, at time.Time) int64 {
		t.Helper()
		res, err := p.Record(ctx, bot.UpdateRecord{
			Key: key, UpdateID: update, At: at,
			Handoff:    &bot.TicketRequest{Flow: "f", Step: "s", Reason: update},
			Transcript: []bot.TranscriptLine{{From: "resident", Text: "help " + update}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.TicketID
	}

	first := handoff("u1", t0)
	if got := handoff("u2", t0.Add(time.Minute)); got != first {
		t.Errorf("second handoff opened ticket %d, want the waiting %d", got, first)
	}
	msgs, err := p.TicketMessages(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].Text != "help u2" {
		t.Errorf("transcript = %+v, want both requests", msgs)
	}

	if err := p.CancelTicket(ctx, first, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Replays still find the ticket they created or joined.
	if got := handoff("u2", t0.Add(time.Minute)); got != first {
		t.Errorf("replayed u2 = %d, want %d", got, first)
	}
	if got := handoff("u1", t0); got != first {
		t.Errorf("replayed u1 = %d, want %d", got, first)
	}
	second := handoff("u3", t0.Add(3*time.Minute))
	if second == first {
		t.Error("a handoff after cancelling reused the cancelled ticket")
	}
	if n := p.countTickets(t, key); n != 2 {
		t.Errorf("%d tickets, want 2", n)
	}
}

func testRecordsConcurrentHandoffs(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	const updates = 6
	got := make([]int64, updates)
	var wg sync.WaitGroup
	for i := range updates {
		wg.Go(func() {
			res, err := p.Record(ctx, bot.UpdateRecord{
				Key: key, UpdateID: fmt.Sprint("u", i), At: t0,
				Handoff: &bot.TicketRequest{Flow: "f", Step: "s"},
			})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = res.TicketID
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] || got[i] == 0 {
			t.Fatalf("tickets = %v, want one shared id", got)
		}
	}
	if n := p.countTickets(t, key); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
}

func testRecordsTranscriptAppend(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	res, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0, Handoff: &bot.TicketRequest{Flow: "f"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := bot.UpdateRecord{
		Key: key, UpdateID: "u2", At: t0.Add(time.Minute), Ticket: res.TicketID,
		Transcript: []bot.TranscriptLine{{From: "resident", Text: "một"}, {From: "bot", Text: "hai"}},
	}
	for range 2 {
		got, err := p.Record(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if got.TicketID != 0 {
			t.Errorf("append returned ticket %d, want 0 (no new ticket)", got.TicketID)
		}
	}
	msgs, err := p.TicketMessages(ctx, res.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Text != "một" || msgs[1].Text != "hai" || !msgs[0].At.Equal(t0.Add(time.Minute)) {
		t.Errorf("transcript = %+v", msgs)
	}

	// An unknown ticket fails the whole record: nothing else is written.
	other := zaloKey(t, "2")
	_, err = p.Record(ctx, bot.UpdateRecord{
		Key: other, UpdateID: "u1", At: t0, Ticket: 1 << 40,
		Events:     []flows.Event{event("step_entered", "f", "s")},
		Transcript: []bot.TranscriptLine{{From: "resident", Text: "x"}},
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if _, err := p.Resident(ctx, other); !errors.Is(err, ErrNotFound) {
		t.Errorf("resident written by a failed record: err = %v", err)
	}
	if n := p.countEvents(t, other); n != 0 {
		t.Errorf("%d events written by a failed record", n)
	}
}

func testRecordsResident(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	record := func(update string, at time.Time, name, lang string) {
		t.Helper()
		if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: update, At: at, Name: name, Lang: lang}); err != nil {
			t.Fatal(err)
		}
	}
	record("u1", t0, "Ông Tư", "vi")
	record("u2", t0.Add(time.Hour), "", "en")               // no name: keep it
	record("u0", t0.Add(-time.Hour), "Old name", "vi")      // late delivery of an older update
	record("u3", t0.Add(2*time.Hour), "Ông Tư Bến Tre", "") // no language: keep it

	r, err := p.Resident(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !r.FirstSeen.Equal(t0.Add(-time.Hour)) || !r.LastSeen.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("seen %v .. %v", r.FirstSeen, r.LastSeen)
	}
	if r.Name != "Ông Tư Bến Tre" || r.Lang != "en" || !r.Reachable || r.Consent != bot.ConsentUnasked || r.Key != key {
		t.Errorf("resident = %+v", r)
	}
}

func testSetReachable(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	reachable := func() bool {
		t.Helper()
		r, err := p.Resident(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return r.Reachable
	}
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReachable(ctx, key, false, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if reachable() {
		t.Error("still reachable after blocking")
	}
	// An older update arriving late does not undo the block.
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u0", At: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if reachable() {
		t.Error("a late older update made the resident reachable")
	}
	// Neither does an older unblock.
	if err := p.SetReachable(ctx, key, true, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if reachable() {
		t.Error("an older unblock made the resident reachable")
	}
	// A newer message does.
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u2", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r, err := p.Resident(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Reachable || !r.ReachableChangedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("after a new message: reachable %v changed %v", r.Reachable, r.ReachableChangedAt)
	}

	// Blocking before ever writing: the resident is created unreachable.
	fresh := zaloKey(t, "2")
	if err := p.SetReachable(ctx, fresh, false, t0); err != nil {
		t.Fatal(err)
	}
	r, err = p.Resident(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if r.Reachable {
		t.Error("new blocked resident is reachable")
	}
}

func testCancelTicket(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	res, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0, Handoff: &bot.TicketRequest{Flow: "f"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.CancelTicket(ctx, res.TicketID, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	tk, err := p.Ticket(ctx, res.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != TicketCancelled || !tk.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("ticket = %s at %v", tk.Status, tk.UpdatedAt)
	}

	// A closed ticket stays closed.
	res2, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u2", At: t0, Handoff: &bot.TicketRequest{Flow: "f"}})
	if err != nil {
		t.Fatal(err)
	}
	p.exec(t, `UPDATE tickets SET status = 'resolved' WHERE id = $1`, res2.TicketID)
	if err := p.CancelTicket(ctx, res2.TicketID, t0); err != nil {
		t.Fatal(err)
	}
	if tk, _ := p.Ticket(ctx, res2.TicketID); tk.Status != TicketResolved {
		t.Errorf("closed ticket became %s", tk.Status)
	}

	if err := p.CancelTicket(ctx, 1<<40, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancel unknown ticket: err = %v, want ErrNotFound", err)
	}
}

func testNotFound(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	if _, err := p.Resident(ctx, zaloKey(t, "nobody")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resident: err = %v, want ErrNotFound", err)
	}
	if _, err := p.Ticket(ctx, 1<<40); !errors.Is(err, ErrNotFound) {
		t.Errorf("Ticket: err = %v, want ErrNotFound", err)
	}
	msgs, err := p.TicketMessages(ctx, 1<<40)
	if err != nil || len(msgs) != 0 {
		t.Errorf("TicketMessages = %v, %v; want none", msgs, err)
	}
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: zaloKey(t, "x")}); err == nil {
		t.Error("Record without an update id succeeded")
	}
}

func testRecordsOddText(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	id := unique(t)
	key := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: id + "\x00/🧓🏼"}
	huge := strings.Repeat("Bà ơi 👵🏽 chụp mặt trước CCCD — ", 20000) // ~0.8 MB
	rec := bot.UpdateRecord{
		Key: key, UpdateID: "u\x001", At: t0,
		Name: "Bà\x00 Hai 🌸", Lang: "vi",
		Events: []flows.Event{event("step_\x00entered", id+"fl\x00ow", "👣")},
		Handoff: &bot.TicketRequest{
			Flow: "f", Step: "s", Reason: "r\x00", Summary: "tóm\x00tắt \xff",
			Vars: map[string]string{"k\x00": "v\x00🙂"},
		},
		Transcript: []bot.TranscriptLine{
			{From: "resident", Text: huge},
			{From: "resident", Text: "a\x00b\x00\x00c 👨‍👩‍👧 ZWJ, \u202e RTL"},
		},
	}
	res, err := p.Record(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := p.Record(ctx, rec); err != nil || again != res {
		t.Fatalf("replay = %+v, %v; want %+v", again, err, res)
	}
	r, err := p.Resident(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "Bà Hai 🌸" || r.Key.ChatID != id+"/🧓🏼" {
		t.Errorf("resident = %q %q", r.Name, r.Key.ChatID)
	}
	tk, err := p.Ticket(ctx, res.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Reason != "r" || tk.Summary != "tómtắt \uFFFD" || tk.Vars["k"] != "v🙂" || tk.SourceUpdate != "u1" {
		t.Errorf("ticket = %+v", tk)
	}
	msgs, err := p.TicketMessages(ctx, res.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Text != huge || msgs[1].Text != "abc 👨‍👩‍👧 ZWJ, \u202e RTL" {
		t.Errorf("transcript has %d lines; second = %q", len(msgs), msgs[len(msgs)-1].Text)
	}
	if n, err := p.CountEvents(ctx, "step_entered", id+"flow"); err != nil || n != 1 {
		t.Errorf("CountEvents = %d, %v; want 1", n, err)
	}
}

// testWaitingTickets checks the queue length follows handoffs and
// cancellations (tests in this package run one at a time).
func testWaitingTickets(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	before, err := p.WaitingTickets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := zaloKey(t, "q")
	res, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "q1", At: t0,
		Handoff: &bot.TicketRequest{Flow: "volunteer", Step: "ask"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := p.WaitingTickets(ctx); n != before+1 {
		t.Fatalf("after a handoff %d waiting, want %d", n, before+1)
	}
	if err := p.CancelTicket(ctx, res.TicketID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.WaitingTickets(ctx); n != before {
		t.Fatalf("after cancelling %d waiting, want %d", n, before)
	}
}

// testSkipResident: a record that may skip refreshing the resident still
// writes its events, and a handoff in it still finds (or makes) the resident.
func testSkipResident(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "skip")
	ev := []flows.Event{{Kind: flows.EventStepEntered, Flow: "f", Step: "s", At: t0}}
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "s1", At: t0, Events: ev}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "s2", At: t0.Add(time.Second), Events: ev, SkipResident: true}); err != nil {
		t.Fatal(err)
	}
	if n := p.countEvents(t, key); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
	fresh := zaloKey(t, "skip-new")
	res, err := p.Record(ctx, bot.UpdateRecord{Key: fresh, UpdateID: "s3", At: t0, SkipResident: true,
		Handoff: &bot.TicketRequest{Flow: "volunteer", Step: "ask"}})
	if err != nil || res.TicketID == 0 {
		t.Fatalf("handoff with SkipResident: %v %+v", err, res)
	}
	if _, err := p.Resident(ctx, fresh); err != nil {
		t.Fatalf("handoff did not record the resident: %v", err)
	}
}
