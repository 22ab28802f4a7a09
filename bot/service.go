package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/flows"
)

// residentRefresh is how stale residents.last_seen may get while a
// resident keeps talking.
const residentRefresh = time.Minute

// Enqueuer takes committed messages for delivery (a channel's Sender).
type Enqueuer interface {
	// Enqueue queues messages this process committed holding the outbox lease.
	Enqueue(outs ...Outbound)
	// Resume queues what key's outbox holds that the sender does not hold
	// yet, unless another live process holds its lease.
	Resume(ctx context.Context, key ConvKey)
}

// PacedEnqueuer is an Enqueuer whose sending is paced (bot.Pacer): the core
// can spend the pacing budget of a reply's first message in the commit's
// round trip (PacedCommitter) and hand it over already paid.
type PacedEnqueuer interface {
	// PaceFor returns the pacing check for a reply to key, and false when
	// the sender would not send one to key at once anyway (it holds
	// messages for key, or key must wait): then nothing is paid ahead.
	PaceFor(key ConvKey) (Pace, bool)
	// EnqueuePaid is Enqueue for messages whose first one's pacing budget
	// was spent at paidAt.
	EnqueuePaid(paidAt time.Time, outs ...Outbound)
}

// Config tunes the core.
type Config struct {
	DefaultLang string // "vi" unless configured otherwise
	// ReorderWindow is how long an update that may have arrived before a
	// lower-numbered one of the same conversation waits for it (see sequencer).
	ReorderWindow time.Duration
	// WaitingNotice is how often a resident writing while their ticket waits is
	// reminded that a volunteer will read it (default 10 minutes).
	WaitingNotice time.Duration
	Now           func() time.Time // defaults to time.Now
	Metrics       Metrics          // defaults to NopMetrics
	// Preferences stores /stop and /start choices; without it /stop answers
	// with the error text rather than pretending.
	Preferences Preferences
	// Desk, when set, is asked first about every update (see Desk), and
	// Mailboxes carries its messages to other conversations.
	Desk      Desk
	Mailboxes Mailboxes
	// Marks records update ids of chats that keep no state (see
	// DeskPlan.Stateless).
	Marks Marks
	// Areas are the communes and wards served: residents pick theirs
	// before a ticket opens, and flow texts show their offices. Nil: none.
	Areas *areas.Set
	// Residents keeps a resident's area across conversations (nil: only
	// for the conversation).
	Residents Residents
	// Queue, when set, tells a resident whose ticket opens their place in
	// the queue and the expected wait.
	Queue Queue
	// Taps counts taps on broadcasts' buttons (nil: not counted).
	Taps Taps
	// Reminders keeps the personal reminders residents ask flows for
	// (nil: they are told it cannot be done); they fall due at RemindAt
	// (default 07:30) on the day chosen, in Location (default UTC).
	Reminders Reminders
	Location  *time.Location
	RemindAt  time.Duration
	// TakeoverQuiet is how long the bot keeps quiet in a conversation after
	// a person answered it outside gocua (InTakeover; default 30 minutes).
	TakeoverQuiet time.Duration
	// MaxInFlight caps the updates this process handles or holds in line
	// at once (default 512): beyond it Handle answers ErrBusy at once, the
	// adapter answers the webhook 503 and the platform delivers the update
	// again later. Telegram opens at most 100 connections (40 by default),
	// so only a flood reaches it; it keeps memory and latency bounded
	// when updates arrive faster than the stores answer.
	MaxInFlight int
}

// Marks records handled update ids without conversation state (store.Redis).
type Marks interface {
	// Mark is true the first time updateID of key is marked.
	Mark(ctx context.Context, key ConvKey, updateID string) (bool, error)
}

// Mailboxes appends messages to another conversation's outbox once per
// marker (store.Redis): a second Append with the same marker returns
// ErrDuplicate and appends nothing.
type Mailboxes interface {
	Append(ctx context.Context, key ConvKey, marker string, out []Outbound) (Committed, error)
}

