package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
)

// Broadcasts keeps broadcasts, their runs and the per-recipient ledger
// (tables broadcasts, broadcast_runs, broadcast_deliveries): it implements
// broadcast.Store on either durable store. Like [Desk], both dialects share
// most of the SQL ($n placeholders, RETURNING) and differ in how times are
// stored and in locking: PostgreSQL claims with FOR UPDATE SKIP LOCKED and
// records a batch with one UPDATE over arrays; SQLite has one writer, so a
// transaction on it does the same with plain statements.
//
// Every time comes from the caller (now, at): the SQL never reads a clock.
// A run's audience is materialised by the database (INSERT … SELECT), never
// loaded into memory.
type Broadcasts struct {
	r, w   *sql.DB // readers and the writer (one *sql.DB on PostgreSQL)
	sqlite bool
	// forShare locks the broadcast's row while a run starts, so a
	// concurrent cancel either sees the run or is seen by it
	forShare string
}

var _ broadcast.Store = (*Broadcasts)(nil)

// Broadcasts returns the broadcasts kept in this database.
func (p *Postgres) Broadcasts() *Broadcasts {
	return &Broadcasts{r: p.db, w: p.db, forShare: " FOR SHARE"}
}

// Broadcasts returns the broadcasts kept in this database.
func (s *SQLite) Broadcasts() *Broadcasts { return &Broadcasts{r: s.r, w: s.w, sqlite: true} }

func (s *Broadcasts) at(t time.Time) any { return dialectTime(s.sqlite, t) }

func (s *Broadcasts) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.w, fn)
}

// orNow is t, or the current time when t is zero (as Record does).
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// bcNotFound maps sql.ErrNoRows to broadcast.ErrNotFound.
func bcNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return broadcast.ErrNotFound
	}
	return err
}

const broadcastCols = `id, text, image, buttons, audience, at, cron, state, missed, paid, expires_seconds,
created_by, progress_channel, progress_chat, progress_msg, created_at, updated_at`

func scanBroadcast(row rowScanner) (broadcast.Broadcast, error) {
	var b broadcast.Broadcast
	var buttons, state, pch string
	var at, created, updated dbTime
	var expires int64
	if err := row.Scan(&b.ID, &b.Text, &b.Image, &buttons, &b.Audience, &at, &b.Cron, &state, &b.Missed, &b.Paid,
		&expires, &b.CreatedBy, &pch, &b.ProgressChat.ChatID, &b.ProgressMsg, &created, &updated); err != nil {
		return b, err
	}
	b.State, b.ProgressChat.Channel = broadcast.State(state), bot.Channel(pch)
	b.At, b.CreatedAt, b.UpdatedAt = at.t, created.t, updated.t
	b.Expires = time.Duration(expires) * time.Second
	if err := json.Unmarshal([]byte(buttons), &b.Buttons); err != nil {
		return b, fmt.Errorf("decode buttons: %w", err)
	}
	if len(b.Buttons) == 0 {
		b.Buttons = nil
	}
	return b, nil
}

// scanAll reads every row of a query with scan (the query's error, if
// any, is returned as it is).
func scanAll[T any](scan func(rowScanner) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}

// scanID reads a row of one id.
func scanID(row rowScanner) (int64, error) {
	var id int64
	return id, row.Scan(&id)
}

const runCols = `id, broadcast_id, tick, state, total, started_at, finished_at`

func scanRun(row rowScanner) (broadcast.Run, error) {
	var r broadcast.Run
	var state string
	var tick, started, finished dbTime
	if err := row.Scan(&r.ID, &r.Broadcast, &tick, &state, &r.Total, &started, &finished); err != nil {
		return r, err
	}
	r.State, r.Tick, r.StartedAt, r.FinishedAt = broadcast.RunState(state), tick.t, started.t, finished.t
	return r, nil
}

// expiresSeconds is how Expires is stored: whole seconds, rounded up so a
// short expiry never becomes 0 (never).
func expiresSeconds(d time.Duration) (int64, error) {
	if d < 0 {
		return 0, fmt.Errorf("negative expiry %v", d)
	}
	s := int64((d + time.Second - 1) / time.Second)
	if s > math.MaxInt32 {
		return 0, fmt.Errorf("expiry %v too long", d)
	}
	return s, nil
}

