package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gocua/gocua/bot"
)

// Personal reminders (table reminders): the bot.Reminders port, as methods
// of both durable stores, and the queue a sender works from
// ([RemindersQueue]). Like [Desk] and [Broadcasts], both dialects share the
// SQL ($n placeholders, ON CONFLICT, RETURNING) and differ in how times are
// stored and in locking: PostgreSQL claims with FOR UPDATE SKIP LOCKED,
// SQLite's one writer serializes claimers. Every time comes from the
// caller: the SQL never reads a clock. Text is stored clean (see clean), so
// both dialects keep the same strings.

var (
	_ bot.Reminders = (*Postgres)(nil)
	_ bot.Reminders = (*SQLite)(nil)
)

// RemindersQueue is the reminders kept in one database, as a sender sees
// them: due reminders are claimed (Due), then marked sent (Sent); claims of
// a process that died are taken back (Rescue, Release).
type RemindersQueue struct {
	r, w   *sql.DB // readers and the writer (one *sql.DB on PostgreSQL)
	sqlite bool
}

// RemindersQueue returns the reminders kept in this database.
func (p *Postgres) RemindersQueue() *RemindersQueue { return &RemindersQueue{r: p.db, w: p.db} }

// RemindersQueue returns the reminders kept in this database.
func (s *SQLite) RemindersQueue() *RemindersQueue {
	return &RemindersQueue{r: s.r, w: s.w, sqlite: true}
}

func (q *RemindersQueue) at(t time.Time) any { return dialectTime(q.sqlite, t) }

// ScheduleReminder stores r (State scheduled) once per (Key, Update) and
// returns its id; a second call with the same Key and Update returns the
// first one's id and changes nothing. Key, Flow, Update and Due are
// required; a zero Created is now.
func (p *Postgres) ScheduleReminder(ctx context.Context, r bot.Reminder) (int64, error) {
	return p.RemindersQueue().schedule(ctx, r)
}

// ScheduleReminder stores r (State scheduled) once per (Key, Update) and
// returns its id; a second call with the same Key and Update returns the
// first one's id and changes nothing. Key, Flow, Update and Due are
// required; a zero Created is now.
func (s *SQLite) ScheduleReminder(ctx context.Context, r bot.Reminder) (int64, error) {
	return s.RemindersQueue().schedule(ctx, r)
}

// CancelReminder cancels reminder id of key if it is still scheduled:
// cancelled reports whether this call did. A reminder of key already
// sending, sent or cancelled is not an error; one that does not exist, or
// is another resident's, is bot.ErrNoReminder. A zero at is now.
func (p *Postgres) CancelReminder(ctx context.Context, key bot.ConvKey, id int64, at time.Time) (bool, error) {
	return p.RemindersQueue().cancel(ctx, key, id, at)
}

// CancelReminder cancels reminder id of key if it is still scheduled:
// cancelled reports whether this call did. A reminder of key already
// sending, sent or cancelled is not an error; one that does not exist, or
// is another resident's, is bot.ErrNoReminder. A zero at is now.
func (s *SQLite) CancelReminder(ctx context.Context, key bot.ConvKey, id int64, at time.Time) (bool, error) {
	return s.RemindersQueue().cancel(ctx, key, id, at)
}

// CancelReminders cancels every scheduled reminder of key (/stop),
// returning how many. A zero at is now.
func (p *Postgres) CancelReminders(ctx context.Context, key bot.ConvKey, at time.Time) (int, error) {
	return p.RemindersQueue().cancelAll(ctx, key, at)
}

// CancelReminders cancels every scheduled reminder of key (/stop),
// returning how many. A zero at is now.
func (s *SQLite) CancelReminders(ctx context.Context, key bot.ConvKey, at time.Time) (int, error) {
	return s.RemindersQueue().cancelAll(ctx, key, at)
}

// $1 channel, $2 external id, $3 lang, $4 flow, $5 step, $6 due, $7 update,
// $8 created. The no-op update makes RETURNING give the stored row's id on
// a conflict too.
const scheduleReminderSQL = `
INSERT INTO reminders (channel, external_id, lang, flow, step, due, source_update, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (channel, external_id, source_update) DO UPDATE SET source_update = EXCLUDED.source_update
RETURNING id`

