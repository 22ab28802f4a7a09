package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/gocua/gocua/bot"
)

// defaultMaxConns is the pool size used when the URL has no pool_max_conns.
const defaultMaxConns = 16

// recordAttempts bounds Record's retries after losing a race for the
// resident's single waiting ticket.
const recordAttempts = 3

// Postgres keeps durable records: residents, tickets and their transcripts,
// flow events. It implements bot.Records. It is safe for concurrent use.
type Postgres struct {
	pool  *pgxpool.Pool
	db    *sql.DB // the pool through database/sql, for the Desk's shared SQL
	log   *slog.Logger
	group *groupCommit
}

var _ bot.Records = (*Postgres)(nil)

// OpenPostgres opens a connection pool to url and checks the server answers.
// Without pool_max_conns in url the pool holds at most 16 connections.
func OpenPostgres(ctx context.Context, url string, log *slog.Logger) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	// pgx gives every connection a description cache of 512 entries, made
	// up front, which only default_query_exec_mode=cache_describe reads (the
	// default mode caches prepared statements in a cache of its own).
	if cfg.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeCacheDescribe && !strings.Contains(url, "description_cache_capacity") {
		cfg.ConnConfig.DescriptionCacheCapacity = 0
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open database: %w", err)
	}
	p := &Postgres{pool: pool, db: stdlib.OpenDBFromPool(pool), log: log}
	if err := p.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	p.group = newGroupCommit(p)
	return p, nil
}

// Ping checks that PostgreSQL answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: database ping: %w", err)
	}
	return nil
}

// Close writes the records queued for a group commit, then closes the
// pool, waiting for acquired connections to be released.
func (p *Postgres) Close() {
	p.group.close()
	_ = p.db.Close()
	p.pool.Close()
}

// Desk returns the volunteers and tickets kept in this database.
func (p *Postgres) Desk() *Desk { return &Desk{r: p.db, w: p.db, forUpdate: " FOR UPDATE"} }

// Migrate applies the embedded migrations that are not applied yet. It holds
// a PostgreSQL session advisory lock meanwhile, so replicas starting together
// wait for each other and each migration runs once.
func (p *Postgres) Migrate(ctx context.Context) error {
	// Retry the lock every second for up to ten minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(p.pool)
	defer db.Close()
	return migrateUp(ctx, goose.DialectPostgres, db, "migrations/postgres", p.log, goose.WithSessionLocker(locker))
}

// handoffSQL finds or creates the ticket for one handoff and appends the
// transcript lines to it, in one statement:
//   - mine: the ticket this update already opened or joined (a replay);
//   - waiting: else the resident's waiting ticket, which this update joins;
//   - created: else a new waiting ticket.
//
// $1 channel, $2 external id, $3 update id, $4 at, $5 flow, $6 step,
// $7 reason, $8 summary, $9 vars, $10 senders, $11 bodies, $12 times,
// $13 topic, $14 area, $15 lang.
const handoffSQL = `
WITH mine AS (
    SELECT id FROM tickets
    WHERE channel = $1 AND external_id = $2
      AND (source_update = $3::text OR $3::text = ANY (handoff_updates))
    ORDER BY id LIMIT 1
), waiting AS (
    SELECT id FROM tickets
    WHERE channel = $1 AND external_id = $2 AND status = 'waiting'
      AND NOT EXISTS (SELECT 1 FROM mine)
    ORDER BY id LIMIT 1
), joined AS (
    UPDATE tickets
    SET handoff_updates = array_append(handoff_updates, $3::text),
        updated_at = greatest(updated_at, $4)
    WHERE id IN (SELECT id FROM waiting) AND status = 'waiting'
    RETURNING id
), created AS (
    INSERT INTO tickets (resident_id, channel, external_id, flow, step, reason, summary, vars,
                         source_update, created_at, updated_at, topic, area, lang)
    SELECT r.id, $1, $2, $5, $6, $7, $8, $9, $3, $4, $4, $13, $14, $15
    FROM residents r
    WHERE r.channel = $1 AND r.external_id = $2
      AND NOT EXISTS (SELECT 1 FROM mine) AND NOT EXISTS (SELECT 1 FROM waiting)
    ON CONFLICT (channel, external_id, source_update) DO UPDATE SET updated_at = tickets.updated_at
    RETURNING id
), ticket AS (
    SELECT id FROM mine UNION ALL SELECT id FROM joined UNION ALL SELECT id FROM created
), lines AS (` + insertMessageInto + `
    SELECT t.id, l.sender, l.body, l.at, $3, l.seq::int
    FROM ticket t,
         unnest($10::text[], $11::text[], $12::timestamptz[]) WITH ORDINALITY AS l(sender, body, at, seq)` +
	onMessageConflict + `
)
SELECT id FROM ticket`