// CreateBroadcast stores a new broadcast, State Active, and returns its id.
// Text must not be empty, Expires not negative, and exactly one of At and
// Cron set. A zero CreatedAt is now.
func (s *Broadcasts) CreateBroadcast(ctx context.Context, b broadcast.Broadcast) (int64, error) {
	id, err := s.create(ctx, b)
	if err != nil {
		return 0, fmt.Errorf("store: create broadcast: %w", err)
	}
	return id, nil
}

func (s *Broadcasts) create(ctx context.Context, b broadcast.Broadcast) (int64, error) {
	text := clean(b.Text)
	if strings.TrimSpace(text) == "" {
		return 0, errors.New("empty text")
	}
	expires, err := expiresSeconds(b.Expires)
	if err != nil {
		return 0, err
	}
	cron := clean(strings.TrimSpace(b.Cron))
	if b.At.IsZero() == (cron == "") {
		return 0, errors.New("exactly one of a time and a cron schedule must be set")
	}
	var at any
	if !b.At.IsZero() {
		at = s.at(b.At)
	}
	buttons := make([]broadcast.Button, len(b.Buttons))
	for i, bt := range b.Buttons {
		buttons[i] = broadcast.Button{Label: clean(bt.Label), Flow: clean(bt.Flow), Step: clean(bt.Step)}
	}
	js, err := json.Marshal(buttons)
	if err != nil {
		return 0, fmt.Errorf("encode buttons: %w", err)
	}
	created := orNow(b.CreatedAt)
	updated := b.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	var id int64
	source := clean(b.Source)
	err = s.w.QueryRowContext(ctx, `
INSERT INTO broadcasts (text, image, buttons, audience, at, cron, state, missed, paid, expires_seconds,
                        created_by, progress_channel, progress_chat, progress_msg, created_at, updated_at, source)
VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (source) WHERE source <> '' DO NOTHING
RETURNING id`,
		text, clean(b.Image), string(js), clean(b.Audience), at, cron, false, b.Paid, expires,
		clean(b.CreatedBy), clean(string(b.ProgressChat.Channel)), clean(b.ProgressChat.ChatID), clean(b.ProgressMsg),
		s.at(created), s.at(updated), source).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) && source != "" { // made before from the same source
		err = s.w.QueryRowContext(ctx, `SELECT id FROM broadcasts WHERE source = $1`, source).Scan(&id)
	}
	return id, err
}

// Broadcast returns one broadcast (broadcast.ErrNotFound).
func (s *Broadcasts) Broadcast(ctx context.Context, id int64) (broadcast.Broadcast, error) {
	b, err := scanBroadcast(s.r.QueryRowContext(ctx, `SELECT `+broadcastCols+` FROM broadcasts WHERE id = $1`, id))
	if err != nil {
		return b, fmt.Errorf("store: broadcast %d: %w", id, bcNotFound(err))
	}
	return b, nil
}

// Broadcasts lists the newest broadcasts first, at most limit.
func (s *Broadcasts) Broadcasts(ctx context.Context, limit int) ([]broadcast.Broadcast, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := scanAll(scanBroadcast)(s.r.QueryContext(ctx, `SELECT `+broadcastCols+` FROM broadcasts ORDER BY id DESC LIMIT $1`, limit))
	if err != nil {
		return nil, fmt.Errorf("store: broadcasts: %w", err)
	}
	return out, nil
}

// Scheduled lists the active broadcasts, oldest first.
func (s *Broadcasts) Scheduled(ctx context.Context) ([]broadcast.Broadcast, error) {
	out, err := scanAll(scanBroadcast)(s.r.QueryContext(ctx, `SELECT `+broadcastCols+` FROM broadcasts WHERE state = 'active' ORDER BY id`))
	if err != nil {
		return nil, fmt.Errorf("store: scheduled broadcasts: %w", err)
	}
	return out, nil
}

var broadcastStates = []broadcast.State{broadcast.Active, broadcast.Paused, broadcast.Done, broadcast.Cancelled}

// SetState moves broadcast id to `to` if it is in one of from
// (broadcast.ErrState if not, broadcast.ErrNotFound if there is no such
// broadcast). missed marks it missed (it is never unmarked). To Cancelled,
// in the same transaction, its sending runs are cancelled and their pending
// deliveries skipped as cancelled; claimed ones are left to their worker.
func (s *Broadcasts) SetState(ctx context.Context, id int64, from []broadcast.State, to broadcast.State, missed bool, at time.Time) error {
	err := s.setState(ctx, id, from, to, missed, orNow(at))
	if err != nil {
		return fmt.Errorf("store: broadcast %d to %s: %w", id, to, err)
	}
	return nil
}