// Service runs residents' conversations: for each inbound update it loads the
// conversation, advances the flow, records what happened and commits the new
// state together with the replies, which the channel's sender then delivers.
type Service struct {
	cfg     Config
	flows   atomic.Pointer[flows.Set]
	convs   Conversations
	recs    Records
	senders map[Channel]Enqueuer
	log     *slog.Logger
	seq     *sequencer
	// inFlight holds a token per update being handled (cap MaxInFlight)
	inFlight chan struct{}
}

// NewService wires the core. senders maps each enabled channel to its sender.
func NewService(cfg Config, set *flows.Set, convs Conversations, recs Records, senders map[Channel]Enqueuer, log *slog.Logger) *Service {
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = "vi"
	}
	if cfg.ReorderWindow < 0 {
		cfg.ReorderWindow = 0
	}
	if cfg.WaitingNotice <= 0 {
		cfg.WaitingNotice = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.RemindAt <= 0 {
		cfg.RemindAt = 7*time.Hour + 30*time.Minute
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 512
	}
	s := &Service{cfg: cfg, convs: convs, recs: recs, senders: senders, log: log, seq: newSequencer(cfg.ReorderWindow),
		inFlight: make(chan struct{}, cfg.MaxInFlight)}
	s.flows.Store(set)
	return s
}

// SetFlows swaps the flow set (after a reload); conversations continue with it.
func (s *Service) SetFlows(set *flows.Set) { s.flows.Store(set) }

// Flows returns the current flow set.
func (s *Service) Flows() *flows.Set { return s.flows.Load() }

// Close stops the service's timers. In-flight Handle calls end with their contexts.
func (s *Service) Close() { s.seq.stop() }

// Handle processes one inbound update. It returns nil once the update's
// effects and replies are durably committed (or it was a duplicate), and an
// error when nothing was committed — the adapter then answers non-2xx so the
// platform delivers the update again.
func (s *Service) Handle(ctx context.Context, in Inbound) error {
	_, err := s.HandleTap(ctx, in)
	return err
}

