package oa

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// How Run reads the inbox.
const (
	readCount = 64              // entries per read
	readBlock = 2 * time.Second // wait for new entries
	// maxTries: an entry handed out this many times is dropped. It is not
	// tried again: whatever it does may be what stopped every earlier try
	// from finishing (a crash), and it must not block its resident forever.
	maxTries = 10
	// maxInflight bounds the entries read and not finished yet.
	maxInflight = 4 * readCount
	ackTimeout  = 5 * time.Second
)

// Run hands the inbox's entries to the core until ctx ends; the caller
// owns it (one per process). Each conversation's entries are handled one at
// a time, in the order their events were sent, and different
// conversations at once (at most Config.Workers). An entry is acknowledged
// when the core took every update in it (Handle returned nil or
// bot.ErrDuplicate); when Handle fails the entry is left for the inbox to
// hand out again, and the conversation's later entries wait for it. An
// entry that cannot be decoded, or was handed out maxTries times, is
// acknowledged, dropped and logged at error level. (Times it was handed
// out to this process only to wait behind a failed entry do not count;
// times it waited so on another replica cannot be told apart and do.)
//
// The core runs with a context that ctx ending does not cancel (a commit
// must not stop half way), bounded by Config.HandleTimeout; a panic in it
// counts as a failure. When ctx ends Run stops reading, lets the updates
// being handled finish, and returns nil; what it had not started stays in
// the inbox.
func (a *Adapter) Run(ctx context.Context) error {
	d := &dispatcher{
		a:       a,
		sem:     make(chan struct{}, a.cfg.Workers),
		ids:     make(map[string]bool),
		convs:   make(map[string]*convQueue),
		blocked: make(map[string]block),
		skipped: make(map[string]int),
		room:    make(chan struct{}),
	}
	fails := 0
	for ctx.Err() == nil {
		if !d.waitRoom(ctx) {
			break
		}
		entries, err := a.inbox.InboxRead(ctx, bot.ChannelZaloOA, a.consumer, readCount, readBlock, a.cfg.Reclaim)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			fails++
			wait := min(time.Duration(fails)*time.Second, 30*time.Second)
			a.log.Error("zalo oa inbox read failed", "err", err, "retry_in", wait)
			sleep(ctx, wait)
			continue
		}
		fails = 0
		d.dispatch(ctx, entries)
	}
	d.wg.Wait()
	return nil
}

// Busy reports how many inbox entries Run took and has not finished: 0
// when everything it read was handed to the core and the core's replies
// are committed (tests wait for it; the inbox may hold more).
func (a *Adapter) Busy() int { return int(a.busy.Load()) }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// dispatcher runs each conversation's entries in order, on its own
// goroutine while it has any, and different conversations at once.
type dispatcher struct {
	a   *Adapter
	sem chan struct{} // one token per update being handled
	wg  sync.WaitGroup

	mu       sync.Mutex
	inflight int
	room     chan struct{} // closed and replaced when inflight drops
	ids      map[string]bool
	convs    map[string]*convQueue
	// blocked holds the conversations whose entry failed and waits to be
	// handed out again: their later entries are left unhandled meanwhile,
	// so they cannot overtake it.
	blocked map[string]block
	// skipped counts, per entry, the times it was handed out here and left
	// without being tried (it waited behind a failed one): those do not
	// count towards maxTries, or the messages behind a poison one would be
	// dropped with it.
	skipped map[string]int
}

type job struct {
	id    string
	tries int
	seq   int64
	ins   []bot.Inbound
}

type convQueue struct{ jobs []job }

type block struct {
	id    string
	until time.Time
}

// blockFor is how long a conversation waits for its failed entry: long
// enough for the inbox to hand it out again (to this replica or another).
func (a *Adapter) blockFor() time.Duration { return 3*a.cfg.Reclaim + readBlock }