func (s *Broadcasts) setState(ctx context.Context, id int64, from []broadcast.State, to broadcast.State, missed bool, at time.Time) error {
	if len(from) == 0 {
		return errors.New("no from state")
	}
	if !slices.Contains(broadcastStates, to) {
		return fmt.Errorf("unknown state %q", to)
	}
	q := &sqlArgs{sqlite: s.sqlite}
	set := `UPDATE broadcasts SET state = ` + q.bind(string(to)) + `, missed = (missed OR ` + q.bind(missed) +
		`), updated_at = ` + q.time(at) + ` WHERE id = ` + q.bind(id) + ` AND state IN (` + bindList(q, from) + `)`
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, set, q.args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM broadcasts WHERE id = $1)`, id).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return broadcast.ErrNotFound
			}
			return broadcast.ErrState
		}
		if to != broadcast.Cancelled {
			return nil
		}
		// the runs first: a Record of a retry that locked its run before
		// commits first, and its pending row is then skipped below
		runs, err := scanAll(scanID)(tx.QueryContext(ctx, `UPDATE broadcast_runs SET state = 'cancelled', finished_at = $2
WHERE broadcast_id = $1 AND state = 'sending' RETURNING id`, id, s.at(at)))
		if err != nil {
			return err
		}
		for _, r := range runs {
			if _, err := tx.ExecContext(ctx, skipPendingSQL, r, broadcast.ReasonCancelled, s.at(at)); err != nil {
				return err
			}
		}
		return nil
	})
}

// skipPendingSQL skips run $1's pending deliveries for reason $2 at $3.
const skipPendingSQL = `UPDATE broadcast_deliveries SET state = 'skipped', reason = $2, settled_at = $3
WHERE run_id = $1 AND state = 'pending'`

// SetProgress records the organizer's progress message.
func (s *Broadcasts) SetProgress(ctx context.Context, id int64, chat bot.ConvKey, msg string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE broadcasts SET progress_channel = $2, progress_chat = $3, progress_msg = $4
WHERE id = $1`, id, clean(string(chat.Channel)), clean(chat.ChatID), clean(msg))
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = broadcast.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("store: progress of broadcast %d: %w", id, err)
	}
	return nil
}

// CountAudience counts the residents aud matches now, and why those who
// would not receive a broadcast would not — in one query.
func (s *Broadcasts) CountAudience(ctx context.Context, aud broadcast.Audience, rules broadcast.Rules, now time.Time) (broadcast.Count, error) {
	var c broadcast.Count
	q := &sqlArgs{sqlite: s.sqlite}
	elig := eligibilitySQL(q, rules, now)
	where, err := compileAudience(q, aud, rules, now)
	if err != nil {
		return c, fmt.Errorf("store: count audience: %w", err)
	}
	count := func(reason string) string {
		return `coalesce(sum(CASE WHEN x.reason = ` + sqlString(reason) + ` THEN 1 ELSE 0 END), 0)`
	}
	err = s.r.QueryRowContext(ctx, `SELECT count(*), `+count("")+`, `+count(broadcast.ReasonNoConsent)+`, `+
		count(broadcast.ReasonUnreachable)+`, `+count(broadcast.ReasonWindow)+`
FROM (SELECT `+elig+` AS reason FROM residents r WHERE `+where+`) x`, q.args...).Scan(
		&c.Matched, &c.Recipients, &c.NoConsent, &c.Unreachable, &c.Window)
	if err != nil {
		return broadcast.Count{}, fmt.Errorf("store: count audience: %w", err)
	}
	return c, nil
}

