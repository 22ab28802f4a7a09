package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// The reminders contract (bot.Reminders and RemindersQueue), on both
// durable stores. PostgreSQL's database is shared by the package's tests:
// each test's residents have external ids starting with its own prefix,
// and it deletes its reminders when it ends; Due and Rescue, which see
// every reminder, find only the running test's.
func TestRemindersContract(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, f *remFixture)
	}{
		{"Schedule", testReminderSchedule},
		{"ScheduleRejects", testReminderScheduleRejects},
		{"Cancel", testReminderCancel},
		{"CancelAll", testReminderCancelAll},
		{"Due", testReminderDue},
		{"DueConcurrent", testReminderDueConcurrent},
		{"Sent", testReminderSent},
		{"Rescue", testReminderRescue},
		{"Release", testReminderRelease},
		{"OddText", testReminderOddText},
	}
	for _, be := range recordsBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, newRemFixture(t, be.open(t))) })
			}
		})
	}
}

var remT0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// remFixture is one test's view of a backend.
type remFixture struct {
	*recordsBackend
	t      *testing.T
	q      *RemindersQueue
	sqlite bool
	prefix string // of the external ids of the test's residents
	n      int    // updates made so far
}

func newRemFixture(t *testing.T, b *recordsBackend) *remFixture {
	_, sqlite := b.recordsStore.(*SQLite)
	f := &remFixture{recordsBackend: b, t: t, q: b.RemindersQueue(), sqlite: sqlite, prefix: unique(t) + "/"}
	t.Cleanup(func() {
		f.exec(t, `DELETE FROM reminders WHERE substr(external_id, 1, length($1)) = $1`, f.prefix)
	})
	return f
}

// row queries the backend's database directly.
func (f *remFixture) row(query string, args ...any) *sql.Row {
	db := f.q.r // PostgreSQL's one pool; SQLite's readers see every commit
	return db.QueryRowContext(context.Background(), query, args...)
}

// key is the test's resident i.
func (f *remFixture) key(i int) bot.ConvKey {
	return bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprint(f.prefix, i)}
}

