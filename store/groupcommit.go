package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gocua/gocua/bot"
)

// Group commit. Most updates write only flow events (and, once a minute per
// resident, the resident's row); PostgreSQL's cost for them is mostly per
// statement and per transaction, not per row. So concurrent Records of
// that kind are written together: one round trip, one transaction, one
// INSERT for all their events. The core writes such records after the
// update's commit, when its replies are already on their way
// (bot.Conversation.Record), so only the update's acknowledgement waits
// for them: a flusher that takes a record waits up to groupHold for
// company before it writes. When a wait finds none (traffic is light), the
// flushers stop waiting for groupHoldRest, so a lone update is written at
// once. One flusher gathers at a time; the other writes meanwhile.

const (
	// groupFlushers is how many batches may be in flight at once.
	groupFlushers = 2
	// groupMaxBatch bounds the records of one batch.
	groupMaxBatch = 64
	// groupFlushTimeout bounds one batch's round trip (Record's callers
	// stop waiting at their own deadline; the batch is idempotent).
	groupFlushTimeout = 10 * time.Second
	// groupHold is how long a flusher waits for more records once it has
	// one, until it has groupWant (the cost per record falls little beyond
	// that), and groupHoldRest how long the flushers write at once after a
	// wait that found no company. At 1,000 updates a second an 8 ms hold
	// took PostgreSQL's CPU per update from about 180 µs (3 ms) and 280 µs
	// (no hold) to about 100 µs (docs/benchmarks.md).
	groupHold     = 8 * time.Millisecond
	groupWant     = 16
	groupHoldRest = 100 * time.Millisecond
)

// errStoreClosed is returned by Record after Close.
var errStoreClosed = errors.New("store: closed")

// groupable reports whether r may be written in a group commit: it opens
// no ticket, appends to none and replaces no earlier attempt, so it cannot
// fail on its own (every statement is an upsert that always succeeds) and
// its result is empty.
func groupable(r bot.UpdateRecord) bool {
	return !r.Rerun && r.Handoff == nil && (r.Ticket == 0 || len(r.Transcript) == 0)
}

// pendingRecord is one Record waiting in the group commit.
type pendingRecord struct {
	r    bot.UpdateRecord
	at   time.Time
	done chan error // buffered: the flusher never blocks on a waiter that left
}

// groupCommit queues groupable records for the flushers.
type groupCommit struct {
	p       *Postgres
	queue   chan *pendingRecord
	closing chan struct{}
	mu      sync.RWMutex // held for reading while sending on queue; Close takes it to stop sends
	closed  bool
	wg      sync.WaitGroup

	// gather is held by the flusher that is waiting for a batch or
	// gathering one; restUntil (under gather) is until when no flusher
	// waits for company. hold and rest are groupHold and groupHoldRest in
	// nanoseconds (tests change them while the flushers run).
	gather     sync.Mutex
	restUntil  time.Time
	hold, rest atomic.Int64

	// batches and grouped count the batches written whole and their
	// records, so tests (and a debugger) can see how much was grouped.
	batches, grouped atomic.Int64
}

func newGroupCommit(p *Postgres) *groupCommit {
	g := &groupCommit{
		p:       p,
		queue:   make(chan *pendingRecord, 4*groupMaxBatch),
		closing: make(chan struct{}),
	}
	g.hold.Store(int64(groupHold))
	g.rest.Store(int64(groupHoldRest))
	g.wg.Add(groupFlushers)
	for range groupFlushers {
		go g.flusher()
	}
	return g
}

// record queues r and waits until its batch is committed or ctx ends (the
// batch may then still commit: a retry of the update records nothing twice).
func (g *groupCommit) record(ctx context.Context, r bot.UpdateRecord) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: record %s update %s: %w", r.Key, r.UpdateID, err)
	}
	pr := &pendingRecord{r: r, at: cmp.Or(r.At, time.Now()), done: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return fmt.Errorf("store: record %s update %s: %w", r.Key, r.UpdateID, errStoreClosed)
	}
	select {
	case g.queue <- pr:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return fmt.Errorf("store: record %s update %s: %w", r.Key, r.UpdateID, ctx.Err())
	}
	select {
	case err := <-pr.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("store: record %s update %s: %w", r.Key, r.UpdateID, ctx.Err())
	}
}

// close flushes what is queued and stops the flushers.
func (g *groupCommit) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	close(g.closing)
	g.mu.Unlock()
	g.wg.Wait()
}

// flusher writes batches until close; then it writes what is left queued.
func (g *groupCommit) flusher() {
	defer g.wg.Done()
	batch := make([]*pendingRecord, 0, groupMaxBatch)
	for {
		g.gather.Lock()
		select {
		case pr := <-g.queue:
			batch = g.wait(g.take(append(batch[:0], pr)))
			g.gather.Unlock()
		case <-g.closing:
			g.gather.Unlock()
			// close holds off new senders: write what is queued, then stop
			for batch = g.take(batch[:0]); len(batch) > 0; batch = g.take(batch[:0]) {
				g.flush(batch)
			}
			return
		}
		g.flush(batch)
	}
}