// HandleTap is Handle for a button tap whose platform shows an answer
// (Telegram's answerCallbackQuery): it also returns what to answer. A
// re-delivered tap answers with the zero Ack.
func (s *Service) HandleTap(ctx context.Context, in Inbound) (Ack, error) {
	if in.Key.ChatID == "" || in.UpdateID == "" {
		return Ack{}, fmt.Errorf("bot: inbound without chat or update id")
	}
	select {
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
	default:
		s.cfg.Metrics.Update(in.Key.Channel, "busy")
		return Ack{}, ErrBusy
	}
	var ack Ack
	order := in.Key
	if s.cfg.Desk != nil && s.cfg.Desk.Shared(in.Key) {
		order.ChatID += "/" + in.UserID
	}
	err := s.seq.Do(ctx, order, in.Seq, in.UpdateID, in.GlobalSeq, func() error {
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			ack, err = s.handleOnce(ctx, in, attempt > 0)
			if !errors.Is(err, ErrConflict) {
				break
			}
		}
		switch {
		case errors.Is(err, ErrDuplicate):
			// Its replies were committed, but maybe never handed to the
			// sender: the attempt that committed may have lost Redis's answer,
			// or crashed. The sender takes what it does not hold yet.
			if snd := s.senders[in.Key.Channel]; snd != nil {
				snd.Resume(ctx, in.Key)
			}
			ack = Ack{}
			s.cfg.Metrics.Update(in.Key.Channel, "duplicate")
			return nil
		case err != nil:
			s.cfg.Metrics.Update(in.Key.Channel, "error")
			s.log.Error("update not handled", "chat", in.Key.String(), "update", in.UpdateID, "err", err)
			return err
		}
		s.cfg.Metrics.Update(in.Key.Channel, "ok")
		return nil
	})
	var pe *PanicError
	if errors.As(err, &pe) {
		s.cfg.Metrics.Update(in.Key.Channel, "error")
		s.log.Error("update not handled: the core panicked", "chat", in.Key.String(), "update", in.UpdateID,
			"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	}
	if err != nil {
		return Ack{}, err
	}
	return ack, nil
}

// handleOnce is one attempt at an update; rerun says an earlier attempt lost
// its commit to a concurrent writer.
func (s *Service) handleOnce(ctx context.Context, in Inbound, rerun bool) (Ack, error) {
	now := s.cfg.Now()
	conv, seen, err := s.convs.Load(ctx, in.Key, in.UpdateID)
	if err != nil {
		return Ack{}, fmt.Errorf("load conversation: %w", err)
	}
	if seen {
		// The attempt that committed may have stopped before its record was
		// in (see UpdateRecord.AfterCommit): write it again; the store skips
		// what it has.
		if r := conv.Record; r != nil {
			if _, err := s.recs.Record(ctx, *r); err != nil {
				return Ack{}, fmt.Errorf("record committed update: %w", err)
			}
		}
		return Ack{}, ErrDuplicate
	}
	conv.Key, conv.Record = in.Key, nil
	if conv.Flow.Lang == "" {
		conv.Flow.Lang = s.cfg.DefaultLang
		if conv.Version == 0 && strings.HasPrefix(in.LangHint, "en") {
			conv.Flow.Lang = "en"
		}
	}

	switch in.Kind {
	case InBlocked, InUnblocked:
		// stamped with when the platform says it happened, so a late
		// re-delivery of an old change cannot undo a newer one
		at := in.At
		if at.IsZero() {
			at = now
		}
		if err := s.recs.SetReachable(ctx, in.Key, in.Kind == InUnblocked, at); err != nil {
			return Ack{}, fmt.Errorf("record reachability: %w", err)
		}
		return Ack{}, s.commit(ctx, conv, in, now, nil)
	}

	if conv.Consent == "" && s.cfg.Residents != nil {
		// a new (or expired) conversation, or one from before consent was
		// asked: the resident may have told us before
		p, err := s.cfg.Residents.ResidentProfile(ctx, in.Key)
		if err != nil {
			return Ack{}, fmt.Errorf("load resident: %w", err)
		}
		if conv.Area == "" {
			conv.Area = p.Area
		}
		conv.Consent = cmp.Or(p.Consent, ConsentUnasked)
	}
	set := s.flows.Load()
	if s.cfg.Desk != nil {
		plan, err := s.cfg.Desk.Route(ctx, DeskTurn{In: in, Conv: conv, Set: set, Now: now})
		if err != nil {
			return Ack{}, fmt.Errorf("desk: %w", err)
		}
		plan.Conv.Key, plan.Conv.Version = conv.Key, conv.Version
		conv = plan.Conv
		if plan.Handled {
			return plan.Ack, s.commitDesk(ctx, conv, in, now, plan, rerun)
		}
	}
	prevLang, prevName := conv.Flow.Lang, conv.Flow.Vars["name"]
	t := turn{svc: s, set: set, conv: conv, in: in, now: now}
	t.run()
	if t.consent != nil {
		if s.cfg.Preferences == nil {
			t.out = []flows.Output{{Text: set.Text(t.lang(), "error", nil)}}
		} else if err := s.cfg.Preferences.SetConsent(ctx, in.Key, *t.consent, now); err != nil {
			return Ack{}, fmt.Errorf("record consent: %w", err)
		} else {
			t.conv.Consent = *t.consent
		}
	}
	if err := s.reminders(ctx, &t, in, now); err != nil {
		return Ack{}, err
	}
	if t.tapRun != 0 && s.cfg.Taps != nil { // idempotent: a re-run counts nothing twice
		// counted once; a failure to count does not keep the resident waiting
		if err := s.cfg.Taps.Tapped(ctx, t.tapRun, in.Key, now); err != nil {
			s.log.Warn("broadcast tap not counted", "chat", in.Key.String(), "run", t.tapRun, "err", err)
		}
	}
	if t.cancel {
		if err := s.recs.CancelTicket(ctx, conv.Ticket, now); err != nil {
			return Ack{}, fmt.Errorf("cancel ticket: %w", err)
		}
		t.conv.Ticket, t.conv.Noticed = 0, time.Time{}
	}
	if t.newArea != nil && s.cfg.Residents != nil {
		if err := s.cfg.Residents.SetResidentArea(ctx, in.Key, *t.newArea, now); err != nil {
			return Ack{}, fmt.Errorf("record area: %w", err)
		}
	}

	rec := UpdateRecord{
		Key: in.Key, UpdateID: in.UpdateID, At: now, Name: in.Name, Lang: t.conv.Flow.Lang, Area: t.conv.Area, Rerun: rerun,
		Events: t.events, Handoff: t.handoff, Ticket: t.conv.Ticket, Transcript: t.transcript,
		// residents.last_seen is kept to the minute, not to the update:
		// one statement less per update on the hot path. A person
		// answering from elsewhere is not the resident's interaction (Zalo
		// OA counts its window from the resident's last message).
		SkipResident: in.Kind == InTakeover || conv.Version > 0 && now.Sub(conv.Refreshed) < residentRefresh &&
			t.conv.Flow.Lang == prevLang && (in.Name == "" || in.Name == prevName),
	}
	if !rec.SkipResident {
		t.conv.Refreshed = now
	}
	if rec.AfterCommit() {
		return Ack{}, s.commitThenRecord(ctx, t.conv, in, now, t.out, rec)
	}
	res, err := s.recs.Record(ctx, rec)
	if err != nil {
		return Ack{}, fmt.Errorf("record update: %w", err)
	}
	if t.handoff != nil && res.TicketID != 0 {
		opened := t.conv.Ticket != res.TicketID
		t.conv.Ticket = res.TicketID
		if opened && s.cfg.Queue != nil {
			if q, err := s.cfg.Queue.Queued(ctx, res.TicketID, now); err != nil {
				s.log.Warn("queue position not told", "ticket", res.TicketID, "err", err)
			} else {
				o := flows.Output{Text: QueueText(set, t.lang(), q)}
				if q.Closed && in.Key.Channel == ChannelTelegram {
					// off duty: offer a call back (Telegram can share the
					// resident's own number, with their consent)
					o.Buttons = [][]flows.Button{{{Text: set.Text(t.lang(), "desk_callback_button", nil), Data: DataCallback}}}
				}
				t.out = append(t.out, o)
			}
		}
	}
	if err := s.commit(ctx, t.conv, in, now, t.out); err != nil {
		return Ack{}, err
	}
	s.cfg.Metrics.FlowEvents(in.Key.Channel, t.events)
	return Ack{}, nil
}

// commitThenRecord commits conv and its replies with rec kept in the
// update's dedupe marker, then writes rec; only then is the update
// acknowledged. If the record fails (PostgreSQL is away) the update is not
// acknowledged, and its re-delivery, a duplicate, writes the record the
// marker kept. A commit that finds the update committed by another
// attempt writes this attempt's record as well (the same rows, skipped
// when present), since that attempt may not get to its own.
func (s *Service) commitThenRecord(ctx context.Context, conv Conversation, in Inbound, now time.Time, out []flows.Output, rec UpdateRecord) error {
	conv.Record = &rec
	err := s.commit(ctx, conv, in, now, out)
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return err
	}
	if _, rerr := s.recs.Record(ctx, rec); rerr != nil {
		return fmt.Errorf("record update: %w", rerr)
	}
	if err != nil {
		return err
	}
	s.cfg.Metrics.FlowEvents(in.Key.Channel, rec.Events)
	return nil
}