// StartRun creates broadcast b's run for tick and its deliveries, one per
// resident aud matches (pending, or skipped with why they cannot receive
// it), in one transaction; the database materialises them with one
// INSERT … SELECT. A run exists once per (broadcast, tick): a second call
// returns it with started false. A broadcast that is neither active nor
// paused starts no run (broadcast.ErrState).
func (s *Broadcasts) StartRun(ctx context.Context, b broadcast.Broadcast, aud broadcast.Audience, rules broadcast.Rules,
	tick, now time.Time) (broadcast.Run, bool, error) {
	now = orNow(now)
	tick = tick.UTC().Truncate(time.Microsecond) // as stored, so the key compares equal
	q := &sqlArgs{sqlite: s.sqlite}
	q.bind(nil) // $1: the run, set below
	elig := eligibilitySQL(q, rules, now)
	where, err := compileAudience(q, aud, rules, now)
	if err != nil {
		return broadcast.Run{}, false, fmt.Errorf("store: start run of broadcast %d: %w", b.ID, err)
	}
	insert := `
INSERT INTO broadcast_deliveries (run_id, resident_id, channel, external_id, lang, area, state, reason, next_at, settled_at)
SELECT x.run_id, x.id, x.channel, x.external_id, x.lang, x.area,
       CASE WHEN x.reason = '' THEN 'pending' ELSE 'skipped' END, x.reason, x.now,
       CASE WHEN x.reason = '' THEN NULL ELSE x.now END
FROM (SELECT u.id AS run_id, u.started_at AS now, r.id, r.channel, r.external_id, r.lang, r.area, ` + elig + ` AS reason
      FROM broadcast_runs u, residents r
      WHERE u.id = $1 AND (` + where + `)) x`

	var run broadcast.Run
	var started bool
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM broadcasts WHERE id = $1`+s.forShare, b.ID).Scan(&state)
		if err != nil {
			return bcNotFound(err)
		}
		existing := func() error {
			run, err = scanRun(tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM broadcast_runs
WHERE broadcast_id = $1 AND tick = $2`, b.ID, s.at(tick)))
			return err
		}
		if st := broadcast.State(state); st != broadcast.Active && st != broadcast.Paused {
			if err := existing(); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("broadcast is %s: %w", st, broadcast.ErrState)
				}
				return err
			}
			return nil
		}
		var id int64
		err = tx.QueryRowContext(ctx, `
INSERT INTO broadcast_runs (broadcast_id, tick, state, total, started_at) VALUES ($1, $2, 'sending', 0, $3)
ON CONFLICT (broadcast_id, tick) DO NOTHING
RETURNING id`, b.ID, s.at(tick), s.at(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return existing() // another call started it
		}
		if err != nil {
			return err
		}
		q.args[0] = id
		res, err := tx.ExecContext(ctx, insert, q.args...)
		if err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		total, err := res.RowsAffected()
		if err != nil {
			return err
		}
		run, err = scanRun(tx.QueryRowContext(ctx, `UPDATE broadcast_runs SET total = $2 WHERE id = $1 RETURNING `+runCols,
			id, total))
		started = err == nil
		return err
	})
	if err != nil {
		return broadcast.Run{}, false, fmt.Errorf("store: start run of broadcast %d at %s: %w",
			b.ID, tick.Format(time.RFC3339), err)
	}
	return run, started, nil
}

// LastRun returns broadcast id's latest run by tick (broadcast.ErrNotFound
// when it has none).
func (s *Broadcasts) LastRun(ctx context.Context, id int64) (broadcast.Run, error) {
	r, err := scanRun(s.r.QueryRowContext(ctx, `SELECT `+runCols+` FROM broadcast_runs WHERE broadcast_id = $1
ORDER BY tick DESC, id DESC LIMIT 1`, id))
	if err != nil {
		return r, fmt.Errorf("store: last run of broadcast %d: %w", id, bcNotFound(err))
	}
	return r, nil
}

// Runs lists broadcast id's runs, newest first, at most limit.
func (s *Broadcasts) Runs(ctx context.Context, id int64, limit int) ([]broadcast.Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := scanAll(scanRun)(s.r.QueryContext(ctx, `SELECT `+runCols+` FROM broadcast_runs WHERE broadcast_id = $1
ORDER BY tick DESC, id DESC LIMIT $2`, id, limit))
	if err != nil {
		return nil, fmt.Errorf("store: runs of broadcast %d: %w", id, err)
	}
	return out, nil
}

// pgClaimSQL claims in one statement: for each sending run of an active
// broadcast, its first due pending rows of the channel (locked, skipping
// rows another claimer holds), then the first $3 of those in claim order.
// $1 channel, $2 now, $3 n, $4 owner.
const pgClaimSQL = `
WITH picked AS MATERIALIZED (
    SELECT p.run_id, p.resident_id, u.broadcast_id
    FROM broadcast_runs u
    JOIN broadcasts b ON b.id = u.broadcast_id
    CROSS JOIN LATERAL (
        SELECT d.run_id, d.resident_id FROM broadcast_deliveries d
        WHERE d.run_id = u.id AND d.channel = $1 AND d.state = 'pending' AND d.next_at <= $2
        ORDER BY d.resident_id
        LIMIT $3
        FOR UPDATE OF d SKIP LOCKED
    ) p
    WHERE u.state = 'sending' AND b.state = 'active'
    ORDER BY p.run_id, p.resident_id
    LIMIT $3
)
UPDATE broadcast_deliveries d
SET state = 'sending', claimed_at = $2, claimed_by = $4, attempts = d.attempts + 1
FROM picked p LEFT JOIN residents r ON r.id = p.resident_id
WHERE d.run_id = p.run_id AND d.resident_id = p.resident_id
RETURNING d.run_id, p.broadcast_id, d.resident_id, d.channel, d.external_id, d.lang, d.attempts,
          coalesce(r.consent, 'unasked'), coalesce(r.reachable, false), r.last_seen`