// appendTranscriptSQL appends lines to an existing ticket from parallel arrays.
const appendTranscriptSQL = insertMessageInto + `
SELECT $1, l.sender, l.body, l.at, $2, l.seq::int
FROM unnest($3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS l(sender, body, at, seq)` +
	onMessageConflict

// pgUndoTicketSQL and pgUndoJoinSQL finish undoing an earlier attempt of an
// update (see undoEventsSQL): the waiting ticket it opened, unless another
// update joined it, and its membership of a ticket it joined.
const (
	pgUndoTicketSQL = `DELETE FROM tickets` + undoTicketWhere + `
  AND cardinality(handoff_updates) = 0`
	pgUndoJoinSQL = `
UPDATE tickets SET handoff_updates = array_remove(handoff_updates, $3::text)
WHERE channel = $1 AND external_id = $2 AND $3::text = ANY (handoff_updates)`
)

// errTicketRace: the waiting ticket this update meant to join changed
// status concurrently; Record retries.
var errTicketRace = errors.New("store: waiting ticket changed concurrently")

// Record writes what one update did, idempotently, in one transaction sent
// as a single batch. See bot.Records.
func (p *Postgres) Record(ctx context.Context, r bot.UpdateRecord) (bot.RecordResult, error) {
	if r.UpdateID == "" {
		return bot.RecordResult{}, fmt.Errorf("store: record %s: empty update id", r.Key)
	}
	if groupable(r) {
		if err := p.group.record(ctx, r); err != nil {
			return bot.RecordResult{}, err
		}
		return bot.RecordResult{}, nil
	}
	return p.recordAlone(ctx, r)
}

// recordAlone is Record in a round trip of its own, retried after a lost
// race.
func (p *Postgres) recordAlone(ctx context.Context, r bot.UpdateRecord) (bot.RecordResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := p.record(ctx, r)
		if err == nil {
			return res, nil
		}
		if attempt == recordAttempts || !retryableRecord(err) || ctx.Err() != nil {
			return bot.RecordResult{}, fmt.Errorf("store: record %s update %s: %w", r.Key, r.UpdateID, err)
		}
		p.log.DebugContext(ctx, "record retried", "conv", r.Key.String(), "attempt", attempt, "err", err)
	}
}

// retryableRecord reports whether a failed Record lost a race worth retrying.
func retryableRecord(err error) bool {
	if errors.Is(err, errTicketRace) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation: another update opened the waiting ticket first
			return pe.ConstraintName == "tickets_one_waiting"
		case "40001", "40P01": // serialization failure, deadlock
			return true
		}
	}
	return false
}

// record sends one attempt of Record.
func (p *Postgres) record(ctx context.Context, r bot.UpdateRecord) (bot.RecordResult, error) {
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	ch, ext := string(r.Key.Channel), clean(r.Key.ChatID)
	upd := clean(r.UpdateID)

	b := &pgx.Batch{}
	undo := 0
	if r.Rerun {
		for _, q := range []string{undoEventsSQL, undoMessagesSQL, pgUndoTicketSQL, pgUndoJoinSQL} {
			b.Queue(q, ch, ext, upd)
			undo++
		}
	}
	touch := !r.SkipResident || r.Handoff != nil
	if touch {
		b.Queue(upsertResidentSQL, ch, ext, clean(r.Name), clean(r.Lang), at)
	}
	if len(r.Events) > 0 {
		var ev eventColumns
		ev.add(r, at)
		ev.queue(b)
	}
	senders, bodies, times := transcriptArrays(r.Transcript, at)
	switch {
	case r.Handoff != nil:
		vars, err := varsJSON(r.Handoff.Vars)
		if err != nil {
			return bot.RecordResult{}, err
		}
		h := r.Handoff
		b.Queue(handoffSQL, ch, ext, upd, at, clean(h.Flow), clean(h.Step), clean(h.Reason),
			clean(h.Summary), vars, senders, bodies, times, clean(h.Topic), clean(h.Area), clean(r.Lang))
	case r.Ticket != 0 && len(r.Transcript) > 0:
		b.Queue(appendTranscriptSQL, r.Ticket, upd, senders, bodies, times)
	}

	br := p.pool.SendBatch(ctx, b)
	var res bot.RecordResult
	err := func() error {
		for range undo {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("undo earlier attempt: %w", err)
			}
		}
		if touch {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("upsert resident: %w", err)
			}
		}
		if len(r.Events) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}
		switch {
		case r.Handoff != nil:
			err := br.QueryRow().Scan(&res.TicketID)
			if errors.Is(err, pgx.ErrNoRows) {
				return errTicketRace
			}
			if err != nil {
				return fmt.Errorf("ticket: %w", err)
			}
		case r.Ticket != 0 && len(r.Transcript) > 0:
			if _, err := br.Exec(); err != nil {
				if isForeignKeyViolation(err) {
					return fmt.Errorf("transcript: ticket %d: %w", r.Ticket, ErrNotFound)
				}
				return fmt.Errorf("transcript: %w", err)
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return bot.RecordResult{}, err
	}
	return res, nil
}

