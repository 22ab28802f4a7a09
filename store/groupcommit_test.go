package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// eventRow is one stored flow event, as the group commit must write it.
type eventRow struct {
	update, kind, flow, step, lang, area, version string
	seq                                           int
	at                                            time.Time
}

// eventRowsOf reads key's flow events in update and seq order.
func eventRowsOf(t *testing.T, p *Postgres, key bot.ConvKey) []eventRow {
	t.Helper()
	rows, err := p.pool.Query(context.Background(), `
SELECT update_id, kind, flow, step, lang, area, version, seq, at FROM flow_events
WHERE channel = $1 AND external_id = $2 ORDER BY update_id, seq`, string(key.Channel), key.ChatID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var e eventRow
		if err := rows.Scan(&e.update, &e.kind, &e.flow, &e.step, &e.lang, &e.area, &e.version, &e.seq, &e.at); err != nil {
			t.Fatal(err)
		}
		e.at = e.at.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGroupCommitUnderConcurrency: 400 updates of 40 residents recorded at
// once (plus handoffs, which are never grouped) are written in fewer
// batches than records, every event exactly once with its update's
// language and area and its number within the update, and every resident
// with its last name.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	p := newTestPostgres(t)
	ctx := context.Background()
	const residents, perResident = 40, 10
	keys := make([]bot.ConvKey, residents)
	for i := range keys {
		keys[i] = bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprintf("%s-%d", unique(t), i)}
	}
	var wg sync.WaitGroup
	errs := make(chan error, residents*perResident+residents)
	for i, key := range keys {
		wg.Add(1)
		go func() { // one resident's updates in order, as the core sends them
			defer wg.Done()
			for n := range perResident {
				r := bot.UpdateRecord{
					Key: key, UpdateID: fmt.Sprint(n), At: t0.Add(time.Duration(n) * time.Second),
					Name: fmt.Sprintf("Bác %d/%d", i, n), Lang: "vi", Area: "26734", SkipResident: n%3 != 0,
					Events: []flows.Event{
						{Kind: flows.EventStepEntered, Flow: "install_vneid", Step: fmt.Sprint("s", n), Version: "v1"},
						{Kind: flows.EventFlowCompleted, Flow: "install_vneid", Version: "v1"},
					},
				}
				if n == perResident-1 {
					r.SkipResident = false // the last name must land
				}
				if _, err := p.Record(ctx, r); err != nil {
					errs <- err
				}
			}
			if i%8 == 0 { // a handoff goes alone, beside the groups
				if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "h", At: t0.Add(time.Hour),
					Handoff: &bot.TicketRequest{Flow: "volunteer"}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	batches, grouped := p.group.batches.Load(), p.group.grouped.Load()
	if grouped != residents*perResident {
		t.Errorf("%d records grouped, want %d (the handoffs go alone)", grouped, residents*perResident)
	}
	if batches >= grouped {
		t.Errorf("%d batches for %d records: nothing was grouped", batches, grouped)
	}
	t.Logf("%d records in %d batches", grouped, batches)

	for i, key := range keys {
		got := eventRowsOf(t, p, key)
		if len(got) != 2*perResident {
			t.Fatalf("%s: %d events, want %d", key, len(got), 2*perResident)
		}
		for n := range perResident {
			at := t0.Add(time.Duration(n) * time.Second)
			want := []eventRow{
				{update: fmt.Sprint(n), kind: "step_entered", flow: "install_vneid", step: fmt.Sprint("s", n), lang: "vi", area: "26734", version: "v1", seq: 1, at: at},
				{update: fmt.Sprint(n), kind: "flow_completed", flow: "install_vneid", lang: "vi", area: "26734", version: "v1", seq: 2, at: at},
			}
			for j, w := range want {
				if g := got[2*n+j]; g != w {
					t.Errorf("%s event %d: got %+v, want %+v", key, 2*n+j, g, w)
				}
			}
		}
		res, err := p.Resident(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		last := t0.Add(9 * time.Second)
		if i%8 == 0 {
			last = t0.Add(time.Hour) // the handoff's
		}
		if want := fmt.Sprintf("Bác %d/%d", i, perResident-1); res.Name != want || !res.LastSeen.Equal(last) {
			t.Errorf("%s: resident %q last seen %v, want %q at %v", key, res.Name, res.LastSeen, want, last)
		}
	}
}

// TestGroupCommitMatchesRecordAlone: an update recorded on its own and
// again in a group (a re-delivery, or two replicas) has its events once.
func TestGroupCommitMatchesRecordAlone(t *testing.T) {
	p := newTestPostgres(t)
	ctx := context.Background()
	key := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t)}
	r := bot.UpdateRecord{Key: key, UpdateID: "7", At: t0, Lang: "en", Area: "a",
		Events: []flows.Event{event("step_entered", "f", "a"), event("step_entered", "f", "b"), event("flow_completed", "f", "")}}
	if _, err := p.recordAlone(ctx, r); err != nil {
		t.Fatal(err)
	}
	alone := eventRowsOf(t, p, key)
	for range 2 {
		if err := p.recordGroup(ctx, []*pendingRecord{{r: r, at: r.At}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := eventRowsOf(t, p, key); len(got) != 3 || fmt.Sprint(got) != fmt.Sprint(alone) {
		t.Errorf("after the group commit: %+v, want %+v", got, alone)
	}

	other := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t) + "-b"}
	r.Key = other
	if err := p.recordGroup(ctx, []*pendingRecord{{r: r, at: r.At}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.recordAlone(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := eventRowsOf(t, p, other); len(got) != 3 {
		t.Errorf("grouped, then alone: %d events, want 3", len(got))
	}
}

// TestGroupCommitIsolatesAFailure: a record PostgreSQL refuses fails its
// batch; the batch is then written one by one, so only that record fails
// and the others of its batch are stored.
func TestGroupCommitIsolatesAFailure(t *testing.T) {
	p := newTestPostgres(t)
	base := unique(t)
	var batch []*pendingRecord
	for i := range 5 {
		r := bot.UpdateRecord{Key: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprint(base, "-", i)},
			UpdateID: "1", At: t0, Events: []flows.Event{event("step_entered", "f", "a")}}
		if i == 2 {
			r.Events[0].At = time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC) // beyond timestamptz
		}
		batch = append(batch, &pendingRecord{r: r, at: r.At, done: make(chan error, 1)})
	}
	p.group.flush(batch)
	for _, pr := range batch {
		err := <-pr.done
		n := len(eventRowsOf(t, p, pr.r.Key))
		if pr.r.Events[0].At.IsZero() {
			if err != nil || n != 1 {
				t.Errorf("%s: err %v, %d events; want it stored", pr.r.Key, err, n)
			}
		} else if err == nil || n != 0 {
			t.Errorf("the refused record: err %v, %d events; want an error and nothing stored", err, n)
		}
	}
}

// TestGroupCommitWaitsAndCloses: a caller whose context ends stops
// waiting; after Close a Record is refused, and a Record that returned nil
// before it is stored (Close writes what is queued).
func TestGroupCommitWaitsAndCloses(t *testing.T) {
	p, err := OpenPostgres(context.Background(), testEnv.pgURL, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	key := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t)}
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "0", Events: []flows.Event{event("step_entered", "f", "a")}}); !errors.Is(err, context.Canceled) {
		t.Errorf("with an ended context: %v, want context.Canceled", err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var stored []string
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(i + 1)
			_, err := p.Record(context.Background(), bot.UpdateRecord{Key: key, UpdateID: id, At: t0,
				Events: []flows.Event{event("step_entered", "f", "a")}})
			if err == nil {
				mu.Lock()
				stored = append(stored, id)
				mu.Unlock()
			} else if !errors.Is(err, errStoreClosed) {
				t.Errorf("update %s: %v, want nil or errStoreClosed", id, err)
			}
		}()
	}
	time.Sleep(time.Millisecond)
	p.Close()
	wg.Wait()
	if _, err := p.Record(context.Background(), bot.UpdateRecord{Key: key, UpdateID: "late", Events: []flows.Event{event("step_entered", "f", "a")}}); !errors.Is(err, errStoreClosed) {
		t.Errorf("after Close: %v, want errStoreClosed", err)
	}

	check := newTestPostgres(t)
	got := map[string]bool{}
	for _, e := range eventRowsOf(t, check, key) {
		got[e.update] = true
	}
	for _, id := range stored {
		if !got[id] {
			t.Errorf("update %s: Record returned nil, but its event is not stored", id)
		}
	}
	if got["0"] || got["late"] {
		t.Errorf("a refused record was stored: %v", got)
	}
	t.Logf("%d of 50 recorded before Close", len(stored))
}

// A flusher that takes a record waits the hold for company: a record that
// comes meanwhile goes in the same batch. A wait that finds none starts a
// rest, in which a lone record is written at once.
func TestGroupCommitWaitsForCompanyOnlyWhileBusy(t *testing.T) {
	p := newTestPostgres(t)
	ctx := context.Background()
	const hold = time.Second
	p.group.hold.Store(int64(hold))
	p.group.rest.Store(int64(time.Minute))
	key := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: unique(t)}
	rec := func(id string) bot.UpdateRecord {
		return bot.UpdateRecord{Key: key, UpdateID: id, At: t0, SkipResident: true,
			Events: []flows.Event{{Kind: flows.EventStepEntered, Flow: "install_vneid", Step: id}}}
	}
	batches0, grouped0 := p.group.batches.Load(), p.group.grouped.Load()

	// two records 50 ms apart: one batch
	var wg sync.WaitGroup
	for i, id := range []string{"a", "b"} {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
			if _, err := p.Record(ctx, rec(id)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if b, g := p.group.batches.Load()-batches0, p.group.grouped.Load()-grouped0; b != 1 || g != 2 {
		t.Fatalf("two records within the hold went in %d batches (%d records), want 1 (2)", b, g)
	}

	// a lone record waits the whole hold; the next, in the rest, does not
	start := time.Now()
	if _, err := p.Record(ctx, rec("c")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < hold*9/10 {
		t.Fatalf("a lone record was written after %v, before the hold of %v ended", d, hold)
	}
	start = time.Now()
	if _, err := p.Record(ctx, rec("d")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= hold*9/10 {
		t.Fatalf("a record in the rest after a lone one waited %v (the hold is %v)", d, hold)
	}
	if got := eventRowsOf(t, p, key); len(got) != 4 {
		t.Fatalf("%d events written, want 4", len(got))
	}
}