// Claim takes up to n pending deliveries of channel ch due at now, of sending
// runs of active broadcasts, in run then resident order, marking them
// Sending by owner. No two callers get the same delivery.
func (s *Broadcasts) Claim(ctx context.Context, ch bot.Channel, owner string, n int, now time.Time) ([]broadcast.Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	now = orNow(now)
	var out []broadcast.Delivery
	var err error
	if s.sqlite {
		out, err = s.sqliteClaim(ctx, ch, clean(owner), n, now)
	} else {
		out, err = scanAll(scanDelivery)(s.w.QueryContext(ctx, pgClaimSQL, string(ch), s.at(now), n, clean(owner)))
		// RETURNING comes in no particular order
		sortDeliveries(out)
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim %s deliveries: %w", ch, err)
	}
	return out, nil
}

func sortDeliveries(ds []broadcast.Delivery) {
	slices.SortFunc(ds, func(a, b broadcast.Delivery) int {
		return cmp.Or(cmp.Compare(a.Run, b.Run), cmp.Compare(a.Resident, b.Resident))
	})
}

func scanDelivery(row rowScanner) (broadcast.Delivery, error) {
	var d broadcast.Delivery
	var ch, consent string
	var seen dbTime
	if err := row.Scan(&d.Run, &d.Broadcast, &d.Resident, &ch, &d.Key.ChatID, &d.Lang, &d.Attempts,
		&consent, &d.Reachable, &seen); err != nil {
		return d, err
	}
	d.Key.Channel, d.Consent, d.LastSeen = bot.Channel(ch), bot.Consent(consent), seen.t
	return d, nil
}

// sqliteClaim is Claim on SQLite: one write transaction (the one writer
// serializes claimers), run by run, selecting then updating.
func (s *Broadcasts) sqliteClaim(ctx context.Context, ch bot.Channel, owner string, n int, now time.Time) ([]broadcast.Delivery, error) {
	var out []broadcast.Delivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = nil
		type run struct{ id, broadcast int64 }
		runs, err := scanAll(func(row rowScanner) (run, error) {
			var r run
			return r, row.Scan(&r.id, &r.broadcast)
		})(tx.QueryContext(ctx, `SELECT u.id, u.broadcast_id FROM broadcast_runs u
JOIN broadcasts b ON b.id = u.broadcast_id
WHERE u.state = 'sending' AND b.state = 'active' ORDER BY u.id`))
		if err != nil {
			return err
		}
		for _, r := range runs {
			if len(out) == n {
				break
			}
			got, err := scanAll(scanDelivery)(tx.QueryContext(ctx, `
SELECT d.run_id, $1, d.resident_id, d.channel, d.external_id, d.lang, d.attempts + 1,
       coalesce(r.consent, 'unasked'), coalesce(r.reachable, 0), r.last_seen
FROM broadcast_deliveries d LEFT JOIN residents r ON r.id = d.resident_id
WHERE d.run_id = $2 AND d.channel = $3 AND d.state = 'pending' AND d.next_at <= $4
ORDER BY d.resident_id LIMIT $5`, r.broadcast, r.id, string(ch), s.at(now), n-len(out)))
			if err != nil {
				return err
			}
			if len(got) == 0 {
				continue
			}
			ids := make([]int64, len(got))
			for i, d := range got {
				ids[i] = d.Resident
			}
			js, _ := json.Marshal(ids) // int64s always encode
			if _, err := tx.ExecContext(ctx, `UPDATE broadcast_deliveries
SET state = 'sending', claimed_at = $3, claimed_by = $4, attempts = attempts + 1
WHERE run_id = $1 AND resident_id IN (SELECT value FROM json_each($2))`, // still pending: one writer
				r.id, string(js), s.at(now), owner); err != nil {
				return err
			}
			out = append(out, got...)
		}
		return nil
	})
	return out, err
}

var outcomeStates = []broadcast.DeliveryState{broadcast.Pending, broadcast.Delivered, broadcast.Blocked,
	broadcast.Failed, broadcast.Skipped}