func (q *RemindersQueue) schedule(ctx context.Context, r bot.Reminder) (int64, error) {
	ch, ext, flow, upd := clean(string(r.Key.Channel)), clean(r.Key.ChatID), clean(r.Flow), clean(r.Update)
	var err error
	switch {
	case ch == "" || ext == "":
		err = errors.New("no conversation key")
	case flow == "":
		err = errors.New("no flow")
	case upd == "":
		err = errors.New("no update")
	case r.Due.IsZero():
		err = errors.New("no due time")
	}
	var id int64
	if err == nil {
		err = q.w.QueryRowContext(ctx, scheduleReminderSQL, ch, ext, clean(r.Lang), flow, clean(r.Step),
			q.at(r.Due), upd, q.at(orNow(r.Created))).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("store: schedule reminder of %s: %w", r.Key, err)
	}
	return id, nil
}

func (q *RemindersQueue) cancel(ctx context.Context, key bot.ConvKey, id int64, at time.Time) (bool, error) {
	ch, ext := clean(string(key.Channel)), clean(key.ChatID)
	res, err := q.w.ExecContext(ctx, `UPDATE reminders SET state = 'cancelled', cancelled_at = $4
WHERE id = $1 AND channel = $2 AND external_id = $3 AND state = 'scheduled'`, id, ch, ext, q.at(orNow(at)))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	// Not cancelled by this call: the resident's reminder, no longer
	// scheduled, or none of theirs.
	mine := n == 1
	if err == nil && !mine {
		err = q.w.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM reminders WHERE id = $1 AND channel = $2 AND external_id = $3)`,
			id, ch, ext).Scan(&mine)
	}
	if err == nil && !mine {
		err = bot.ErrNoReminder
	}
	if err != nil {
		return false, fmt.Errorf("store: cancel reminder %d of %s: %w", id, key, err)
	}
	return n == 1, nil
}

func (q *RemindersQueue) cancelAll(ctx context.Context, key bot.ConvKey, at time.Time) (int, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE reminders SET state = 'cancelled', cancelled_at = $3
WHERE channel = $1 AND external_id = $2 AND state = 'scheduled'`,
		clean(string(key.Channel)), clean(key.ChatID), q.at(orNow(at)))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("store: cancel reminders of %s: %w", key, err)
	}
	return int(n), nil
}

const reminderCols = `id, channel, external_id, lang, flow, step, due, state, source_update, created_at`

func scanReminder(row rowScanner) (bot.Reminder, error) {
	var r bot.Reminder
	var ch, state string
	var due, created dbTime
	if err := row.Scan(&r.ID, &ch, &r.Key.ChatID, &r.Lang, &r.Flow, &r.Step, &due, &state, &r.Update, &created); err != nil {
		return r, err
	}
	r.Key.Channel, r.State, r.Due, r.Created = bot.Channel(ch), bot.ReminderState(state), due.t, created.t
	return r, nil
}

// pgDueSQL claims in one statement: the first $2 scheduled reminders due
// at $1, locked, skipping rows another claimer holds. $3 owner.
const pgDueSQL = `
WITH picked AS MATERIALIZED (
    SELECT id FROM reminders
    WHERE state = 'scheduled' AND due <= $1
    ORDER BY due, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE reminders r SET state = 'sending', claimed_at = $1, claimed_by = $3
FROM picked p WHERE r.id = p.id
RETURNING r.id, r.channel, r.external_id, r.lang, r.flow, r.step, r.due, r.state, r.source_update, r.created_at`

// sqliteDueSQL is pgDueSQL for SQLite, run in a write transaction: the one
// writer serializes claimers, so the rows picked are still scheduled.
const sqliteDueSQL = `
UPDATE reminders SET state = 'sending', claimed_at = $1, claimed_by = $3
WHERE id IN (SELECT id FROM reminders WHERE state = 'scheduled' AND due <= $1 ORDER BY due, id LIMIT $2)
RETURNING ` + reminderCols