// reminders does what the turn decided about personal reminders: schedule
// one (once per update), cancel one, or cancel them all on /stop; and says
// so to the resident.
func (s *Service) reminders(ctx context.Context, t *turn, in Inbound, now time.Time) error {
	set, lang := t.set, t.lang()
	switch {
	case t.remind != nil:
		if s.cfg.Reminders == nil {
			t.out = append(t.out, flows.Output{Text: set.Text(lang, "error", nil)})
			return nil
		}
		due := s.remindDue(t.remind.When, now)
		id, err := s.cfg.Reminders.ScheduleReminder(ctx, Reminder{
			Key: in.Key, Lang: lang, Flow: t.remind.Flow, Step: t.remind.Step, Due: due, Update: in.UpdateID, Created: now,
		})
		if err != nil {
			return fmt.Errorf("schedule reminder: %w", err)
		}
		local := due.In(s.cfg.Location)
		t.out = append(t.out, flows.Output{
			Text: set.Text(lang, "remind_set", map[string]string{"time": local.Format("15:04"), "date": local.Format("02/01/2006")}),
			Buttons: [][]flows.Button{
				{{Text: set.Text(lang, "remind_cancel_button", nil), Data: dataUnremind + strconv.FormatInt(id, 10)}},
				{{Text: set.Text(lang, "nav_menu", nil), Data: "nav:menu"}},
			},
		})
	case t.unremind != 0:
		key := "remind_gone"
		if s.cfg.Reminders != nil {
			cancelled, err := s.cfg.Reminders.CancelReminder(ctx, in.Key, t.unremind, now)
			switch {
			case errors.Is(err, ErrNoReminder):
			case err != nil:
				return fmt.Errorf("cancel reminder: %w", err)
			case cancelled:
				key = "remind_cancelled"
			}
		}
		t.out = append(t.out, flows.Output{Text: set.Text(lang, key, nil),
			Buttons: [][]flows.Button{{{Text: set.Text(lang, "nav_menu", nil), Data: "nav:menu"}}}})
	case t.stop && s.cfg.Reminders != nil: // no more reminders either
		if _, err := s.cfg.Reminders.CancelReminders(ctx, in.Key, now); err != nil {
			return fmt.Errorf("cancel reminders: %w", err)
		}
	}
	return nil
}