// wait adds to batch what arrives within the hold, until it holds
// groupWant records, unless the flushers are resting; a wait that finds
// nothing starts a rest. The caller holds gather.
func (g *groupCommit) wait(batch []*pendingRecord) []*pendingRecord {
	hold := time.Duration(g.hold.Load())
	if hold <= 0 || len(batch) >= groupWant || time.Now().Before(g.restUntil) {
		return batch
	}
	n := len(batch)
	timer := time.NewTimer(hold)
	defer timer.Stop()
	for len(batch) < groupWant {
		select {
		case pr := <-g.queue:
			batch = append(batch, pr)
			continue
		case <-timer.C:
		case <-g.closing:
		}
		break
	}
	if len(batch) == n {
		g.restUntil = time.Now().Add(time.Duration(g.rest.Load()))
	}
	return batch
}

// take appends to batch what is queued now, up to groupMaxBatch records,
// without waiting for more.
func (g *groupCommit) take(batch []*pendingRecord) []*pendingRecord {
	for len(batch) < groupMaxBatch {
		select {
		case pr := <-g.queue:
			batch = append(batch, pr)
		default:
			return batch
		}
	}
	return batch
}

// flush writes batch in one transaction and tells each waiter. If the
// batch fails, each record is written on its own, so that one bad record
// (or a lost race with another replica's batch) fails only itself.
func (g *groupCommit) flush(batch []*pendingRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), groupFlushTimeout)
	defer cancel()
	err := g.p.recordGroup(ctx, batch)
	if err == nil {
		g.batches.Add(1)
		g.grouped.Add(int64(len(batch)))
	}
	if err == nil || len(batch) == 1 {
		if err != nil {
			err = fmt.Errorf("store: record %s update %s: %w", batch[0].r.Key, batch[0].r.UpdateID, err)
		}
		for _, pr := range batch {
			pr.done <- err
		}
		return
	}
	g.p.log.Debug("group commit failed; recording one by one", "records", len(batch), "err", err)
	for _, pr := range batch {
		_, err := g.p.recordAlone(ctx, pr.r)
		pr.done <- err
	}
}

// recordGroup writes the records of batch in one round trip: the residents
// to refresh, in key order (two batches lock shared rows in the same order,
// so they cannot deadlock), then every event in one INSERT.
func (p *Postgres) recordGroup(ctx context.Context, batch []*pendingRecord) error {
	slices.SortFunc(batch, func(a, b *pendingRecord) int {
		return cmp.Or(cmp.Compare(a.r.Key.Channel, b.r.Key.Channel), cmp.Compare(a.r.Key.ChatID, b.r.Key.ChatID),
			a.at.Compare(b.at))
	})
	b := &pgx.Batch{}
	var ev eventColumns
	for _, pr := range batch {
		if !pr.r.SkipResident {
			b.Queue(upsertResidentSQL, string(pr.r.Key.Channel), clean(pr.r.Key.ChatID), clean(pr.r.Name), clean(pr.r.Lang), pr.at)
		}
		ev.add(pr.r, pr.at)
	}
	ev.queue(b)
	if b.Len() == 0 {
		return nil
	}
	return p.pool.SendBatch(ctx, b).Close()
}

// eventColumns are flow events of one or many updates, a slice per column
// of flow_events (in insertEventInto's order), for insertEventsSQL.
type eventColumns struct {
	channel, externalID, updateID []string
	seq                           []int32
	kind, flow, step              []string
	at                            []time.Time
	lang, area, version           []string
}

// add appends r's events, numbered from 1 within the update (so an update
// written twice, alone or in a group, has the same rows); an event without
// a time gets at.
func (ev *eventColumns) add(r bot.UpdateRecord, at time.Time) {
	ch, ext, upd := string(r.Key.Channel), clean(r.Key.ChatID), clean(r.UpdateID)
	lang, area := clean(r.Lang), clean(r.Area)
	for i, e := range r.Events {
		ev.channel = append(ev.channel, ch)
		ev.externalID = append(ev.externalID, ext)
		ev.updateID = append(ev.updateID, upd)
		ev.seq = append(ev.seq, int32(i+1))
		ev.kind = append(ev.kind, clean(string(e.Kind)))
		ev.flow = append(ev.flow, clean(e.Flow))
		ev.step = append(ev.step, clean(e.Step))
		ev.at = append(ev.at, cmp.Or(e.At, at))
		ev.lang = append(ev.lang, lang)
		ev.area = append(ev.area, area)
		ev.version = append(ev.version, clean(e.Version))
	}
}

// queue adds the INSERT of the events to b, if there are any.
func (ev *eventColumns) queue(b *pgx.Batch) {
	if len(ev.seq) > 0 {
		b.Queue(insertEventsSQL, ev.channel, ev.externalID, ev.updateID, ev.seq, ev.kind, ev.flow,
			ev.step, ev.at, ev.lang, ev.area, ev.version)
	}
}

// insertEventsSQL inserts flow events from parallel arrays (eventColumns).
const insertEventsSQL = insertEventInto + `
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
    $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::text[])` +
	onEventConflict