// schedule stores a reminder of resident i due at due, from a new update.
func (f *remFixture) schedule(i int, due time.Time) int64 {
	f.t.Helper()
	f.n++
	id, err := f.ScheduleReminder(context.Background(), bot.Reminder{Key: f.key(i), Lang: "vi", Flow: "level2", Step: "wait_sms",
		Due: due, Update: fmt.Sprint("u", f.n), Created: remT0})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *remFixture) reminder(id int64) bot.Reminder {
	f.t.Helper()
	r, err := f.q.Reminder(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *remFixture) state(id int64) bot.ReminderState {
	f.t.Helper()
	return f.reminder(id).State
}

// due claims up to n reminders due at now for owner.
func (f *remFixture) due(owner string, now time.Time, n int) []bot.Reminder {
	f.t.Helper()
	rs, err := f.q.Due(context.Background(), owner, now, n)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range rs {
		if !strings.HasPrefix(r.Key.ChatID, f.prefix) {
			f.t.Fatalf("claimed another test's reminder %+v", r)
		}
	}
	return rs
}

func remIDs(rs []bot.Reminder) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// claim is the stored claim of reminder id.
func (f *remFixture) claim(id int64) (by string, at time.Time) {
	f.t.Helper()
	var t dbTime
	err := f.row(`SELECT claimed_by, claimed_at FROM reminders WHERE id = $1`, id).Scan(&by, &t)
	if err != nil {
		f.t.Fatal(err)
	}
	return by, t.t
}

func testReminderSchedule(t *testing.T, f *remFixture) {
	ctx := context.Background()
	due := remT0.Add(24 * time.Hour)
	r := bot.Reminder{Key: f.key(1), Lang: "en", Flow: "level2", Step: "wait_sms", Due: due, Update: "u1",
		State: bot.ReminderSent, Created: remT0}
	id, err := f.ScheduleReminder(ctx, r)
	if err != nil || id <= 0 {
		t.Fatalf("ScheduleReminder = %d, %v", id, err)
	}
	got := f.reminder(id)
	want := r
	want.ID, want.State = id, bot.ReminderScheduled // whatever State says
	if !got.Due.Equal(due) || !got.Created.Equal(remT0) {
		t.Errorf("times: due %v created %v", got.Due, got.Created)
	}
	got.Due, got.Created, want.Due, want.Created = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("stored %+v\nwant   %+v", got, want)
	}

	// The same update again (a re-delivery), even saying something else:
	// the first one's id, nothing changed.
	again := r
	again.Due, again.Step = due.Add(time.Hour), "other"
	if id2, err := f.ScheduleReminder(ctx, again); err != nil || id2 != id {
		t.Fatalf("again = %d, %v; want %d", id2, err, id)
	}
	if got := f.reminder(id); !got.Due.Equal(due) || got.Step != "wait_sms" {
		t.Errorf("a re-delivery changed the reminder: %+v", got)
	}
	if n := f.count(t, `SELECT count(*) FROM reminders WHERE channel = $1 AND external_id = $2`, string(r.Key.Channel), r.Key.ChatID); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
	// Another update, or another resident's same update id: new reminders.
	other := r
	other.Update = "u2"
	id3, err := f.ScheduleReminder(ctx, other)
	if err != nil || id3 == id {
		t.Fatalf("another update = %d, %v", id3, err)
	}
	other.Key, other.Update = f.key(2), "u1"
	id4, err := f.ScheduleReminder(ctx, other)
	if err != nil || id4 == id || id4 == id3 {
		t.Fatalf("another resident = %d, %v", id4, err)
	}
	other.Key.Channel = bot.ChannelZaloBot
	other.Key.ChatID = f.key(1).ChatID
	if id5, err := f.ScheduleReminder(ctx, other); err != nil || id5 == id {
		t.Fatalf("another channel = %d, %v", id5, err)
	}
	// A zero Created is now; an empty step is the flow's start.
	before := time.Now().Add(-time.Minute)
	id6, err := f.ScheduleReminder(ctx, bot.Reminder{Key: f.key(3), Flow: "level2", Due: due, Update: "u9"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.reminder(id6); got.Created.Before(before) || got.Step != "" || got.Lang != "" {
		t.Errorf("defaults: %+v", got)
	}
	if _, err := f.q.Reminder(ctx, id6+1000); !errors.Is(err, bot.ErrNoReminder) {
		t.Errorf("Reminder(unknown) = %v", err)
	}
}

func testReminderScheduleRejects(t *testing.T, f *remFixture) {
	ctx := context.Background()
	good := bot.Reminder{Key: f.key(1), Flow: "level2", Step: "bring", Due: remT0, Update: "u1"}
	for name, change := range map[string]func(r *bot.Reminder){
		"no channel":        func(r *bot.Reminder) { r.Key.Channel = "" },
		"no chat":           func(r *bot.Reminder) { r.Key.ChatID = "" },
		"no flow":           func(r *bot.Reminder) { r.Flow = "" },
		"a flow of NULs":    func(r *bot.Reminder) { r.Flow = "\x00\x00" },
		"no update":         func(r *bot.Reminder) { r.Update = "" },
		"an update of NULs": func(r *bot.Reminder) { r.Update = "\x00" },
		"no due time":       func(r *bot.Reminder) { r.Due = time.Time{} },
	} {
		r := good
		change(&r)
		if id, err := f.ScheduleReminder(ctx, r); err == nil {
			t.Errorf("%s: scheduled %d", name, id)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM reminders WHERE substr(external_id, 1, length($1)) = $1`, f.prefix); n != 0 {
		t.Errorf("%d rows stored", n)
	}
}

func testReminderCancel(t *testing.T, f *remFixture) {
	ctx := context.Background()
	at := remT0.Add(time.Hour)
	id := f.schedule(1, remT0.Add(24*time.Hour))
	// Another resident cannot cancel it, nor anyone a reminder that does not exist.
	for _, c := range []struct {
		key bot.ConvKey
		id  int64
	}{{f.key(2), id}, {bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: f.key(1).ChatID}, id}, {f.key(1), id + 1000}} {
		if ok, err := f.CancelReminder(ctx, c.key, c.id, at); ok || !errors.Is(err, bot.ErrNoReminder) {
			t.Errorf("CancelReminder(%s, %d) = %v, %v; want ErrNoReminder", c.key, c.id, ok, err)
		}
	}
	if s := f.state(id); s != bot.ReminderScheduled {
		t.Fatalf("state %s after others' cancels", s)
	}
	if ok, err := f.CancelReminder(ctx, f.key(1), id, at); !ok || err != nil {
		t.Fatalf("CancelReminder = %v, %v", ok, err)
	}
	if s := f.state(id); s != bot.ReminderCancelled {
		t.Errorf("state %s", s)
	}
	var cancelled dbTime
	if err := f.row(`SELECT cancelled_at FROM reminders WHERE id = $1`, id).Scan(&cancelled); err != nil || !cancelled.t.Equal(at) {
		t.Errorf("cancelled_at %v, %v", cancelled.t, err)
	}
	if ok, err := f.CancelReminder(ctx, f.key(1), id, at); ok || err != nil {
		t.Errorf("cancelled again = %v, %v; want false, nil", ok, err)
	}
	if rs := f.due("w", remT0.Add(48*time.Hour), 10); len(rs) != 0 {
		t.Errorf("a cancelled reminder is due: %+v", rs)
	}

	// Being sent, or sent: too late, not an error, nothing changes.
	sending := f.schedule(1, remT0)
	sent := f.schedule(1, remT0)
	if got := f.due("w", remT0, 10); !slices.Equal(remIDs(got), []int64{sending, sent}) {
		t.Fatalf("due = %v", remIDs(got))
	}
	if err := f.q.Sent(ctx, sent, remT0); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]bot.ReminderState{sending: bot.ReminderSending, sent: bot.ReminderSent} {
		if ok, err := f.CancelReminder(ctx, f.key(1), id, at); ok || err != nil {
			t.Errorf("cancel a %s reminder = %v, %v; want false, nil", want, ok, err)
		}
		if s := f.state(id); s != want {
			t.Errorf("state %s, want %s", s, want)
		}
	}
}

func testReminderCancelAll(t *testing.T, f *remFixture) {
	ctx := context.Background()
	mine := []int64{f.schedule(1, remT0.Add(time.Hour)), f.schedule(1, remT0.Add(2*time.Hour)), f.schedule(1, remT0.Add(48*time.Hour))}
	sent := f.schedule(1, remT0)
	theirs := f.schedule(2, remT0.Add(time.Hour))
	if got := f.due("w", remT0, 10); !slices.Equal(remIDs(got), []int64{sent}) {
		t.Fatalf("due = %v", remIDs(got))
	}
	if err := f.q.Sent(ctx, sent, remT0); err != nil {
		t.Fatal(err)
	}
	if n, err := f.CancelReminders(ctx, f.key(1), remT0); n != 3 || err != nil {
		t.Fatalf("CancelReminders = %d, %v; want 3", n, err)
	}
	for _, id := range mine {
		if s := f.state(id); s != bot.ReminderCancelled {
			t.Errorf("reminder %d is %s", id, s)
		}
	}
	if s := f.state(sent); s != bot.ReminderSent {
		t.Errorf("sent reminder is %s", s)
	}
	if s := f.state(theirs); s != bot.ReminderScheduled {
		t.Errorf("another resident's reminder is %s", s)
	}
	if n, err := f.CancelReminders(ctx, f.key(1), remT0); n != 0 || err != nil {
		t.Errorf("again = %d, %v", n, err)
	}
	if n, err := f.CancelReminders(ctx, f.key(9), remT0); n != 0 || err != nil {
		t.Errorf("a resident without reminders = %d, %v", n, err)
	}
}

func testReminderDue(t *testing.T, f *remFixture) {
	ctx := context.Background()
	now := remT0
	late := f.schedule(1, now)
	early := f.schedule(2, now.Add(-time.Hour))
	sameA, sameB := f.schedule(3, now.Add(-time.Minute)), f.schedule(4, now.Add(-time.Minute))
	future := f.schedule(5, now.Add(time.Second))
	f.schedule(6, now.Add(time.Hour)) // cancelled
	if _, err := f.CancelReminders(ctx, f.key(6), now); err != nil {
		t.Fatal(err)
	}

	if rs, err := f.q.Due(ctx, "w1", now, 0); rs != nil || err != nil {
		t.Errorf("Due(n = 0) = %v, %v", rs, err)
	}
	if _, err := f.q.Due(ctx, "", now, 10); err == nil {
		t.Error("Due with no owner")
	}
	got := f.due("w1", now, 3)
	if !slices.Equal(remIDs(got), []int64{early, sameA, sameB}) {
		t.Fatalf("first claim %v, want %v (oldest due first)", remIDs(got), []int64{early, sameA, sameB})
	}
	for _, r := range got {
		if r.State != bot.ReminderSending || r.Flow != "level2" || r.Step != "wait_sms" || r.Lang != "vi" || r.Key != f.key(int(r.Key.ChatID[len(r.Key.ChatID)-1]-'0')) {
			t.Errorf("claimed %+v", r)
		}
		if by, at := f.claim(r.ID); by != "w1" || !at.Equal(now) {
			t.Errorf("claim of %d: %q at %v", r.ID, by, at)
		}
		if s := f.state(r.ID); s != bot.ReminderSending {
			t.Errorf("stored state %s", s)
		}
	}
	if got := f.due("w2", now, 10); !slices.Equal(remIDs(got), []int64{late}) {
		t.Errorf("second claim %v, want [%d] (due at now)", remIDs(got), late)
	}
	if got := f.due("w2", now, 10); len(got) != 0 {
		t.Errorf("third claim %v", remIDs(got))
	}
	if got := f.due("w2", now.Add(time.Hour), 10); !slices.Equal(remIDs(got), []int64{future}) {
		t.Errorf("an hour later %v, want [%d]", remIDs(got), future)
	}
}

func testReminderDueConcurrent(t *testing.T, f *remFixture) {
	ctx := context.Background()
	const total, workers = 500, 8
	now := remT0
	want := map[int64]bool{}
	for i := range total {
		want[f.schedule(i, now.Add(-time.Duration(i%50)*time.Minute))] = true
	}
	claimed := make([][]bot.Reminder, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				rs, err := f.q.Due(ctx, fmt.Sprint("w", w), now, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(rs) == 0 {
					return
				}
				claimed[w] = append(claimed[w], rs...)
			}
		})
	}
	wg.Wait()
	seen := map[int64]int{}
	for w, rs := range claimed {
		if !slices.IsSortedFunc(rs[:min(len(rs), 7)], func(a, b bot.Reminder) int { return a.Due.Compare(b.Due) }) {
			t.Errorf("worker %d: a claim out of due order", w)
		}
		for _, r := range rs {
			if seen[r.ID]++; seen[r.ID] > 1 {
				t.Errorf("reminder %d claimed twice (worker %d)", r.ID, w)
			}
			if !want[r.ID] {
				t.Errorf("worker %d claimed %+v, not the test's", w, r)
			}
		}
		n := f.count(t, `SELECT count(*) FROM reminders WHERE state = 'sending' AND claimed_by = $1`, fmt.Sprint("w", w))
		if n != len(rs) {
			t.Errorf("worker %d: %d rows claimed by it, it got %d", w, n, len(rs))
		}
	}
	if len(seen) != total {
		t.Errorf("%d reminders claimed, want %d", len(seen), total)
	}
	if n := f.count(t, `SELECT count(*) FROM reminders WHERE state = 'scheduled' AND substr(external_id, 1, length($1)) = $1`, f.prefix); n != 0 {
		t.Errorf("%d left scheduled", n)
	}
}

func testReminderSent(t *testing.T, f *remFixture) {
	ctx := context.Background()
	id := f.schedule(1, remT0)
	if err := f.q.Sent(ctx, id, remT0); err == nil || errors.Is(err, bot.ErrNoReminder) {
		t.Errorf("Sent of a reminder never claimed = %v; want an error other than ErrNoReminder", err)
	}
	if s := f.state(id); s != bot.ReminderScheduled {
		t.Fatalf("state %s", s)
	}
	f.due("w1", remT0, 10)
	at := remT0.Add(time.Second)
	if err := f.q.Sent(ctx, id, at); err != nil {
		t.Fatal(err)
	}
	var sentAt dbTime
	if err := f.row(`SELECT sent_at FROM reminders WHERE id = $1`, id).Scan(&sentAt); err != nil || !sentAt.t.Equal(at) {
		t.Errorf("sent_at %v, %v", sentAt.t, err)
	}
	if s := f.state(id); s != bot.ReminderSent {
		t.Errorf("state %s", s)
	}
	if err := f.q.Sent(ctx, id, at.Add(time.Minute)); err != nil {
		t.Errorf("Sent again = %v", err)
	}
	if err := f.row(`SELECT sent_at FROM reminders WHERE id = $1`, id).Scan(&sentAt); err != nil || !sentAt.t.Equal(at) {
		t.Errorf("sent_at after Sent again %v, %v", sentAt.t, err)
	}
	if err := f.q.Sent(ctx, id+1000, at); !errors.Is(err, bot.ErrNoReminder) {
		t.Errorf("Sent of no reminder = %v", err)
	}
	gone := f.schedule(1, remT0.Add(time.Hour))
	if _, err := f.CancelReminder(ctx, f.key(1), gone, remT0); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Sent(ctx, gone, at); err == nil || f.state(gone) != bot.ReminderCancelled {
		t.Errorf("Sent of a cancelled reminder = %v, state %s", err, f.state(gone))
	}
}

func testReminderRescue(t *testing.T, f *remFixture) {
	ctx := context.Background()
	now := remT0
	rs := []int64{f.schedule(1, now.Add(-time.Hour)), f.schedule(2, now.Add(-time.Minute)), f.schedule(3, now)}
	claimed := f.due("w1", now, 10)
	if !slices.Equal(remIDs(claimed), rs) {
		t.Fatalf("claimed %v", remIDs(claimed))
	}
	if err := f.q.Sent(ctx, rs[2], now); err != nil {
		t.Fatal(err)
	}
	if n, err := f.q.Rescue(ctx, now); n != 0 || err != nil {
		t.Fatalf("Rescue of claims not older = %d, %v", n, err)
	}
	if n, err := f.q.Rescue(ctx, now.Add(time.Minute)); n != 2 || err != nil {
		t.Fatalf("Rescue = %d, %v; want 2", n, err)
	}
	for _, id := range rs[:2] {
		if by, at := f.claim(id); f.state(id) != bot.ReminderScheduled || by != "" || !at.IsZero() {
			t.Errorf("rescued %d: %s, claimed by %q at %v", id, f.state(id), by, at)
		}
	}
	if s := f.state(rs[2]); s != bot.ReminderSent {
		t.Errorf("the sent one is %s", s)
	}
	if got := f.due("w2", now.Add(time.Minute), 10); !slices.Equal(remIDs(got), rs[:2]) || !got[0].Due.Equal(now.Add(-time.Hour)) {
		t.Errorf("claimed after the rescue: %+v", got)
	}
	if n, err := f.q.Rescue(ctx, now.Add(time.Minute)); n != 0 || err != nil {
		t.Errorf("Rescue of the new claims (not older) = %d, %v", n, err)
	}
}

func testReminderRelease(t *testing.T, f *remFixture) {
	ctx := context.Background()
	now := remT0
	a, b, c := f.schedule(1, now.Add(-3*time.Minute)), f.schedule(2, now.Add(-2*time.Minute)), f.schedule(3, now.Add(-time.Minute))
	if got := f.due("w1", now, 2); !slices.Equal(remIDs(got), []int64{a, b}) {
		t.Fatalf("w1 claimed %v", remIDs(got))
	}
	if got := f.due("w2", now, 2); !slices.Equal(remIDs(got), []int64{c}) {
		t.Fatalf("w2 claimed %v", remIDs(got))
	}
	if _, err := f.q.Release(ctx, ""); err == nil {
		t.Error("Release of no owner")
	}
	if n, err := f.q.Release(ctx, "w1"); n != 2 || err != nil {
		t.Fatalf("Release = %d, %v; want 2", n, err)
	}
	for _, id := range []int64{a, b} {
		if by, at := f.claim(id); f.state(id) != bot.ReminderScheduled || by != "" || !at.IsZero() {
			t.Errorf("released %d: %s by %q at %v", id, f.state(id), by, at)
		}
	}
	if by, _ := f.claim(c); f.state(c) != bot.ReminderSending || by != "w2" {
		t.Errorf("another owner's claim: %s by %q", f.state(c), by)
	}
	if n, err := f.q.Release(ctx, "w1"); n != 0 || err != nil {
		t.Errorf("Release again = %d, %v", n, err)
	}
	if got := f.due("w3", now, 10); !slices.Equal(remIDs(got), []int64{a, b}) {
		t.Errorf("claimed after the release %v", remIDs(got))
	}
}

// testReminderOddText: ids and text the store does not expect are stored
// clean (NUL dropped, invalid UTF-8 replaced), the same on both dialects,
// and found again by what the caller passes; what is empty once clean is
// refused.
func testReminderOddText(t *testing.T, f *remFixture) {
	ctx := context.Background()
	odd := bot.Reminder{
		Key:  bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: f.prefix + "a\x00b\xff"},
		Lang: "v\x00i", Flow: "lev\x00el2\xff", Step: "wait_\xc3sms\u202e", Due: remT0, Update: "u\x001\xfe",
		Created: remT0,
	}
	id, err := f.ScheduleReminder(ctx, odd)
	if err != nil {
		t.Fatal(err)
	}
	got := f.reminder(id)
	want := bot.Reminder{ID: id, Key: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: f.prefix + "ab\uFFFD"},
		Lang: "vi", Flow: "level2\uFFFD", Step: "wait_\uFFFDsms\u202e", State: bot.ReminderScheduled, Update: "u1\uFFFD"}
	got.Due, got.Created = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("stored %+v\nwant   %+v", got, want)
	}
	if got.Flow != clean(odd.Flow) || got.Step != clean(odd.Step) || got.Key.ChatID != clean(odd.Key.ChatID) {
		t.Error("not stored as clean makes it")
	}
	// The same odd update is the same update; the odd key finds its reminder.
	if id2, err := f.ScheduleReminder(ctx, odd); id2 != id || err != nil {
		t.Errorf("again = %d, %v; want %d", id2, err, id)
	}
	if ok, err := f.CancelReminder(ctx, odd.Key, id, remT0); !ok || err != nil {
		t.Errorf("CancelReminder by the odd key = %v, %v", ok, err)
	}
	if ok, err := f.CancelReminder(ctx, bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: f.prefix + "ab"}, id, remT0); ok || !errors.Is(err, bot.ErrNoReminder) {
		t.Errorf("CancelReminder by a near key = %v, %v", ok, err)
	}
	// Unicode that is valid is kept as it is.
	uni := bot.Reminder{Key: f.key(7), Flow: "hướng_dẫn_👵🏽", Step: "bước\u200b2", Due: remT0, Update: "ư"}
	uid, err := f.ScheduleReminder(ctx, uni)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.reminder(uid); got.Flow != uni.Flow || got.Step != uni.Step || got.Update != uni.Update {
		t.Errorf("unicode changed: %+v", got)
	}
	if got := f.due("w\x00", remT0, 10); len(got) != 1 || got[0].ID != uid || got[0].Flow != uni.Flow {
		t.Errorf("due %+v", got)
	}
	if by, _ := f.claim(uid); by != "w" {
		t.Errorf("claimed by %q", by)
	}
	if n, err := f.q.Release(ctx, "\x00w"); n != 1 || err != nil {
		t.Errorf("Release by the odd owner = %d, %v", n, err)
	}
	if _, err := f.q.Release(ctx, "\x00"); err == nil {
		t.Error("Release of an owner of NULs")
	}
}