func (d *dispatcher) waitRoom(ctx context.Context) bool {
	for {
		d.mu.Lock()
		if d.inflight < maxInflight {
			d.mu.Unlock()
			return true
		}
		ch := d.room
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// dispatch queues a read's entries on their conversations.
func (d *dispatcher) dispatch(ctx context.Context, entries []bot.InboxEntry) {
	log := d.a.log
	groups := make(map[string][]job)
	var order []string
	for _, e := range entries {
		d.mu.Lock()
		busy := d.ids[e.ID]
		if busy {
			d.skipLocked(e.ID)
		}
		tries := e.Tries - d.skipped[e.ID]
		d.mu.Unlock()
		if busy { // handed out again while still queued here: it is acknowledged when done
			continue
		}
		ins, err := decodeEntry(e.Data)
		if err != nil {
			log.Error("zalo oa inbox entry dropped: cannot be decoded", "entry", e.ID, "err", err)
			d.ack(ctx, e.ID)
			continue
		}
		chat := ins[0].Key.ChatID
		if tries >= maxTries {
			log.Error("zalo oa inbox entry dropped: handed out too many times", "entry", e.ID,
				"tries", tries, "chat_id", chat, "update", ins[0].UpdateID)
			d.ack(ctx, e.ID)
			d.mu.Lock()
			if b, ok := d.blocked[chat]; ok && b.id == e.ID {
				delete(d.blocked, chat)
			}
			delete(d.skipped, e.ID)
			d.mu.Unlock()
			continue
		}
		if _, seen := groups[chat]; !seen {
			order = append(order, chat)
		}
		groups[chat] = append(groups[chat], job{id: e.ID, tries: e.Tries, seq: ins[0].Seq, ins: ins})
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, chat := range order {
		jobs := groups[chat]
		// in the order the events were sent: a re-sent event may arrive
		// after a later one
		slices.SortStableFunc(jobs, func(x, y job) int { return cmp.Compare(x.seq, y.seq) })
		if b, ok := d.blocked[chat]; ok {
			switch {
			case slices.ContainsFunc(jobs, func(j job) bool { return j.id == b.id }):
				delete(d.blocked, chat)
			case now.Before(b.until):
				log.Debug("zalo oa entries wait for an earlier one of their conversation", "chat_id", chat, "entries", len(jobs), "waiting_for", b.id)
				for _, j := range jobs {
					d.skipLocked(j.id)
				}
				continue
			default: // it went elsewhere, or was dropped
				delete(d.blocked, chat)
			}
		}
		for _, j := range jobs {
			d.ids[j.id] = true
		}
		d.inflight += len(jobs)
		d.a.busy.Add(int64(len(jobs)))
		q := d.convs[chat]
		if q != nil { // its goroutine is running: it takes them after what it holds
			q.jobs = append(q.jobs, jobs...)
			continue
		}
		q = &convQueue{jobs: jobs}
		d.convs[chat] = q
		d.wg.Add(1)
		go d.drain(ctx, chat, q)
	}
}

// drain handles a conversation's jobs in order until none is left, one
// fails, or ctx ends; the jobs it does not handle stay in the inbox.
func (d *dispatcher) drain(ctx context.Context, chat string, q *convQueue) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(q.jobs) == 0 || ctx.Err() != nil {
			d.releaseLocked(chat, q)
			d.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		d.mu.Unlock()

		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			d.mu.Lock()
			q.jobs = append([]job{j}, q.jobs...)
			d.releaseLocked(chat, q)
			d.mu.Unlock()
			return
		}
		ok := d.run(ctx, j)
		<-d.sem

		d.mu.Lock()
		d.doneLocked(j.id)
		if !ok {
			d.blocked[chat] = block{id: j.id, until: time.Now().Add(d.a.blockFor())}
			d.releaseLocked(chat, q)
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
	}
}

// releaseLocked forgets a conversation's unhandled jobs (they stay in the
// inbox, to be handed out again) and its queue.
func (d *dispatcher) releaseLocked(chat string, q *convQueue) {
	for _, j := range q.jobs {
		d.doneLocked(j.id)
		d.skipLocked(j.id)
	}
	q.jobs = nil
	delete(d.convs, chat)
}

// maxSkipped bounds the skipped counts kept.
const maxSkipped = 8192

func (d *dispatcher) skipLocked(id string) {
	if len(d.skipped) >= maxSkipped {
		d.skipped = make(map[string]int)
	}
	d.skipped[id]++
}

func (d *dispatcher) doneLocked(id string) {
	delete(d.ids, id)
	d.inflight--
	d.a.busy.Add(-1)
	close(d.room)
	d.room = make(chan struct{})
}

// run hands one entry's updates to the core, in order, and acknowledges
// the entry when the core took them all. ok is false when one failed: the
// entry stays in the inbox.
func (d *dispatcher) run(ctx context.Context, j job) (ok bool) {
	a := d.a
	for _, in := range j.ins {
		log := a.log.With("chat_id", in.Key.ChatID, "update", in.UpdateID, "entry", j.id, "tries", j.tries)
		if in.Kind == bot.InTakeover {
			mine, err := a.ownEcho(ctx, in)
			switch {
			case err != nil && ctx.Err() != nil:
				return false // shutting down: judged by the next run
			case err != nil:
				log.Warn("zalo oa echo not judged; will retry", "err", err)
				return false
			case mine:
				log.Debug("zalo oa echo of gocua's own message ignored")
				continue
			}
			log.Info("zalo oa: a person answered from OA Manager")
		}
		if err := a.handle(ctx, log, in); err != nil && !errors.Is(err, bot.ErrDuplicate) {
			log.Warn("zalo oa update not handled; it will be handed out again", "err", err)
			return false
		}
	}
	d.ack(ctx, j.id)
	return true
}

// ack acknowledges an entry, even while shutting down. A failure is only
// logged: the entry comes back and the core recognises it as a duplicate.
func (d *dispatcher) ack(ctx context.Context, id string) {
	d.mu.Lock()
	delete(d.skipped, id)
	d.mu.Unlock()
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if err := d.a.inbox.InboxAck(actx, bot.ChannelZaloOA, id); err != nil {
		d.a.log.Warn("zalo oa inbox entry not acknowledged; it will come back as a duplicate", "entry", id, "err", err)
	}
}

// handle runs the core with a context that ctx ending does not cancel,
// bounded by HandleTimeout. A panic becomes an error, logged through slog.
func (a *Adapter) handle(ctx context.Context, log *slog.Logger, in bot.Inbound) error {
	return platform.RunCore(ctx, a.cfg.HandleTimeout, log, func(ctx context.Context) error { return a.h.Handle(ctx, in) })
}

// ownEcho reports whether an oa_send_* echo is of a message gocua sent.
// While a send to the resident is in progress (its message id not known
// yet) it asks again every echoPoll, for up to echoWait; what is not known
// as gocua's then is a person's.
func (a *Adapter) ownEcho(ctx context.Context, in bot.Inbound) (bool, error) {
	if a.recent.has(in.Key, in.Text, time.Now()) {
		return true, nil
	}
	deadline := time.Now().Add(a.echoWait)
	for {
		mine, sending, err := a.own.Own(ctx, in.Key, in.UpdateID)
		if err != nil {
			return false, fmt.Errorf("zalo oa: own messages: %w", err)
		}
		if mine {
			return true, nil
		}
		if !sending || !time.Now().Before(deadline) {
			return a.recent.has(in.Key, in.Text, time.Now()), nil
		}
		t := time.NewTimer(a.echoPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		}
	}
}