// remindDue is when a reminder asked for at now falls due: RemindAt on the
// day chosen (tomorrow, in three days, or a date), in Location; a date
// whose hour has passed today is in an hour.
func (s *Service) remindDue(when string, now time.Time) time.Time {
	local := now.In(s.cfg.Location)
	y, m, d := local.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, s.cfg.Location)
	switch when {
	case flows.RemindTomorrow:
		day = day.AddDate(0, 0, 1)
	case flows.RemindIn3Days:
		day = day.AddDate(0, 0, 3)
	default:
		if t, err := time.ParseInLocation("2006-01-02", when, s.cfg.Location); err == nil {
			day = t
		} else {
			day = day.AddDate(0, 0, 1)
		}
	}
	due := day.Add(s.cfg.RemindAt)
	if !due.After(now) {
		due = now.Add(time.Hour)
	}
	return due
}

// commitDesk records and commits what the desk planned for an update: the
// resident's transcript lines, its messages to other conversations (once
// per update: a re-run appends nothing twice), then the conversation with
// its replies.
func (s *Service) commitDesk(ctx context.Context, conv Conversation, in Inbound, now time.Time, plan DeskPlan, rerun bool) error {
	if len(plan.Transcript) > 0 && conv.Ticket != 0 {
		rec := UpdateRecord{Key: in.Key, UpdateID: in.UpdateID, At: now, Name: in.Name, Lang: conv.Flow.Lang,
			Rerun: rerun, Ticket: conv.Ticket, Transcript: plan.Transcript, SkipResident: true}
		if _, err := s.recs.Record(ctx, rec); err != nil {
			return fmt.Errorf("record update: %w", err)
		}
	}
	if err := s.Relay(ctx, in.Key.String()+":"+in.UpdateID, plan.Relays); err != nil {
		return err
	}
	if plan.Stateless {
		if s.cfg.Marks == nil || len(plan.Out) > 0 {
			return errors.New("bot: a stateless desk plan needs Marks and no replies")
		}
		fresh, err := s.cfg.Marks.Mark(ctx, in.Key, in.UpdateID)
		if err != nil {
			return fmt.Errorf("mark update: %w", err)
		}
		if !fresh {
			return ErrDuplicate
		}
		return nil
	}
	for i := range plan.Out {
		plan.Out[i].ID, plan.Out[i].Key = in.UpdateID+"/"+strconv.Itoa(i), in.Key
	}
	return s.commitOut(ctx, conv, in, now, plan.Out)
}