// outcome is an Outcome checked and ready to store.
type outcome struct {
	run, resident int64
	state, reason string
	at, retry     time.Time
	uncounted     bool
}

func checkOutcomes(outs []broadcast.Outcome) ([]outcome, error) {
	checked := make([]outcome, len(outs))
	for i, o := range outs {
		if !slices.Contains(outcomeStates, o.State) {
			return nil, fmt.Errorf("delivery %d/%d: outcome %q is not pending, delivered, blocked, failed or skipped",
				o.Run, o.Resident, o.State)
		}
		c := outcome{run: o.Run, resident: o.Resident, state: string(o.State), reason: clean(o.Reason), at: orNow(o.At),
			uncounted: o.Uncounted && o.State == broadcast.Pending}
		c.retry = o.Retry
		if c.retry.IsZero() {
			c.retry = c.at
		}
		checked[i] = c
	}
	return checked, nil
}

// pgRecordSQL stores a batch of outcomes, given as parallel arrays, in one
// statement. Only claimed rows change (a late outcome for a row rescued
// since changes nothing). A retry in a run that is no longer sending (it
// was cancelled meanwhile) is skipped as cancelled instead; the run's row
// is share-locked so that a concurrent cancel, which updates it first, is
// either seen here or sees the retry.
const pgRecordSQL = `
UPDATE broadcast_deliveries d SET
    state      = x.state,
    reason     = x.reason,
    next_at    = CASE WHEN x.state = 'pending' THEN x.retry ELSE d.next_at END,
    claimed_at = CASE WHEN x.state = 'pending' THEN NULL ELSE d.claimed_at END,
    claimed_by = CASE WHEN x.state = 'pending' THEN '' ELSE d.claimed_by END,
    settled_at = CASE WHEN x.state = 'pending' THEN NULL ELSE x.at END,
    attempts   = CASE WHEN x.uncounted AND d.attempts > 0 THEN d.attempts - 1 ELSE d.attempts END
FROM (
    SELECT o.run_id, o.resident_id, o.at, o.retry, o.uncounted,
           CASE WHEN o.state = 'pending' AND u.state <> 'sending' THEN 'skipped' ELSE o.state END AS state,
           CASE WHEN o.state = 'pending' AND u.state <> 'sending' THEN $7 ELSE o.reason END AS reason
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $8::boolean[])
         AS o(run_id, resident_id, state, reason, at, retry, uncounted)
    JOIN broadcast_runs u ON u.id = o.run_id
    FOR SHARE OF u
) x
WHERE d.run_id = x.run_id AND d.resident_id = x.resident_id AND d.state = 'sending'`

// sqliteRecordSQL stores one outcome. $1 run, $2 resident, $3 state,
// $4 reason, $5 at, $6 retry, $7 uncounted (1: the try is given back).
const sqliteRecordSQL = `
UPDATE broadcast_deliveries SET
    state      = $3,
    reason     = $4,
    next_at    = CASE WHEN $3 = 'pending' THEN $6 ELSE next_at END,
    claimed_at = CASE WHEN $3 = 'pending' THEN NULL ELSE claimed_at END,
    claimed_by = CASE WHEN $3 = 'pending' THEN '' ELSE claimed_by END,
    settled_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $5 END,
    attempts   = CASE WHEN $7 = 1 AND attempts > 0 THEN attempts - 1 ELSE attempts END
WHERE run_id = $1 AND resident_id = $2 AND state = 'sending'`

// Record stores what became of claimed deliveries: one statement on
// PostgreSQL, one transaction on SQLite, however many outcomes. Only
// deliveries still Sending change. Pending outcomes wait until Retry (At
// when zero) with their claim cleared; the others are settled at At (now
// when zero). A retry in a run cancelled meanwhile is skipped as cancelled.
func (s *Broadcasts) Record(ctx context.Context, outs []broadcast.Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	checked, err := checkOutcomes(outs)
	if err == nil {
		if s.sqlite {
			err = s.sqliteRecord(ctx, checked)
		} else {
			err = s.pgRecord(ctx, checked)
		}
	}
	if err != nil {
		return fmt.Errorf("store: record %d deliveries: %w", len(outs), err)
	}
	return nil
}

