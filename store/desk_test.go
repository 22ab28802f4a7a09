package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// The desk contract (handoff.Store), on both durable stores.
func TestDeskContract(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b *recordsBackend)
	}{
		{"Staff", testDeskStaff},
		{"ClaimRace", testDeskClaimRace},
		{"ClaimRules", testDeskClaimRules},
		{"Moves", testDeskMoves},
		{"Timers", testDeskTimers},
		{"RateNoteTranscript", testDeskRateNote},
		{"QueueAndWaits", testDeskQueue},
	}
	for _, be := range recordsBackends() {
		t.Run(be.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, be.open(t)) })
			}
		})
	}
}

var deskT0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// openTicket opens a waiting ticket for a new resident at at.
func openTicket(t *testing.T, b *recordsBackend, at time.Time) int64 {
	t.Helper()
	key := zaloKey(t, fmt.Sprint(at.UnixNano()))
	res, err := b.Record(context.Background(), bot.UpdateRecord{Key: key, UpdateID: "h", At: at,
		Handoff: &bot.TicketRequest{Flow: "activate_account", Step: "nfc", Summary: "không quét được"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.TicketID
}

func approved(t *testing.T, d *Desk, name string, capacity int, areas ...string) handoff.Volunteer {
	t.Helper()
	ctx := context.Background()
	user := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t) + name}
	v, err := d.Apply(ctx, handoff.Volunteer{User: user, Chat: user, Name: name, Areas: areas, Capacity: capacity}, deskT0)
	if err != nil {
		t.Fatal(err)
	}
	if v, err = d.SetStaff(ctx, v.ID, handoff.Approved, handoff.RoleVolunteer, deskT0); err != nil {
		t.Fatal(err)
	}
	return v
}

func testDeskStaff(t *testing.T, b *recordsBackend) {
	ctx := context.Background()
	d := b.Desk()
	user := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t)}
	v, err := d.Apply(ctx, handoff.Volunteer{User: user, Chat: user, Name: "Lan\x00 🙂", Areas: []string{"p_a", "p_a", " "},
		Skills: []string{"vneid"}}, deskT0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != handoff.Applied || v.Role != handoff.RoleVolunteer || v.Capacity != 3 || v.Name != "Lan 🙂" ||
		!slices.Equal(v.Areas, []string{"p_a"}) || !slices.Equal(v.Skills, []string{"vneid"}) || !v.Created.Equal(deskT0) {
		t.Fatalf("applied = %+v", v)
	}
	if v.Active() {
		t.Fatal("an applicant is active")
	}
	if _, err := d.SetStaff(ctx, v.ID, handoff.Suspended, handoff.RoleVolunteer, deskT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// applying again updates the details but not the status
	v2, err := d.Apply(ctx, handoff.Volunteer{User: user, Chat: user, Name: "Lan B", Skills: []string{"dvc"}}, deskT0.Add(2*time.Hour))
	if err != nil || v2.ID != v.ID || v2.Status != handoff.Suspended || v2.Name != "Lan B" || len(v2.Areas) != 0 {
		t.Fatalf("apply again = %+v, %v", v2, err)
	}
	if got, err := d.Volunteer(ctx, user); err != nil || got.ID != v.ID {
		t.Fatalf("Volunteer = %+v, %v", got, err)
	}
	if _, err := d.Volunteer(ctx, bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "nobody"}); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("unknown volunteer: %v", err)
	}
	if _, err := d.SetStaff(ctx, 1<<40, handoff.Approved, handoff.RoleVolunteer, deskT0); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	org, err := d.EnsureOrganizer(ctx, user, user, "x", deskT0)
	if err != nil || !org.Organizer() || org.ID != v.ID || org.Name != "Lan B" {
		t.Fatalf("EnsureOrganizer = %+v, %v", org, err)
	}
	all, err := d.Volunteers(ctx)
	if err != nil || !slices.ContainsFunc(all, func(x handoff.Volunteer) bool { return x.ID == v.ID }) {
		t.Fatalf("Volunteers = %v, %v", all, err)
	}
}

