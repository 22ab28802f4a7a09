package broadcast

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// Channel is a platform the runner sends broadcasts on, paced like that
// channel's replies (the same shared budgets: replies go first).
type Channel struct {
	Deliverer bot.Deliverer
	Rate      float64 // messages per second over the channel
	PerChat   float64 // messages per second to one chat
	// Paid allows Telegram's paid broadcasts (faster than 30 a second for
	// a fee) for broadcasts that ask for them.
	Paid bool
}

// Residents records what a delivery learns about a resident (the durable
// store): a resident who blocked the bot is unreachable and unsubscribed.
type Residents interface {
	bot.Unreachables
	bot.Preferences
}

// Notifier shows an organizer a broadcast's progress, editing one message
// as it goes (the Telegram adapter).
type Notifier interface {
	Post(ctx context.Context, chatID, text string, buttons [][]bot.Button) (messageID string, err error)
	Edit(ctx context.Context, chatID, messageID, text string, buttons [][]bot.Button) error
}

// Metrics observes broadcasts (the metrics package).
type Metrics interface {
	// Delivery counts one delivery by outcome: delivered, blocked, failed,
	// skipped, retry.
	Delivery(ch bot.Channel, outcome string)
	// Progress reports a running broadcast's settled and total deliveries.
	Progress(broadcast int64, settled, total int)
}

type nopMetrics struct{}

func (nopMetrics) Delivery(bot.Channel, string) {}
func (nopMetrics) Progress(int64, int, int)     {}

// Config tunes a Runner.
type Config struct {
	// Owner names this process in claims (its replica id).
	Owner    string
	Channels map[bot.Channel]Channel
	// Pacer is shared by every replica (store.Redis); nil paces nothing
	// (tests of the ledger alone).
	Pacer     bot.Pacer
	Residents Residents
	Notifier  Notifier // nil: no progress messages
	Metrics   Metrics
	Flows     func() *flows.Set // the texts: unsubscribe button, progress, report
	Rules     Rules
	Location  *time.Location // schedules and quiet hours (default UTC)
	Quiet     QuietHours
	// Grace is how late a one-off broadcast may still start (gocua was
	// down at its time); later, it is marked missed (default 6 h).
	Grace time.Duration
	// TickWindow is how late a recurring broadcast's tick may still fire
	// (default 5 min): ticks missed while gocua was down are not replayed.
	TickWindow time.Duration
	Workers    int           // concurrent sends per channel (default 8)
	Batch      int           // deliveries claimed at once (default 32)
	MaxTries   int           // attempts for transient failures (default 5)
	Poll       time.Duration // how often the schedule and the ledger are looked at (default 1 s)
	Lease      time.Duration // a claim older than this whose worker is gone is sent again (default 2 min)
	// ProgressEvery is how often an organizer's progress message is
	// edited (default 5 s).
	ProgressEvery time.Duration
	Now           func() time.Time
	// Reminders, when set, are the residents' personal reminders to send
	// when due, through Relay (the core: appended to the resident's outbox
	// once per reminder, delivered by its channel's sender).
	Reminders ReminderQueue
	Relay     func(ctx context.Context, marker string, msgs []bot.Outbound) error
}

// ReminderQueue is the store's queue of personal reminders.
type ReminderQueue interface {
	// Due claims up to n reminders due at now for owner.
	Due(ctx context.Context, owner string, now time.Time, n int) ([]bot.Reminder, error)
	// Sent marks a claimed reminder sent.
	Sent(ctx context.Context, id int64, at time.Time) error
	// Rescue puts back reminders claimed before `before` and never sent.
	Rescue(ctx context.Context, before time.Time) (int, error)
	// Release puts back every reminder owner claimed and did not send.
	Release(ctx context.Context, owner string) (int, error)
}

// Runner sends broadcasts: it starts runs when they are due (once across
// replicas), claims their deliveries in batches, paces and sends them,
// records each outcome, and reports. Run owns its goroutines.
type Runner struct {
	cfg   Config
	store Store
	log   *slog.Logger
	wake  chan struct{}

	mu       sync.Mutex
	progress map[int64]time.Time // broadcast → last progress edit
}

