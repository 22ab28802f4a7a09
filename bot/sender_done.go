package bot

import (
	"context"
	"errors"
	"time"
)

// Removing delivered messages from the outbox. Each delivered message costs
// one outbox round trip (Done) after its send; it is off the resident's
// path (the message has left), so the sender gathers the removals of a
// moment and makes them together: one round trip for all of them when the
// outbox is an OutboxBatch. A removal waits at most doneLinger. A process
// killed meanwhile leaves those messages in the outbox, and a later sweep
// sends them again: at most doneLinger's worth more duplicates than the
// messages being sent at the kill.

const (
	// doneLinger is how long a removal waits for others to go with it.
	doneLinger = 2 * time.Millisecond
	// doneMaxBatch bounds the removals of one round trip.
	doneMaxBatch = 128
	// doneTries is how often a removal is tried before it is left to a
	// later sweep (which finds the message delivered and removes it).
	doneTries = 3
	// doneFlushTimeout bounds the removals still pending at shutdown.
	doneFlushTimeout = 5 * time.Second
)

// finished is a message that needs no more sending, waiting for its
// removal from the outbox; more is finish's.
type finished struct {
	c    *outChat
	id   string
	more bool
}

// finish removes a message that needs no more sending from the outbox, then
// stops holding its id (it is remembered a while longer, see Remember). When
// the chat holds nothing more here but its outbox does — another process
// committed to it while this one held the lease — those are taken now
// (unless more is false: the caller finishes several at once). While Run
// runs, the removal is queued for removeDelivered and finish returns at
// once; the message counts as held until it is removed.
func (s *Sender) finish(ctx context.Context, c *outChat, id string, more bool) {
	f := finished{c: c, id: id, more: more}
	if s.outbox != nil {
		s.dmu.Lock()
		if s.removing {
			s.dq = append(s.dq, f)
			s.dmu.Unlock()
			select {
			case s.dsig <- struct{}{}:
			default:
			}
			return
		}
		s.dmu.Unlock()
	}
	s.removeNow(ctx, []finished{f})
}

// removeDelivered makes the queued removals, a batch at a time, until stop
// is closed; then it makes the ones still queued and returns.
func (s *Sender) removeDelivered(stop <-chan struct{}) {
	linger := time.NewTimer(doneLinger)
	linger.Stop()
	for {
		select {
		case <-s.dsig:
		case <-stop:
			s.drainRemovals()
			return
		}
		s.dmu.Lock()
		full := len(s.dq) >= doneMaxBatch
		s.dmu.Unlock()
		if !full { // let the removals of the next moment join
			linger.Reset(doneLinger)
			select {
			case <-linger.C:
			case <-stop:
				linger.Stop()
			}
		}
		for batch := s.takeRemovals(); len(batch) > 0; batch = s.takeRemovals() {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
			s.removeNow(ctx, batch)
			cancel()
		}
	}
}

// drainRemovals makes every queued removal, and stops queueing: a finish
// after it removes at once.
func (s *Sender) drainRemovals() {
	ctx, cancel := context.WithTimeout(context.Background(), doneFlushTimeout)
	defer cancel()
	for {
		s.dmu.Lock()
		if len(s.dq) == 0 {
			s.removing = false
			s.dmu.Unlock()
			return
		}
		s.dmu.Unlock()
		s.removeNow(ctx, s.takeRemovals())
	}
}

// takeRemovals takes up to doneMaxBatch queued removals.
func (s *Sender) takeRemovals() []finished {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	n := min(len(s.dq), doneMaxBatch)
	if n == 0 {
		return nil
	}
	batch := append([]finished(nil), s.dq[:n]...)
	// the slots left behind are cleared: they would keep the chats and
	// ids of removals already made
	left := copy(s.dq, s.dq[n:])
	clear(s.dq[left:])
	s.dq = s.dq[:left]
	return batch
}

// removeNow removes batch's messages from the outbox (a few tries: a
// message left there is sent again by a later sweep), then does what
// finish promises for each.
func (s *Sender) removeNow(ctx context.Context, batch []finished) {
	remaining := make([]int, len(batch))
	if s.outbox != nil {
		for try := range doneTries {
			n, err := s.done(ctx, batch)
			if err == nil {
				remaining = n
				break
			}
			s.log.Error("outbox done", "chat", batch[0].c.key.String(), "msg", batch[0].id, "messages", len(batch), "try", try+1, "err", err)
			if try+1 < doneTries {
				time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
			}
		}
	}
	now := time.Now()
	var resume []ConvKey
	s.mu.Lock()
	for i, f := range batch {
		s.ids[s.msgKey(f.c.key, f.id)] = s.finishedAt(now)
		s.queued--
		f.c.unremoved--
		// What the outbox still holds may be this sender's own messages,
		// sent and waiting for their removal: then the chat's last removal
		// decides, when those are gone too.
		if f.more && remaining[i] > 0 && f.c.empty() && f.c.unremoved == 0 {
			resume = append(resume, f.c.key)
		}
	}
	s.cfg.Metrics.Queue(s.cfg.Channel, s.queued)
	s.mu.Unlock()
	for _, key := range resume {
		s.Resume(ctx, key)
	}
}

// done removes batch's messages from the outbox in one round trip when it
// can, and returns how many each conversation has left.
func (s *Sender) done(ctx context.Context, batch []finished) ([]int, error) {
	if ob, ok := s.outbox.(OutboxBatch); ok && len(batch) > 1 {
		msgs := make([]Delivered, len(batch))
		for i, f := range batch {
			msgs[i] = Delivered{Key: f.c.key, ID: f.id}
		}
		return ob.DoneAll(ctx, msgs)
	}
	out := make([]int, len(batch))
	var errs []error
	for i, f := range batch {
		n, err := s.outbox.Done(ctx, f.c.key, f.id)
		out[i] = n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}