// 100 volunteers tap "claim" on one ticket at once: exactly one gets it.
func testDeskClaimRace(t *testing.T, b *recordsBackend) {
	ctx := context.Background()
	d := b.Desk()
	id := openTicket(t, b, deskT0)
	vols := make([]handoff.Volunteer, 100)
	for i := range vols {
		vols[i] = approved(t, d, fmt.Sprint("v", i), 3)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, taken := 0, 0
	for _, v := range vols {
		wg.Go(func() {
			_, err := d.Claim(ctx, id, v, deskT0.Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, handoff.ErrTaken):
				taken++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 || taken != 99 {
		t.Fatalf("won %d, taken %d; want 1 and 99", won, taken)
	}
	audit, err := d.Audit(ctx, id)
	if err != nil || len(audit) != 1 || audit[0].To != handoff.Assigned {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}

func testDeskClaimRules(t *testing.T, b *recordsBackend) {
	ctx := context.Background()
	d := b.Desk()
	v := approved(t, d, "one", 1)
	a, c := openTicket(t, b, deskT0), openTicket(t, b, deskT0.Add(time.Second))
	tk, err := d.Claim(ctx, a, v, deskT0.Add(time.Minute))
	if err != nil || tk.Status != handoff.Assigned || tk.Volunteer != v.ID || !tk.AssignedAt.Equal(deskT0.Add(time.Minute)) {
		t.Fatalf("claim = %+v, %v", tk, err)
	}
	if _, err := d.Claim(ctx, c, v, deskT0.Add(time.Minute)); !errors.Is(err, handoff.ErrAtCapacity) {
		t.Fatalf("claim over capacity: %v", err)
	}
	// an applicant or a suspended volunteer cannot claim
	user := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t) + "new"}
	app, _ := d.Apply(ctx, handoff.Volunteer{User: user, Chat: user, Name: "new"}, deskT0)
	if _, err := d.Claim(ctx, c, app, deskT0); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("applicant claims: %v", err)
	}
	sus := approved(t, d, "sus", 3)
	if _, err := d.SetStaff(ctx, sus.ID, handoff.Suspended, handoff.RoleVolunteer, deskT0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Claim(ctx, c, sus, deskT0); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("suspended claims: %v", err)
	}
	if tk, _ := d.Ticket(ctx, c); tk.Status != handoff.Waiting {
		t.Fatalf("refused claims changed the ticket: %s", tk.Status)
	}
	if _, err := d.Claim(ctx, 1<<40, sus, deskT0); err == nil {
		t.Fatal("claimed an unknown ticket")
	}
}

func testDeskMoves(t *testing.T, b *recordsBackend) {
	ctx := context.Background()
	d := b.Desk()
	v, other := approved(t, d, "a", 3), approved(t, d, "b", 3)
	id := openTicket(t, b, deskT0)
	if _, err := d.Claim(ctx, id, v, deskT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	release := handoff.Move{Ticket: id, From: []handoff.Status{handoff.Assigned}, To: handoff.Waiting, Volunteer: other.ID,
		Actor: fmt.Sprint("volunteer:", other.ID), At: deskT0.Add(2 * time.Minute)}
	if _, err := d.Move(ctx, release); !errors.Is(err, handoff.ErrStale) {
		t.Fatalf("release by another volunteer: %v", err)
	}
	release.Volunteer, release.Actor = v.ID, fmt.Sprint("volunteer:", v.ID)
	tk, err := d.Move(ctx, release)
	if err != nil || tk.Status != handoff.Waiting || tk.Volunteer != 0 {
		t.Fatalf("release = %+v, %v", tk, err)
	}
	if _, err := d.Claim(ctx, id, other, deskT0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	done := handoff.Move{Ticket: id, From: []handoff.Status{handoff.Assigned}, To: handoff.Resolved, Volunteer: other.ID,
		Actor: "volunteer", Category: "vneid", At: deskT0.Add(9 * time.Minute)}
	tk, err = d.Move(ctx, done)
	if err != nil || tk.Status != handoff.Resolved || tk.Category != "vneid" || !tk.ClosedAt.Equal(deskT0.Add(9*time.Minute)) {
		t.Fatalf("resolve = %+v, %v", tk, err)
	}
	// a second /done, a cancel after it: stale, nothing changes
	if _, err := d.Move(ctx, done); !errors.Is(err, handoff.ErrStale) {
		t.Fatalf("resolve twice: %v", err)
	}
	if _, err := d.Move(ctx, handoff.Move{Ticket: id, From: []handoff.Status{handoff.Waiting, handoff.Assigned}, To: handoff.Cancelled,
		Actor: "resident", At: deskT0.Add(10 * time.Minute)}); !errors.Is(err, handoff.ErrStale) {
		t.Fatalf("cancel a resolved ticket: %v", err)
	}
	if _, err := d.Move(ctx, handoff.Move{Ticket: 1 << 40, From: []handoff.Status{handoff.Waiting}, To: handoff.Cancelled}); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("move unknown: %v", err)
	}
	audit, err := d.Audit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, e := range audit {
		path = append(path, string(e.From)+">"+string(e.To))
	}
	if want := []string{"waiting>assigned", "assigned>waiting", "waiting>assigned", "assigned>resolved"}; !slices.Equal(path, want) {
		t.Fatalf("audit = %v, want %v", path, want)
	}
	if !audit[3].At.Equal(deskT0.Add(9*time.Minute)) || audit[1].Actor != fmt.Sprint("volunteer:", v.ID) {
		t.Fatalf("audit entries = %+v", audit)
	}
	as, err := d.Assigned(ctx, other.ID)
	if err != nil || len(as) != 0 {
		t.Fatalf("assigned after resolve = %v, %v", as, err)
	}
}

func testDeskTimers(t *testing.T, b *recordsBackend) {
	ctx := context.Background()
	d := b.Desk()
	v := approved(t, d, "t", 5)
	old := openTicket(t, b, deskT0)
	fresh := openTicket(t, b, deskT0.Add(35*time.Minute))
	silentVol := openTicket(t, b, deskT0)
	silentRes := openTicket(t, b, deskT0)
	for _, id := range []int64{silentVol, silentRes} {
		if _, err := d.Claim(ctx, id, v, deskT0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// the resident wrote after the volunteer on silentVol; the volunteer
	// spoke last on silentRes
	must(t, d.Said(ctx, silentVol, true, deskT0.Add(2*time.Minute)))
	must(t, d.Said(ctx, silentVol, false, deskT0.Add(3*time.Minute)))
	must(t, d.Said(ctx, silentRes, false, deskT0.Add(2*time.Minute)))
	must(t, d.Said(ctx, silentRes, true, deskT0.Add(4*time.Minute)))
	must(t, d.Said(ctx, silentRes, true, deskT0.Add(3*time.Minute))) // older: ignored

	now := deskT0.Add(40 * time.Minute)
	due, err := d.Due(ctx, now.Add(-10*time.Minute), now.Add(-15*time.Minute), now.Add(-30*time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	has := func(ts []handoff.Ticket, id int64) bool {
		return slices.ContainsFunc(ts, func(x handoff.Ticket) bool { return x.ID == id })
	}
	if !has(due.Unclaimed, old) || has(due.Unclaimed, fresh) {
		t.Fatalf("unclaimed = %v", due.Unclaimed)
	}
	if !has(due.SilentVolunteer, silentVol) || has(due.SilentVolunteer, silentRes) {
		t.Fatalf("silent volunteer = %v", due.SilentVolunteer)
	}
	if !has(due.SilentResident, silentRes) || has(due.SilentResident, silentVol) {
		t.Fatalf("silent resident = %v", due.SilentResident)
	}
	if tk, _ := d.Ticket(ctx, silentRes); !tk.VolunteerSaid.Equal(deskT0.Add(4 * time.Minute)) {
		t.Fatalf("volunteer said at %v", tk.VolunteerSaid)
	}
	// the reminder goes out once, however many replicas try
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for range 8 {
		wg.Go(func() {
			ok, err := d.Remind(ctx, old, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				sent++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if sent != 1 {
		t.Fatalf("reminder marked %d times", sent)
	}
	due, _ = d.Due(ctx, now, now, now, 100)
	if has(due.Unclaimed, old) {
		t.Fatal("a reminded ticket is still due")
	}
}

func testDeskRateNote(t *testing.T, b *recordsBackend) {
	ctx := context.Background()
	d := b.Desk()
	v := approved(t, d, "r", 3)
	id := openTicket(t, b, deskT0)
	tk, _ := d.Ticket(ctx, id)
	if ok, err := d.Rate(ctx, id, tk.Resident, 5, "", deskT0); ok || err != nil {
		t.Fatalf("rating a waiting ticket = %v, %v", ok, err)
	}
	if _, err := d.Claim(ctx, id, v, deskT0); err != nil {
		t.Fatal(err)
	}
	lines := []bot.TranscriptLine{{From: "volunteer", Text: "Chào Bác 🙂", At: deskT0}, {From: "volunteer", Text: "x\x00y", At: deskT0}}
	must(t, d.Note(ctx, id, "upd-7", lines))
	must(t, d.Note(ctx, id, "upd-7", lines)) // a re-run adds nothing
	if _, err := d.Move(ctx, handoff.Move{Ticket: id, From: []handoff.Status{handoff.Assigned}, To: handoff.Resolved, Actor: "v", At: deskT0}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := d.Rate(ctx, id, bot.ConvKey{Channel: tk.Resident.Channel, ChatID: "someone-else"}, 5, "", deskT0); ok {
		t.Fatal("another resident rated the ticket")
	}
	if ok, err := d.Rate(ctx, id, tk.Resident, 0, "", deskT0); ok || err == nil {
		t.Fatal("0 stars accepted")
	}
	if ok, err := d.Rate(ctx, id, tk.Resident, 4, "", deskT0); !ok || err != nil {
		t.Fatalf("rate = %v, %v", ok, err)
	}
	if ok, _ := d.Rate(ctx, id, tk.Resident, 1, "", deskT0); ok {
		t.Fatal("rated twice")
	}
	if ok, err := d.Rate(ctx, id, tk.Resident, 4, "Cảm ơn em", deskT0); !ok || err != nil {
		t.Fatalf("comment = %v, %v", ok, err)
	}
	if tk, _ := d.Ticket(ctx, id); tk.Rating != 4 {
		t.Fatalf("rating = %d", tk.Rating)
	}
	tr, err := d.Transcript(ctx, id)
	if err != nil || len(tr) != 2 || tr[0].Text != "Chào Bác 🙂" || tr[1].Text != "xy" || tr[0].From != "volunteer" {
		t.Fatalf("transcript = %+v, %v", tr, err)
	}
	// retention: closed before the cutoff goes, the rest stays
	open := openTicket(t, b, deskT0)
	must(t, d.Note(ctx, open, "u", []bot.TranscriptLine{{From: "resident", Text: "còn đây", At: deskT0}}))
	n, err := d.PurgeTranscripts(ctx, deskT0.Add(time.Hour))
	if err != nil || n < 2 {
		t.Fatalf("purged %d, %v", n, err)
	}
	if tr, _ := d.Transcript(ctx, id); len(tr) != 0 {
		t.Fatalf("closed transcript kept: %v", tr)
	}
	if tr, _ := d.Transcript(ctx, open); len(tr) != 1 {
		t.Fatalf("open ticket's transcript purged: %v", tr)
	}
}

func testDeskQueue(t *testing.T, b *recordsBackend) {
	ctx := context.Background()
	d := b.Desk()
	// tickets of other tests may wait too: positions are relative
	first := openTicket(t, b, deskT0.Add(-time.Hour))
	second := openTicket(t, b, deskT0.Add(-time.Hour+time.Second))
	p1, err := d.Position(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := d.Position(ctx, second); p2 != p1+1 {
		t.Fatalf("positions %d, %d", p1, p2)
	}
	ws, err := d.Waiting(ctx, 1000)
	if err != nil || !slices.IsSortedFunc(ws, func(a, b handoff.Ticket) int { return a.CreatedAt.Compare(b.CreatedAt) }) {
		t.Fatalf("waiting = %v, %v", ws, err)
	}
	v := approved(t, d, "w", 3)
	if _, err := d.Claim(ctx, first, v, deskT0.Add(-time.Hour+3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if p2, _ := d.Position(ctx, second); p2 != p1 {
		t.Fatalf("position after the first was taken = %d, want %d", p2, p1)
	}
	waits, err := d.RecentWaits(ctx, deskT0.Add(-2*time.Hour), 10)
	if err != nil || !slices.Contains(waits, 3*time.Minute) {
		t.Fatalf("recent waits = %v, %v", waits, err)
	}
	must(t, d.SetTopicArea(ctx, second, "vneid", "phuong_a"))
	must(t, d.SetCard(ctx, second, "42", "card"))
	if tk, _ := d.Ticket(ctx, second); tk.Topic != "vneid" || tk.Area != "phuong_a" || tk.CardID != "42" || tk.CardText != "card" {
		t.Fatalf("ticket = %+v", tk)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