func (s *Broadcasts) pgRecord(ctx context.Context, outs []outcome) error {
	n := len(outs)
	runs, residents := make([]int64, n), make([]int64, n)
	states, reasons := make([]string, n), make([]string, n)
	ats, retries := make([]time.Time, n), make([]time.Time, n)
	uncounted := make([]bool, n)
	for i, o := range outs {
		runs[i], residents[i], states[i], reasons[i] = o.run, o.resident, o.state, o.reason
		ats[i], retries[i], uncounted[i] = o.at.UTC(), o.retry.UTC(), o.uncounted
	}
	_, err := s.w.ExecContext(ctx, pgRecordSQL, runs, residents, states, reasons, ats, retries, broadcast.ReasonCancelled, uncounted)
	return err
}

func (s *Broadcasts) sqliteRecord(ctx context.Context, outs []outcome) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, sqliteRecordSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		sending := map[int64]bool{} // run → still sending
		for _, o := range outs {
			if o.state == string(broadcast.Pending) {
				still, ok := sending[o.run]
				if !ok {
					err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM broadcast_runs WHERE id = $1 AND state = 'sending')`,
						o.run).Scan(&still)
					if err != nil {
						return err
					}
					sending[o.run] = still
				}
				if !still {
					o.state, o.reason = string(broadcast.Skipped), broadcast.ReasonCancelled
				}
			}
			if _, err := stmt.ExecContext(ctx, o.run, o.resident, o.state, o.reason, s.at(o.at), s.at(o.retry), o.uncounted); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rescue makes deliveries claimed before `before` and never recorded
// pending again (due when they were due), returning how many it changed.
// Those of a run cancelled meanwhile are skipped as cancelled instead, at
// `before`.
func (s *Broadcasts) Rescue(ctx context.Context, before time.Time) (int, error) {
	var total int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		total = 0
		res, err := tx.ExecContext(ctx, `UPDATE broadcast_deliveries SET state = 'skipped', reason = $2, settled_at = $1
WHERE state = 'sending' AND claimed_at < $1
  AND run_id IN (SELECT id FROM broadcast_runs WHERE state <> 'sending')`, s.at(before), broadcast.ReasonCancelled)
		if err != nil {
			return err
		}
		if total, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE broadcast_deliveries SET state = 'pending', claimed_at = NULL, claimed_by = ''
WHERE state = 'sending' AND claimed_at < $1`, s.at(before))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		total += n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: rescue deliveries: %w", err)
	}
	return int(total), nil
}

// Release makes every delivery claimed by owner and never recorded pending
// again (due when they were due), returning how many it changed: a
// restarted replica takes back what it held when it stopped. Those of a run
// cancelled meanwhile are skipped as cancelled instead (settled when they
// were claimed). An empty owner is refused: it would take back the claims
// of every replica that has none.
func (s *Broadcasts) Release(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, errors.New("store: release deliveries: empty owner")
	}
	var total int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		total = 0
		res, err := tx.ExecContext(ctx, `UPDATE broadcast_deliveries SET state = 'skipped', reason = $2, settled_at = claimed_at
WHERE state = 'sending' AND claimed_by = $1
  AND run_id IN (SELECT id FROM broadcast_runs WHERE state <> 'sending')`, clean(owner), broadcast.ReasonCancelled)
		if err != nil {
			return err
		}
		if total, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE broadcast_deliveries SET state = 'pending', claimed_at = NULL, claimed_by = ''
WHERE state = 'sending' AND claimed_by = $1`, clean(owner))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		total += n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: release deliveries of %s: %w", owner, err)
	}
	return int(total), nil
}

// Recipient returns resident's consent and reachability as stored now. A
// resident no longer stored has consent unasked and is unreachable (as
// Claim reports them): nothing is sent to them.
func (s *Broadcasts) Recipient(ctx context.Context, resident int64) (bot.Consent, bool, error) {
	var consent string
	var reachable bool
	err := s.r.QueryRowContext(ctx, `SELECT consent, reachable FROM residents WHERE id = $1`, resident).Scan(&consent, &reachable)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return bot.ConsentUnasked, false, nil
	case err != nil:
		return "", false, fmt.Errorf("store: recipient %d: %w", resident, err)
	}
	return bot.Consent(consent), reachable, nil
}

// Expire skips, as expired, the pending deliveries of sending runs started
// at least their broadcast's Expires before now; returns how many.
func (s *Broadcasts) Expire(ctx context.Context, now time.Time) (int, error) {
	now = orNow(now)
	var total int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		total = 0
		type sending struct {
			id      int64
			started dbTime
			secs    int64
		}
		runs, err := scanAll(func(row rowScanner) (sending, error) {
			var r sending
			return r, row.Scan(&r.id, &r.started, &r.secs)
		})(tx.QueryContext(ctx, `SELECT u.id, u.started_at, b.expires_seconds FROM broadcast_runs u