// New builds a Runner; call Run.
func New(cfg Config, st Store, log *slog.Logger) *Runner {
	cfg.Location = cmp.Or(cfg.Location, time.UTC)
	cfg.Grace = cmp.Or(cfg.Grace, 6*time.Hour)
	cfg.TickWindow = cmp.Or(cfg.TickWindow, 5*time.Minute)
	cfg.Workers = cmp.Or(cfg.Workers, 8)
	cfg.Batch = cmp.Or(cfg.Batch, 32)
	cfg.MaxTries = cmp.Or(cfg.MaxTries, 5)
	cfg.Poll = cmp.Or(cfg.Poll, time.Second)
	cfg.Lease = cmp.Or(cfg.Lease, 2*time.Minute)
	cfg.ProgressEvery = cmp.Or(cfg.ProgressEvery, 5*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	return &Runner{cfg: cfg, store: st, log: log, wake: make(chan struct{}, 1), progress: map[int64]time.Time{}}
}

// Wake makes the runner look at the schedule now (a broadcast was made or
// resumed in this process).
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends, then records what its workers were doing and
// returns.
func (r *Runner) Run(ctx context.Context) {
	// what this replica held when it last stopped (it may have been
	// killed) goes out again now, not after the lease
	if n, err := r.store.Release(ctx, r.cfg.Owner); err != nil {
		r.log.Warn("broadcast deliveries of the last run of this replica not taken back", "err", err)
	} else if n > 0 {
		r.log.Info("broadcast deliveries this replica held when it stopped are sent again", "deliveries", n)
	}
	if r.cfg.Reminders != nil {
		if _, err := r.cfg.Reminders.Release(ctx, r.cfg.Owner); err != nil {
			r.log.Warn("reminders of the last run of this replica not taken back", "err", err)
		}
	}
	var wg sync.WaitGroup
	for ch, c := range r.cfg.Channels {
		l := &lane{r: r, ch: ch, c: c, work: make(chan Delivery, r.cfg.Batch), done: make(chan Outcome, r.cfg.Batch)}
		wg.Go(func() { l.run(ctx) })
	}
	wg.Go(func() { r.schedule(ctx) })
	wg.Wait()
}

// schedule looks at the schedule and the ledger every Poll.
func (r *Runner) schedule(ctx context.Context) {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		r.guard("schedule", func() { r.tick(ctx) })
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// guard runs one job, turning a panic into a logged error: a broken
// broadcast must not stop the others.
func (r *Runner) guard(job string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("broadcast job panicked", "job", job, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// tick starts what is due, rescues and expires deliveries, finishes runs
// and updates the organizers' progress messages.
func (r *Runner) tick(ctx context.Context) {
	now := r.cfg.Now()
	list, err := r.store.Scheduled(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("broadcast schedule", "err", err)
		}
		return
	}
	var sending []Run // runs of the scheduled broadcasts that are under way
	for _, b := range list {
		r.guard(fmt.Sprintf("broadcast %d", b.ID), func() {
			last, err := r.store.LastRun(ctx, b.ID)
			switch {
			case errors.Is(err, ErrNotFound):
				last = Run{}
			case err != nil:
				r.log.Error("broadcast schedule", "broadcast", b.ID, "err", err)
				return
			}
			if last.State == RunSending {
				sending = append(sending, last)
			}
			r.due(ctx, b, last, now)
		})
	}
	if n, err := r.store.Rescue(ctx, now.Add(-r.cfg.Lease)); err != nil {
		r.log.Warn("broadcast rescue", "err", err)
	} else if n > 0 {
		r.log.Info("broadcast deliveries claimed by a stopped worker are sent again", "deliveries", n)
	}
	if _, err := r.store.Expire(ctx, now); err != nil {
		r.log.Warn("broadcast expiry", "err", err)
	}
	finished, err := r.store.FinishRuns(ctx, now)
	if err != nil {
		r.log.Warn("broadcast finish", "err", err)
	}
	for _, run := range finished {
		r.report(ctx, run, true)
	}
	for _, run := range sending {
		if !slices.ContainsFunc(finished, func(f Run) bool { return f.ID == run.ID }) {
			r.report(ctx, run, false)
		}
	}
	r.guard("reminders", func() { r.remind(ctx, now) })
}

// remind sends the personal reminders that are due (not in the quiet
// hours): each is appended to its resident's outbox once, whatever crashes
// between that and marking it sent.
func (r *Runner) remind(ctx context.Context, now time.Time) {
	q := r.cfg.Reminders
	if q == nil || r.cfg.Relay == nil || r.cfg.Flows == nil {
		return
	}
	if n, err := q.Rescue(ctx, now.Add(-r.cfg.Lease)); err != nil {
		r.log.Warn("reminder rescue", "err", err)
	} else if n > 0 {
		r.log.Info("reminders claimed by a stopped process are sent again", "reminders", n)
	}
	if !r.cfg.Quiet.Until(now.In(r.cfg.Location)).IsZero() {
		return
	}
	due, err := q.Due(ctx, r.cfg.Owner, now, 100)
	if err != nil {
		r.log.Warn("due reminders", "err", err)
		return
	}
	set := r.cfg.Flows()
	for _, rem := range due {
		out := ReminderMessage(set, rem)
		if err := r.cfg.Relay(ctx, "reminder:"+strconv.FormatInt(rem.ID, 10), []bot.Outbound{out}); err != nil {
			r.log.Warn("reminder not sent; tried again later", "reminder", rem.ID, "err", err)
			continue
		}
		if err := q.Sent(ctx, rem.ID, now); err != nil {
			r.log.Warn("reminder sent but not marked", "reminder", rem.ID, "err", err)
		}
	}
}

// ReminderMessage is what a resident's reminder says: the guide it is
// about and a button back to the step where they stopped.
func ReminderMessage(set *flows.Set, rem bot.Reminder) bot.Outbound {
	lang := cmp.Or(rem.Lang, "vi")
	name := rem.Flow
	if f, ok := set.Flow(rem.Flow); ok {
		name = title(f, lang)
	}
	target := rem.Flow
	if rem.Step != "" {
		target += "#" + rem.Step
	}
	return bot.Outbound{
		ID:   "r" + strconv.FormatInt(rem.ID, 10),
		Key:  rem.Key,
		Text: set.Text(lang, "remind_message", map[string]string{"title": name}),
		Lane: bot.LaneBulk,
		Buttons: [][]bot.Button{
			{{Text: set.Text(lang, "remind_open_button", nil), Data: flows.DataOpen(target)}},
			{{Text: set.Text(lang, "nav_menu", nil), Data: "nav:menu"}},
		},
	}
}

// due starts b's run when its time has come.
func (r *Runner) due(ctx context.Context, b Broadcast, last Run, now time.Time) {
	tick, ok, err := r.dueTick(ctx, b, last, now)
	if err != nil || !ok {
		if err != nil {
			r.log.Error("broadcast schedule", "broadcast", b.ID, "err", err)
		}
		return
	}
	aud, err := Parse(b.Audience)
	if err != nil {
		r.log.Error("broadcast audience no longer parses; cancelled", "broadcast", b.ID, "err", err)
		_ = r.store.SetState(ctx, b.ID, []State{Active}, Cancelled, false, now)
		return
	}
	run, started, err := r.store.StartRun(ctx, b, aud, r.cfg.Rules, tick, now)
	if err != nil {
		r.log.Error("broadcast run not started", "broadcast", b.ID, "tick", tick, "err", err)
		return
	}
	if started {
		r.log.Info("broadcast started", "broadcast", b.ID, "run", run.ID, "tick", tick, "recipients", run.Total)
	}
}

// dueTick says which tick of b is due now and not started yet. A one-off
// broadcast later than the grace is marked missed instead.
func (r *Runner) dueTick(ctx context.Context, b Broadcast, last Run, now time.Time) (time.Time, bool, error) {
	if !b.Recurring() {
		switch {
		case last.ID != 0 || now.Before(b.At):
			return time.Time{}, false, nil
		case now.Sub(b.At) > r.cfg.Grace:
			r.log.Warn("broadcast missed: its time passed while gocua was down, longer ago than the grace",
				"broadcast", b.ID, "at", b.At, "grace", r.cfg.Grace)
			return time.Time{}, false, r.store.SetState(ctx, b.ID, []State{Active}, Done, true, now)
		}
		return b.At, true, nil
	}
	sched, err := ParseCron(b.Cron)
	if err != nil {
		return time.Time{}, false, err
	}
	tick, ok := LastTick(sched, r.cfg.Location, maxTime(last.Tick, b.CreatedAt, now.Add(-r.cfg.TickWindow)), now)
	if !ok || !tick.After(last.Tick) {
		return time.Time{}, false, nil
	}
	return tick, true, nil
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// cronParser reads the five standard fields and the @descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron reads a recurring broadcast's schedule: five fields (minute,
// hour, day of month, month, day of week) or a descriptor such as @daily,
// in the deployment's timezone (a CRON_TZ= prefix is refused: one zone for
// every schedule).
func ParseCron(spec string) (cron.Schedule, error) {
	if strings.Contains(spec, "TZ=") {
		return nil, fmt.Errorf("broadcast: schedule %q: no TZ= prefix; schedules follow GOCUA_TIMEZONE", spec)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("broadcast: schedule %q: %w", spec, err)
	}
	return s, nil
}

// LastTick returns the schedule's latest tick in (after, now], in loc.
func LastTick(s cron.Schedule, loc *time.Location, after, now time.Time) (time.Time, bool) {
	var last time.Time
	for t := s.Next(after.In(loc)); !t.After(now); t = s.Next(t) {
		last = t
	}
	return last, !last.IsZero()
}

// report shows an organizer a run's progress (at most every
// ProgressEvery) or, when final, its report; and exports the progress.
func (r *Runner) report(ctx context.Context, run Run, final bool) {
	// counting a run's deliveries reads all its rows: at most every
	// ProgressEvery while it runs
	now := time.Now()
	r.mu.Lock()
	if !final && now.Sub(r.progress[run.Broadcast]) < r.cfg.ProgressEvery {
		r.mu.Unlock()
		return
	}
	r.progress[run.Broadcast] = now
	if final {
		delete(r.progress, run.Broadcast)
	}
	r.mu.Unlock()
	rep, err := r.store.Report(ctx, run.ID)
	if err != nil {
		r.log.Warn("broadcast report", "run", run.ID, "err", err)
		return
	}
	r.cfg.Metrics.Progress(run.Broadcast, rep.Settled(), rep.Run.Total)
	if final {
		r.log.Info("broadcast finished", "broadcast", run.Broadcast, "run", run.ID, "total", rep.Run.Total,
			"delivered", rep.Delivered, "blocked", rep.Blocked, "failed", rep.Failed, "skipped", rep.SkippedTotal(), "tapped", rep.Tapped)
	}
	if r.cfg.Notifier == nil || r.cfg.Flows == nil {
		return
	}
	b, err := r.store.Broadcast(ctx, run.Broadcast)
	if err != nil || b.ProgressChat.ChatID == "" {
		return
	}
	text := ReportText(r.cfg.Flows(), "vi", rep, final)
	if b.ProgressMsg != "" && !final {
		if err := r.cfg.Notifier.Edit(ctx, b.ProgressChat.ChatID, b.ProgressMsg, text, nil); err != nil {
			r.log.Warn("broadcast progress not shown", "broadcast", b.ID, "err", err)
		}
		return
	}
	id, err := r.cfg.Notifier.Post(ctx, b.ProgressChat.ChatID, text, nil)
	if err != nil {
		r.log.Warn("broadcast progress not shown", "broadcast", b.ID, "err", err)
		return
	}
	if !final {
		if err := r.store.SetProgress(ctx, b.ID, b.ProgressChat, id); err != nil {
			r.log.Warn("broadcast progress message not kept", "broadcast", b.ID, "err", err)
		}
	}
}

// ReportText is a run's progress ("Đã gửi 1.200/5.000 · 3 chặn · 0 lỗi")
// or final report, in the organizer's language.
func ReportText(set *flows.Set, lang string, rep Report, final bool) string {
	vars := map[string]string{
		"sent":      thousands(rep.Delivered),
		"settled":   thousands(rep.Settled()),
		"total":     thousands(rep.Run.Total),
		"blocked":   thousands(rep.Blocked),
		"failed":    thousands(rep.Failed),
		"skipped":   thousands(rep.SkippedTotal()),
		"tapped":    thousands(rep.Tapped),
		"id":        strconv.FormatInt(rep.Run.Broadcast, 10),
		"consent":   thousands(rep.Skipped[ReasonNoConsent]),
		"unreached": thousands(rep.Skipped[ReasonUnreachable]),
		"window":    thousands(rep.Skipped[ReasonWindow]),
		"expired":   thousands(rep.Skipped[ReasonExpired]),
		"cancelled": thousands(rep.Skipped[ReasonCancelled]),
	}
	if final {
		return set.Text(lang, "broadcast_report", vars)
	}
	return set.Text(lang, "broadcast_progress", vars)
}

// thousands writes n with dots between thousands, as Vietnamese does.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// lane sends one channel's deliveries: a claimer fills work, Workers
// goroutines send, a recorder writes outcomes in batches.
type lane struct {
	r      *Runner
	ch     bot.Channel
	c      Channel
	work   chan Delivery
	done   chan Outcome
	paused atomic.Int64 // unix µs until which the platform asked us to wait
	cache  sync.Map     // broadcast id → *Broadcast
}

func (l *lane) run(ctx context.Context) {
	var workers, recorder sync.WaitGroup
	recorder.Go(func() { l.record(ctx) })
	for range l.r.cfg.Workers {
		workers.Go(func() { l.send(ctx) })
	}
	l.claim(ctx)
	close(l.work)
	workers.Wait()
	close(l.done)
	recorder.Wait()
}

// claim keeps work filled with due deliveries until ctx ends.
func (l *lane) claim(ctx context.Context) {
	cfg := &l.r.cfg
	for ctx.Err() == nil {
		now := cfg.Now()
		wait := time.Duration(0)
		if until := cfg.Quiet.Until(now.In(cfg.Location)); !until.IsZero() {
			wait = until.Sub(now)
		}
		if p := time.UnixMicro(l.paused.Load()); p.After(now) {
			wait = max(wait, p.Sub(now))
		}
		if wait > 0 {
			sleep(ctx, min(wait, cfg.Poll))
			continue
		}
		// claim about a quarter second of sending: what waits here is
		// checked again before it goes, but the less waits, the fresher
		want := min(cap(l.work), max(1, int(l.c.Rate/4)))
		if len(l.work) >= want {
			sleep(ctx, 10*time.Millisecond)
			continue
		}
		ds, err := l.r.store.Claim(ctx, l.ch, cfg.Owner, want-len(l.work), now)
		if err != nil {
			if ctx.Err() == nil {
				l.r.log.Warn("broadcast claim", "channel", l.ch, "err", err)
			}
			sleep(ctx, cfg.Poll)
			continue
		}
		if len(ds) == 0 {
			sleep(ctx, cfg.Poll)
			continue
		}
		for _, d := range ds {
			select {
			case l.work <- d:
			case <-ctx.Done():
				// claimed but not sent: handed back at once
				l.done <- Outcome{Run: d.Run, Resident: d.Resident, State: Pending, At: now, Retry: now, Uncounted: true}
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// record writes outcomes in batches: every 32, or 100 ms after the first
// of a batch, and what is left when the lane stops. Outcomes sent but not
// yet written are the only deliveries a crash can send twice.
func (l *lane) record(ctx context.Context) {
	const most = 32
	bg := context.WithoutCancel(ctx)
	var batch []Outcome
	flush := func() {
		if len(batch) == 0 {
			return
		}
		for try := range 5 {
			err := l.r.store.Record(bg, batch)
			if err == nil {
				break
			}
			l.r.log.Error("broadcast outcomes not recorded", "outcomes", len(batch), "try", try+1, "err", err)
			time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
		}
		batch = batch[:0]
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case o, ok := <-l.done:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				t.Reset(100 * time.Millisecond)
			}
			batch = append(batch, o)
			if len(batch) >= most {
				t.Stop()
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

// send delivers what the claimer hands over.
func (l *lane) send(ctx context.Context) {
	for d := range l.work {
		if ctx.Err() != nil {
			now := l.r.cfg.Now()
			l.done <- Outcome{Run: d.Run, Resident: d.Resident, State: Pending, At: now, Retry: now, Uncounted: true}
			continue
		}
		var o Outcome
		l.r.guard("delivery", func() { o = l.deliver(ctx, d) })
		if o.Run == 0 { // it panicked: tried again later, then failed
			now := l.r.cfg.Now()
			o = l.retry(d, now, errors.New("panic"))
		}
		l.r.cfg.Metrics.Delivery(l.ch, metricOutcome(o.State))
		l.done <- o
	}
}

func metricOutcome(s DeliveryState) string {
	if s == Pending {
		return "retry"
	}
	return string(s)
}

// deliver sends one delivery and says what became of it.
func (l *lane) deliver(ctx context.Context, d Delivery) Outcome {
	cfg := &l.r.cfg
	now := cfg.Now()
	skip := func(reason string) Outcome {
		return Outcome{Run: d.Run, Resident: d.Resident, State: Skipped, Reason: reason, At: now}
	}
	switch w, limited := cfg.Rules.Windows[d.Key.Channel]; {
	case d.Consent != bot.ConsentYes:
		return skip(ReasonNoConsent)
	case !d.Reachable:
		return skip(ReasonUnreachable)
	case limited && now.Sub(d.LastSeen) > w:
		return skip(ReasonWindow)
	}
	b, err := l.broadcast(ctx, d.Broadcast)
	if err != nil {
		return l.retry(d, now, err)
	}
	if b.State == Cancelled {
		return skip(ReasonCancelled)
	}
	if err := l.pace(ctx, d); err != nil {
		var w waitError
		if errors.As(err, &w) {
			return Outcome{Run: d.Run, Resident: d.Resident, State: Pending, At: now, Retry: now.Add(w.d), Reason: "paced", Uncounted: true}
		}
		return l.retry(d, now, err)
	}
	// the last look before it goes: /stop or a block since the claim
	switch consent, reachable, err := l.r.store.Recipient(ctx, d.Resident); {
	case err != nil:
		return l.retry(d, now, err)
	case consent != bot.ConsentYes:
		return skip(ReasonNoConsent)
	case !reachable:
		return skip(ReasonUnreachable)
	}
	out := l.outbound(b, d)
	// a send under way finishes even at shutdown (its outcome is known)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	err = l.c.Deliverer.Deliver(dctx, out)
	cancel()
	now = cfg.Now()
	var ra *bot.RetryAfterError
	switch {
	case err == nil:
		return Outcome{Run: d.Run, Resident: d.Resident, State: Delivered, At: now}
	case errors.Is(err, bot.ErrUnreachable):
		bg := context.WithoutCancel(ctx)
		if cfg.Residents != nil {
			if err := cfg.Residents.SetReachable(bg, d.Key, false, now); err != nil {
				l.r.log.Error("mark unreachable", "chat", d.Key.String(), "err", err)
			}
			if err := cfg.Residents.SetConsent(bg, d.Key, bot.ConsentNo, now); err != nil {
				l.r.log.Error("unsubscribe blocked resident", "chat", d.Key.String(), "err", err)
			}
		}
		return Outcome{Run: d.Run, Resident: d.Resident, State: Blocked, At: now}
	case errors.As(err, &ra):
		if cfg.Pacer != nil {
			if err := cfg.Pacer.PauseBulk(context.WithoutCancel(ctx), l.ch, ra.After); err != nil {
				l.r.log.Warn("bulk lane not paused", "channel", l.ch, "err", err)
			}
		}
		l.pause(now.Add(ra.After), true)
		// the platform's brake, not this delivery's fault: no try is spent
		return Outcome{Run: d.Run, Resident: d.Resident, State: Pending, At: now, Retry: now.Add(ra.After), Reason: "retry_after", Uncounted: true}
	case errors.Is(err, bot.ErrWindow): // the platform counts the window from more than our last_seen knows
		return skip(ReasonWindow)
	case errors.Is(err, bot.ErrRejected):
		return Outcome{Run: d.Run, Resident: d.Resident, State: Failed, Reason: clipReason(err.Error()), At: now}
	}
	return l.retry(d, now, err)
}

// bulkBurst is how far bulk sends may run ahead of the channel's rate: a
// little, so that a slot missed by a late worker is not lost, and less than
// the replies' burst (Rate/5, at least 3 at Telegram's 25 a second), so
// that replies always go first.
const bulkBurst = 2

// waitError says a delivery must wait longer than a worker should hold it.
type waitError struct{ d time.Duration }

func (w waitError) Error() string { return fmt.Sprintf("wait %s", w.d) }

// pace waits for the delivery's turn under the shared limits: the
// channel's bulk budget and the chat's. A long wait (the bulk lane is
// paused, or the chat was just written to) is a waitError: the delivery is
// put back for later and the lane stops claiming meanwhile.
func (l *lane) pace(ctx context.Context, d Delivery) error {
	cfg := &l.r.cfg
	if cfg.Pacer == nil {
		return nil
	}
	for {
		wait, err := cfg.Pacer.Pace(ctx, bot.Pace{
			Channel: l.ch, Lane: bot.LaneBulk, Rate: l.c.Rate, Burst: bulkBurst,
			Chat: d.Key.ChatID, PerChat: l.c.PerChat, ChatBurst: 1,
		})
		switch {
		case err != nil:
			return fmt.Errorf("pacing: %w", err)
		case wait <= 0:
			return nil
		case wait > cfg.Poll:
			l.pause(cfg.Now().Add(wait), wait > 2*time.Second)
			return waitError{wait}
		}
		sleep(ctx, wait)
		if ctx.Err() != nil {
			return waitError{0}
		}
	}
}

// retry puts a delivery back with backoff, or fails it after MaxTries.
func (l *lane) retry(d Delivery, now time.Time, err error) Outcome {
	if d.Attempts >= l.r.cfg.MaxTries {
		l.r.log.Warn("broadcast delivery failed", "chat", d.Key.String(), "run", d.Run, "tries", d.Attempts, "err", err)
		return Outcome{Run: d.Run, Resident: d.Resident, State: Failed, Reason: clipReason(err.Error()), At: now}
	}
	back := time.Second << min(d.Attempts, 6)
	back = back/2 + time.Duration(rand.Int64N(int64(back/2)))
	return Outcome{Run: d.Run, Resident: d.Resident, State: Pending, Reason: clipReason(err.Error()), At: now, Retry: now.Add(back)}
}

// pause stops this lane's claims until until; log says the platform asked.
func (l *lane) pause(until time.Time, log bool) {
	for {
		cur := l.paused.Load()
		if until.UnixMicro() <= cur {
			return
		}
		if l.paused.CompareAndSwap(cur, until.UnixMicro()) {
			if log {
				l.r.log.Warn("broadcasts paused on this channel: the platform asked to slow down", "channel", l.ch, "until", until)
			}
			return
		}
	}
}

// broadcast returns a broadcast, cached for a few seconds.
func (l *lane) broadcast(ctx context.Context, id int64) (Broadcast, error) {
	type cached struct {
		b  Broadcast
		at time.Time
	}
	now := time.Now()
	if v, ok := l.cache.Load(id); ok && now.Sub(v.(cached).at) < 2*time.Second {
		return v.(cached).b, nil
	}
	b, err := l.r.store.Broadcast(ctx, id)
	if err != nil {
		return b, err
	}
	l.cache.Store(id, cached{b, now})
	return b, nil
}

// outbound is the message of b for d's resident: the text, the image, the
// deep-link buttons and the unsubscribe button in their language.
func (l *lane) outbound(b Broadcast, d Delivery) bot.Outbound {
	lang := cmp.Or(d.Lang, l.r.cfg.Rules.DefaultLang, "vi")
	out := bot.Outbound{
		ID:   "b" + strconv.FormatInt(d.Run, 10) + "/" + strconv.FormatInt(d.Resident, 10),
		Key:  d.Key,
		Text: b.Text,
		Lane: bot.LaneBulk,
		Paid: b.Paid && l.c.Paid,
	}
	if b.Image != "" {
		out.Media = &bot.Media{Kind: bot.MediaPhoto, Ref: b.Image}
	}
	for _, btn := range b.Buttons {
		out.Buttons = append(out.Buttons, []bot.Button{{Text: btn.Label, Data: bot.TapData(d.Run, btn.Target())}})
	}
	unsub := "🔕"
	if l.r.cfg.Flows != nil {
		unsub = l.r.cfg.Flows().Text(lang, "unsubscribe_button", nil)
	}
	out.Buttons = append(out.Buttons, []bot.Button{{Text: unsub, Data: flows.DataUnsubscribe}})
	return out
}

func clipReason(s string) string {
	if len(s) <= 300 {
		return s
	}
	cut := 300
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