// Relay appends msgs to their conversations' outboxes, once per marker and
// conversation, and hands them to their senders: a desk plan's messages to
// other chats, and what a timer says outside any update. Each message needs
// its Key and an ID unique in its conversation.
func (s *Service) Relay(ctx context.Context, marker string, msgs []Outbound) error {
	if len(msgs) == 0 {
		return nil
	}
	if s.cfg.Mailboxes == nil {
		return errors.New("bot: the desk relays messages but no Mailboxes is configured")
	}
	var order []ConvKey
	byKey := map[ConvKey][]Outbound{}
	for _, m := range msgs {
		if _, ok := byKey[m.Key]; !ok {
			order = append(order, m.Key)
		}
		byKey[m.Key] = append(byKey[m.Key], m)
	}
	for _, key := range order {
		out := byKey[key]
		res, err := s.cfg.Mailboxes.Append(ctx, key, marker, out)
		if errors.Is(err, ErrDuplicate) {
			// appended by an earlier attempt that did not commit: its sender
			// may not have it
			if snd := s.senders[key.Channel]; snd != nil {
				snd.Resume(ctx, key)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("relay to %s: %w", key, err)
		}
		s.deliver(ctx, key, res, out)
	}
	return nil
}

// deliver hands committed messages to their channel's sender, as the lease
// says (see commitOut).
func (s *Service) deliver(ctx context.Context, key ConvKey, res Committed, msgs []Outbound) {
	s.deliverPaid(ctx, key, res, msgs, time.Time{})
}

// deliverPaid is deliver for messages whose first one's pacing budget was
// spent at paidAt (zero: none was).
func (s *Service) deliverPaid(ctx context.Context, key ConvKey, res Committed, msgs []Outbound, paidAt time.Time) {
	switch snd := s.senders[key.Channel]; {
	case snd == nil || len(msgs) == 0 || !res.Leased:
	case res.Backlog:
		snd.Resume(ctx, key)
	default:
		if pe, ok := snd.(PacedEnqueuer); ok && !paidAt.IsZero() {
			pe.EnqueuePaid(paidAt, msgs...)
			return
		}
		snd.Enqueue(msgs...)
	}
}

func (s *Service) commit(ctx context.Context, conv Conversation, in Inbound, now time.Time, outs []flows.Output) error {
	msgs := make([]Outbound, len(outs))
	for i, o := range outs {
		msgs[i] = Outbound{ID: in.UpdateID + "/" + strconv.Itoa(i), Key: in.Key, Text: o.Text, Buttons: buttons(o.Buttons), Lang: conv.Flow.Lang}
		if o.Image != "" { // a guide's picture, the text its caption
			msgs[i].Media = &Media{Kind: MediaPhoto, Ref: o.Image}
		}
	}
	return s.commitOut(ctx, conv, in, now, msgs)
}

func (s *Service) commitOut(ctx context.Context, conv Conversation, in Inbound, now time.Time, msgs []Outbound) error {
	if in.Seq > conv.LastSeq {
		conv.LastSeq = in.Seq
	}
	conv.UpdatedAt = now
	res, paidAt, err := s.commitPaced(ctx, conv, in, msgs)
	if err != nil {
		return fmt.Errorf("commit conversation: %w", err)
	}
	// Without the lease another live process delivers them, after what it
	// holds; with a backlog nobody was delivering, the whole outbox goes in
	// order.
	s.deliverPaid(ctx, in.Key, res, msgs, paidAt)
	return nil
}

// commitPaced commits conv and msgs; when the store and the channel's
// sender allow it, the first message's pacing check rides in the same
// round trip, and paidAt says when its budget was spent (zero: it was not).
func (s *Service) commitPaced(ctx context.Context, conv Conversation, in Inbound, msgs []Outbound) (Committed, time.Time, error) {
	pc, ok := s.convs.(PacedCommitter)
	pe, ok2 := s.senders[in.Key.Channel].(PacedEnqueuer)
	if ok && ok2 && len(msgs) > 0 && msgs[0].Lane == LaneReply && msgs[0].Key == in.Key {
		if p, ok := pe.PaceFor(in.Key); ok {
			at := time.Now()
			res, paid, err := pc.CommitPaced(ctx, conv, in.UpdateID, msgs, p)
			if !paid {
				at = time.Time{}
			}
			return res, at, err
		}
	}
	res, err := s.convs.Commit(ctx, conv, in.UpdateID, msgs)
	return res, time.Time{}, err
}

func buttons(rows [][]flows.Button) [][]Button {
	if len(rows) == 0 {
		return nil
	}
	out := make([][]Button, len(rows))
	for i, r := range rows {
		out[i] = make([]Button, len(r))
		for j, b := range r {
			out[i][j] = Button{Text: b.Text, Data: b.Data, URL: b.URL}
		}
	}
	return out
}