// Due claims up to n scheduled reminders due at now (due <= now), oldest
// due first, marking them Sending by owner (claimed at now). No two callers
// get the same reminder. An empty owner is refused: its claims could not be
// released. A zero now is the current time.
func (q *RemindersQueue) Due(ctx context.Context, owner string, now time.Time, n int) ([]bot.Reminder, error) {
	if owner = clean(owner); owner == "" {
		return nil, errors.New("store: due reminders: empty owner")
	}
	if n <= 0 {
		return nil, nil
	}
	now = orNow(now)
	var out []bot.Reminder
	var err error
	if q.sqlite {
		err = inTx(ctx, q.w, func(tx *sql.Tx) error {
			var err error
			out, err = scanAll(scanReminder)(tx.QueryContext(ctx, sqliteDueSQL, q.at(now), n, owner))
			return err
		})
	} else {
		out, err = scanAll(scanReminder)(q.w.QueryContext(ctx, pgDueSQL, q.at(now), n, owner))
	}
	if err != nil {
		return nil, fmt.Errorf("store: due reminders: %w", err)
	}
	// RETURNING comes in no particular order
	slices.SortFunc(out, func(a, b bot.Reminder) int { return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// Sent records that claimed reminder id was sent at at (Sending → Sent). A
// reminder already sent is not an error; one that does not exist is
// bot.ErrNoReminder, and one not claimed (rescued or released meanwhile,
// or cancelled) is an error that changes nothing. A zero at is now.
func (q *RemindersQueue) Sent(ctx context.Context, id int64, at time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE reminders SET state = 'sent', sent_at = $2 WHERE id = $1 AND state = 'sending'`,
		id, q.at(orNow(at)))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return fmt.Errorf("store: reminder %d sent: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	var state string
	err = q.w.QueryRowContext(ctx, `SELECT state FROM reminders WHERE id = $1`, id).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: reminder %d sent: %w", id, bot.ErrNoReminder)
	case err != nil:
		return fmt.Errorf("store: reminder %d sent: %w", id, err)
	case bot.ReminderState(state) == bot.ReminderSent:
		return nil
	}
	return fmt.Errorf("store: reminder %d sent: it is %s, not sending", id, state)
}

// Rescue makes reminders claimed before `before` and never marked sent
// scheduled again (due when they were due), returning how many: the claims
// of a process that died.
func (q *RemindersQueue) Rescue(ctx context.Context, before time.Time) (int, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE reminders SET state = 'scheduled', claimed_at = NULL, claimed_by = ''
WHERE state = 'sending' AND claimed_at < $1`, q.at(before))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("store: rescue reminders: %w", err)
	}
	return int(n), nil
}

// Release makes every reminder claimed by owner and never marked sent
// scheduled again, returning how many: a restarted process takes back what
// it held when it stopped. An empty owner is refused.
func (q *RemindersQueue) Release(ctx context.Context, owner string) (int, error) {
	if owner = clean(owner); owner == "" {
		return 0, errors.New("store: release reminders: empty owner")
	}
	res, err := q.w.ExecContext(ctx, `UPDATE reminders SET state = 'scheduled', claimed_at = NULL, claimed_by = ''
WHERE state = 'sending' AND claimed_by = $1`, owner)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("store: release reminders of %s: %w", owner, err)
	}
	return int(n), nil
}

// Reminder returns reminder id (bot.ErrNoReminder if there is none).
func (q *RemindersQueue) Reminder(ctx context.Context, id int64) (bot.Reminder, error) {
	r, err := scanReminder(q.r.QueryRowContext(ctx, `SELECT `+reminderCols+` FROM reminders WHERE id = $1`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return bot.Reminder{}, fmt.Errorf("store: reminder %d: %w", id, bot.ErrNoReminder)
	case err != nil:
		return bot.Reminder{}, fmt.Errorf("store: reminder %d: %w", id, err)
	}
	return r, nil
}