JOIN broadcasts b ON b.id = u.broadcast_id
WHERE u.state = 'sending' AND b.expires_seconds > 0`))
		if err != nil {
			return err
		}
		for _, r := range runs {
			if r.started.t.Add(time.Duration(r.secs) * time.Second).After(now) {
				continue
			}
			id := r.id
			res, err := tx.ExecContext(ctx, skipPendingSQL, id, broadcast.ReasonExpired, s.at(now))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: expire deliveries: %w", err)
	}
	return int(total), nil
}

// FinishRuns marks finished the sending runs with nothing pending or
// claimed, and their one-off broadcasts Done (when still active or
// paused); returns those runs. Each run is returned by one call only.
func (s *Broadcasts) FinishRuns(ctx context.Context, now time.Time) ([]broadcast.Run, error) {
	now = orNow(now)
	var out []broadcast.Run
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanAll(scanRun)(tx.QueryContext(ctx, `UPDATE broadcast_runs SET state = 'finished', finished_at = $1
WHERE state = 'sending'
  AND NOT EXISTS (SELECT 1 FROM broadcast_deliveries d WHERE d.run_id = broadcast_runs.id AND d.state = 'pending')
  AND NOT EXISTS (SELECT 1 FROM broadcast_deliveries d WHERE d.run_id = broadcast_runs.id AND d.state = 'sending')
RETURNING `+runCols, s.at(now)))
		if err != nil {
			return err
		}
		sortRuns(out)
		done := map[int64]bool{}
		for _, r := range out {
			if done[r.Broadcast] {
				continue
			}
			done[r.Broadcast] = true
			if _, err := tx.ExecContext(ctx, `UPDATE broadcasts SET state = 'done', updated_at = $2
WHERE id = $1 AND cron = '' AND state IN ('active', 'paused')`, r.Broadcast, s.at(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: finish runs: %w", err)
	}
	return out, nil
}

func sortRuns(rs []broadcast.Run) {
	slices.SortFunc(rs, func(a, b broadcast.Run) int { return cmp.Compare(a.ID, b.ID) })
}

// Report counts a run's deliveries by outcome (broadcast.ErrNotFound for an
// unknown run).
func (s *Broadcasts) Report(ctx context.Context, id int64) (broadcast.Report, error) {
	rep, err := s.report(ctx, id)
	if err != nil {
		return broadcast.Report{}, fmt.Errorf("store: report of run %d: %w", id, err)
	}
	return rep, nil
}

func (s *Broadcasts) report(ctx context.Context, id int64) (broadcast.Report, error) {
	rep := broadcast.Report{Skipped: map[string]int{}}
	var err error
	if rep.Run, err = scanRun(s.r.QueryRowContext(ctx, `SELECT `+runCols+` FROM broadcast_runs WHERE id = $1`, id)); err != nil {
		return rep, bcNotFound(err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT state, reason, count(*), count(tapped_at) FROM broadcast_deliveries
WHERE run_id = $1 GROUP BY state, reason`, id)
	if err != nil {
		return rep, err
	}
	defer rows.Close()
	for rows.Next() {
		var state, reason string
		var n, tapped int
		if err := rows.Scan(&state, &reason, &n, &tapped); err != nil {
			return rep, err
		}
		rep.Tapped += tapped
		switch broadcast.DeliveryState(state) {
		case broadcast.Pending, broadcast.Sending:
			rep.Pending += n
		case broadcast.Delivered:
			rep.Delivered += n
		case broadcast.Blocked:
			rep.Blocked += n
		case broadcast.Failed:
			rep.Failed += n
		case broadcast.Skipped:
			rep.Skipped[reason] += n
		}
	}
	return rep, rows.Err()
}

// Tapped records the first tap of recipient key on one of run's buttons;
// unknown runs and recipients, and later taps, change nothing.
func (s *Broadcasts) Tapped(ctx context.Context, run int64, key bot.ConvKey, at time.Time) error {
	ch, ext := string(key.Channel), clean(key.ChatID)
	_, err := s.w.ExecContext(ctx, `UPDATE broadcast_deliveries SET tapped_at = $4
WHERE run_id = $1 AND channel = $2 AND external_id = $3 AND tapped_at IS NULL
  AND resident_id IN (SELECT id FROM residents WHERE channel = $2 AND external_id = $3)`,
		run, ch, ext, s.at(orNow(at)))
	if err != nil {
		return fmt.Errorf("store: tap on run %d by %s: %w", run, key, err)
	}
	return nil
}