// transcriptArrays turns lines into the parallel arrays the SQL unnests.
// Lines without a time get at.
func transcriptArrays(lines []bot.TranscriptLine, at time.Time) (senders, bodies []string, times []time.Time) {
	senders = make([]string, len(lines))
	bodies = make([]string, len(lines))
	times = make([]time.Time, len(lines))
	for i, l := range lines {
		senders[i], bodies[i], times[i] = clean(l.From), clean(l.Text), l.At
		if l.At.IsZero() {
			times[i] = at
		}
	}
	return senders, bodies, times
}

// SetReachable records that a resident blocked (false) or unblocked (true)
// the bot at at. An older change than the one stored is ignored; an unknown
// resident is created.
func (p *Postgres) SetReachable(ctx context.Context, key bot.ConvKey, reachable bool, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	_, err := p.pool.Exec(ctx, setReachableSQL,
		string(key.Channel), clean(key.ChatID), at, reachable)
	if err != nil {
		return fmt.Errorf("store: set reachable %s: %w", key, err)
	}
	return nil
}

// cancelWithExistsSQL cancels ticket $1 at $2 and reports whether the ticket
// exists, in one round trip.
const cancelWithExistsSQL = `
WITH cancelled AS (` + cancelTicketSQL + `
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM cancelled) OR EXISTS (SELECT 1 FROM tickets WHERE id = $1)`

// CancelTicket marks a waiting or open ticket cancelled. Cancelling a ticket
// that is already cancelled or closed does nothing; an unknown id returns
// ErrNotFound.
func (p *Postgres) CancelTicket(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	var exists bool
	err := p.pool.QueryRow(ctx, cancelWithExistsSQL,
		id, at).Scan(&exists)
	if err != nil {
		return fmt.Errorf("store: cancel ticket %d: %w", id, err)
	}
	if !exists {
		return fmt.Errorf("store: cancel ticket %d: %w", id, ErrNotFound)
	}
	return nil
}

// Resident returns the resident with this channel identity.
func (p *Postgres) Resident(ctx context.Context, key bot.ConvKey) (Resident, error) {
	var r Resident
	var ch string
	var changed *time.Time
	err := p.pool.QueryRow(ctx, selectResidentSQL,
		string(key.Channel), clean(key.ChatID)).Scan(
		&r.ID, &ch, &r.Key.ChatID, &r.Name, &r.Lang, &r.FirstSeen, &r.LastSeen, &r.Reachable,
		&changed, &r.Consent, &r.Area)
	if err != nil {
		return Resident{}, fmt.Errorf("store: resident %s: %w", key, notFound(err))
	}
	r.Key.Channel = bot.Channel(ch)
	if changed != nil {
		r.ReachableChangedAt = *changed
	}
	return r, nil
}

// Ticket returns the ticket with this id.
func (p *Postgres) Ticket(ctx context.Context, id int64) (Ticket, error) {
	var t Ticket
	var ch string
	err := p.pool.QueryRow(ctx, selectTicketSQL, id).Scan(
		&t.ID, &t.ResidentID, &ch, &t.Key.ChatID, &t.Status, &t.Flow, &t.Step, &t.Reason,
		&t.Summary, &t.Vars, &t.SourceUpdate, &t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return Ticket{}, fmt.Errorf("store: ticket %d: %w", id, notFound(err))
	}
	t.Key.Channel = bot.Channel(ch)
	return t, nil
}

// TicketMessages returns a ticket's transcript in the order it was stored.
// An unknown ticket has no messages.
func (p *Postgres) TicketMessages(ctx context.Context, id int64) ([]TicketMessage, error) {
	rows, err := p.pool.Query(ctx, selectTicketMessagesSQL, id)
	if err != nil {
		return nil, fmt.Errorf("store: ticket %d messages: %w", id, err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TicketMessage, error) {
		var m TicketMessage
		err := row.Scan(&m.ID, &m.TicketID, &m.From, &m.Text, &m.At, &m.SourceUpdate, &m.Seq)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: ticket %d messages: %w", id, err)
	}
	return msgs, nil
}

// CountEvents returns how many flow events of this kind were recorded for
// flow (any flow when flow is empty).
func (p *Postgres) CountEvents(ctx context.Context, kind, flow string) (int64, error) {
	var n int64
	err := p.pool.QueryRow(ctx, countEventsSQL,
		kind, flow).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count events %s/%s: %w", kind, flow, err)
	}
	return n, nil
}

// notFound maps pgx.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
