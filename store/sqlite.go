package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver

	"github.com/gocua/gocua/bot"
)

// sqliteUndoTicketSQL and sqliteUndoJoinSQL finish undoing an earlier
// attempt of an update (see undoEventsSQL): the waiting ticket it opened,
// unless another update joined it, and its membership of a ticket it joined.
const (
	sqliteUndoTicketSQL = `DELETE FROM tickets` + undoTicketWhere + `
  AND NOT EXISTS (SELECT 1 FROM ticket_handoffs h WHERE h.ticket_id = tickets.id)`
	sqliteUndoJoinSQL = `
DELETE FROM ticket_handoffs WHERE update_id = $3
  AND ticket_id IN (SELECT id FROM tickets WHERE channel = $1 AND external_id = $2)`
)

// SQLite tuning.
const (
	// sqliteBusyTimeout is how long a statement waits for a lock held by
	// another process (e.g. `gocua chat` on the same data directory) before
	// failing with SQLITE_BUSY. Within one process writes never wait: they
	// share one connection.
	sqliteBusyTimeout = 10 * time.Second
	// sqliteReaders bounds the read-only connections.
	sqliteReaders = 4
	// sqliteTimeLayout is how times are stored: UTC, microseconds, fixed
	// width, so text order is time order (and PostgreSQL's precision).
	sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"
)

// SQLite keeps the same durable records as [Postgres] in an embedded SQLite
// database file (pure Go, no cgo), for running gocua without a database
// server. It implements bot.Records with the same guarantees. It is safe for
// concurrent use.
//
// All writes go through a single connection, so concurrent Records
// serialize in the process and never fail with SQLITE_BUSY; reads use a small
// pool of read-only connections that, in WAL mode, never block the writer.
type SQLite struct {
	w    *sql.DB // the one writer connection
	r    *sql.DB // read-only connections
	path string
	log  *slog.Logger
}

var (
	_ bot.Records     = (*SQLite)(nil)
	_ bot.Preferences = (*SQLite)(nil)
)

// OpenSQLite opens (creating it and its parent directory if needed) the
// SQLite database file at path and checks it answers. The file is created
// readable by its owner only. Connections use WAL mode, synchronous=NORMAL
// (a committed record survives a crash of the process), foreign keys and a
// busy timeout. Call Migrate before use.
func OpenSQLite(ctx context.Context, path string, log *slog.Logger) (*SQLite, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("store: sqlite path %q: must be a file name without '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: sqlite dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: sqlite file: %w", err)
	}

	busy := fmt.Sprint(sqliteBusyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", path+"?_busy_timeout="+busy+
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first: it switches the file to WAL mode, which
	// the readers rely on.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: sqlite ping: %w", err)
	}
	r, err := sql.Open("sqlite", path+"?_busy_timeout="+busy+"&_foreign_keys=1&_query_only=1")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	r.SetMaxOpenConns(sqliteReaders)
	r.SetMaxIdleConns(sqliteReaders)
	s := &SQLite{w: w, r: r, path: path, log: log}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Desk returns the volunteers and tickets kept in this database.
func (s *SQLite) Desk() *Desk { return &Desk{r: s.r, w: s.w, sqlite: true} }

// Path returns the database file's path.
func (s *SQLite) Path() string { return s.path }

// Ping checks that the database file can be read and written.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite ping: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite ping: %w", err)
	}
	return nil
}

// Close closes the connections, waiting for running queries; the last one
// to close checkpoints the write-ahead log into the database file.
func (s *SQLite) Close() {
	if err := s.r.Close(); err != nil {
		s.log.Error("sqlite close readers", "err", err)
	}
	if err := s.w.Close(); err != nil {
		s.log.Error("sqlite close writer", "err", err)
	}
}

// Migrate applies the embedded SQLite migrations that are not applied yet.
// They run on the writer connection, so they serialize with this process's
// writes; a second process migrating the same file at the same moment is
// not guarded against (the embedded store serves one gocua process).
func (s *SQLite) Migrate(ctx context.Context) error {
	return migrateUp(ctx, goose.DialectSQLite3, s.w, "migrations/sqlite", s.log)
}

// SQLite's side of Record. A transaction on the single writer connection
// takes the place of PostgreSQL's single statement: mine, then waiting, then
// a new ticket, exactly like handoffSQL's CTEs.
const (
	sqliteUpsertResidentSQL = upsertResidentSQL + `
RETURNING id`

	sqliteInsertEventSQL = insertEventInto + `
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)` + onEventConflict

	sqliteInsertMessageSQL = insertMessageInto + `
VALUES ($1, $2, $3, $4, $5, $6)` + onMessageConflict

	// $1 channel, $2 external id, $3 update id.
	sqliteMineTicketSQL = `
SELECT id FROM tickets
WHERE channel = $1 AND external_id = $2
  AND (source_update = $3 OR id IN (SELECT ticket_id FROM ticket_handoffs WHERE update_id = $3))
ORDER BY id LIMIT 1`

	// $1 channel, $2 external id.
	sqliteWaitingTicketSQL = `
SELECT id FROM tickets
WHERE channel = $1 AND external_id = $2 AND status = 'waiting'
ORDER BY id LIMIT 1`

	// $1 ticket, $2 update id, $3 at.
	sqliteJoinTicketSQL = `
INSERT INTO ticket_handoffs (ticket_id, update_id) VALUES ($1, $2)
ON CONFLICT (ticket_id, update_id) DO NOTHING`
	sqliteTouchTicketSQL = `
UPDATE tickets SET updated_at = CASE WHEN $2 > updated_at THEN $2 ELSE updated_at END
WHERE id = $1`

	// $1 resident id, $2 channel, $3 external id, $4 flow, $5 step,
	// $6 reason, $7 summary, $8 vars, $9 update id, $10 at, $11 topic,
	// $12 area, $13 lang.
	sqliteCreateTicketSQL = `
INSERT INTO tickets (resident_id, channel, external_id, flow, step, reason, summary, vars,
                     source_update, created_at, updated_at, topic, area, lang)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13)
RETURNING id`
)

// Record writes what one update did, idempotently, in one transaction. See
// bot.Records and [Postgres.Record]: the guarantees are the same.
func (s *SQLite) Record(ctx context.Context, r bot.UpdateRecord) (bot.RecordResult, error) {
	if r.UpdateID == "" {
		return bot.RecordResult{}, fmt.Errorf("store: record %s: empty update id", r.Key)
	}
	var res bot.RecordResult
	err := s.write(ctx, func(tx *sql.Tx) (err error) {
		res, err = s.record(ctx, tx, r)
		return err
	})
	if err != nil {
		return bot.RecordResult{}, fmt.Errorf("store: record %s update %s: %w", r.Key, r.UpdateID, err)
	}
	return res, nil
}

// record runs Record's statements in tx.
func (s *SQLite) record(ctx context.Context, tx *sql.Tx, r bot.UpdateRecord) (bot.RecordResult, error) {
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	ch, ext := string(r.Key.Channel), clean(r.Key.ChatID)
	upd := clean(r.UpdateID)
	appendTo := r.Ticket
	if r.Handoff != nil || len(r.Transcript) == 0 {
		appendTo = 0
	}

	if r.Rerun {
		for _, q := range []string{undoEventsSQL, undoMessagesSQL, sqliteUndoTicketSQL, sqliteUndoJoinSQL} {
			if _, err := tx.ExecContext(ctx, q, ch, ext, upd); err != nil {
				return bot.RecordResult{}, fmt.Errorf("undo earlier attempt: %w", err)
			}
		}
	}
	if appendTo != 0 {
		var exists bool
		if err := tx.QueryRowContext(ctx, ticketExistsSQL, appendTo).Scan(&exists); err != nil {
			return bot.RecordResult{}, fmt.Errorf("transcript: %w", err)
		}
		if !exists {
			return bot.RecordResult{}, fmt.Errorf("transcript: ticket %d: %w", appendTo, ErrNotFound)
		}
	}

	var residentID int64
	err := tx.QueryRowContext(ctx, sqliteUpsertResidentSQL,
		ch, ext, clean(r.Name), clean(r.Lang), sqliteTime(at)).Scan(&residentID)
	if err != nil {
		return bot.RecordResult{}, fmt.Errorf("upsert resident: %w", err)
	}
	for i, e := range r.Events {
		eat := e.At
		if eat.IsZero() {
			eat = at
		}
		_, err := tx.ExecContext(ctx, sqliteInsertEventSQL, ch, ext, upd, i+1,
			clean(string(e.Kind)), clean(e.Flow), clean(e.Step), sqliteTime(eat), clean(r.Lang), clean(r.Area), clean(e.Version))
		if err != nil {
			return bot.RecordResult{}, fmt.Errorf("insert events: %w", err)
		}
	}

	var res bot.RecordResult
	if r.Handoff != nil {
		id, err := s.handoff(ctx, tx, residentID, ch, ext, upd, at, r.Lang, r.Handoff)
		if err != nil {
			return bot.RecordResult{}, fmt.Errorf("ticket: %w", err)
		}
		res.TicketID, appendTo = id, id
	}
	if appendTo == 0 {
		return res, nil
	}
	for i, l := range r.Transcript {
		lat := l.At
		if lat.IsZero() {
			lat = at
		}
		_, err := tx.ExecContext(ctx, sqliteInsertMessageSQL,
			appendTo, clean(l.From), clean(l.Text), sqliteTime(lat), upd, i+1)
		if err != nil {
			return bot.RecordResult{}, fmt.Errorf("transcript: %w", err)
		}
	}
	return res, nil
}

// handoff returns the ticket this update opened or joined before (a
// replay), else joins the resident's waiting ticket, else opens one.
func (s *SQLite) handoff(ctx context.Context, tx *sql.Tx, residentID int64, ch, ext, upd string,
	at time.Time, lang string, h *bot.TicketRequest) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, sqliteMineTicketSQL, ch, ext, upd).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	err = tx.QueryRowContext(ctx, sqliteWaitingTicketSQL, ch, ext).Scan(&id)
	switch {
	case err == nil:
		if _, err := tx.ExecContext(ctx, sqliteJoinTicketSQL, id, upd); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, sqliteTouchTicketSQL, id, sqliteTime(at)); err != nil {
			return 0, err
		}
		return id, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	vars, err := varsJSON(h.Vars)
	if err != nil {
		return 0, err
	}
	err = tx.QueryRowContext(ctx, sqliteCreateTicketSQL, residentID, ch, ext,
		clean(h.Flow), clean(h.Step), clean(h.Reason), clean(h.Summary), string(vars),
		upd, sqliteTime(at), clean(h.Topic), clean(h.Area), clean(lang)).Scan(&id)
	return id, err
}

// write runs fn in a transaction on the writer connection.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.w, fn)
}

// inTx runs fn in a transaction of db, committing when it returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// SetReachable records that a resident blocked (false) or unblocked (true)
// the bot at at. An older change than the one stored is ignored; an unknown
// resident is created.
func (s *SQLite) SetReachable(ctx context.Context, key bot.ConvKey, reachable bool, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	_, err := s.w.ExecContext(ctx, setReachableSQL,
		string(key.Channel), clean(key.ChatID), sqliteTime(at), reachable)
	if err != nil {
		return fmt.Errorf("store: set reachable %s: %w", key, err)
	}
	return nil
}

// CancelTicket marks a waiting or open ticket cancelled. Cancelling a ticket
// that is already cancelled or closed does nothing; an unknown id returns
// ErrNotFound.
func (s *SQLite) CancelTicket(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, cancelTicketSQL, id, sqliteTime(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, ticketExistsSQL, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: cancel ticket %d: %w", id, err)
	}
	return nil
}

// Resident returns the resident with this channel identity.
func (s *SQLite) Resident(ctx context.Context, key bot.ConvKey) (Resident, error) {
	var r Resident
	var ch, first, last string
	var changed sql.NullString
	err := s.r.QueryRowContext(ctx, selectResidentSQL, string(key.Channel), clean(key.ChatID)).Scan(
		&r.ID, &ch, &r.Key.ChatID, &r.Name, &r.Lang, &first, &last, &r.Reachable,
		&changed, &r.Consent, &r.Area)
	if err == nil {
		var ts storedTimes
		r.Key.Channel = bot.Channel(ch)
		r.FirstSeen, r.LastSeen = ts.parse(first), ts.parse(last)
		if changed.Valid {
			r.ReachableChangedAt = ts.parse(changed.String)
		}
		err = ts.err
	}
	if err != nil {
		return Resident{}, fmt.Errorf("store: resident %s: %w", key, sqlNotFound(err))
	}
	return r, nil
}

// Ticket returns the ticket with this id.
func (s *SQLite) Ticket(ctx context.Context, id int64) (Ticket, error) {
	var t Ticket
	var ch, vars, created, updated string
	err := s.r.QueryRowContext(ctx, selectTicketSQL, id).Scan(
		&t.ID, &t.ResidentID, &ch, &t.Key.ChatID, &t.Status, &t.Flow, &t.Step, &t.Reason,
		&t.Summary, &vars, &t.SourceUpdate, &created, &updated)
	if err == nil {
		var ts storedTimes
		t.Key.Channel = bot.Channel(ch)
		t.CreatedAt, t.UpdatedAt = ts.parse(created), ts.parse(updated)
		err = ts.err
	}
	if err == nil {
		if err = json.Unmarshal([]byte(vars), &t.Vars); err != nil {
			err = fmt.Errorf("decode vars: %w", err)
		}
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("store: ticket %d: %w", id, sqlNotFound(err))
	}
	return t, nil
}

// TicketMessages returns a ticket's transcript in the order it was stored.
// An unknown ticket has no messages.
func (s *SQLite) TicketMessages(ctx context.Context, id int64) ([]TicketMessage, error) {
	rows, err := s.r.QueryContext(ctx, selectTicketMessagesSQL, id)
	if err != nil {
		return nil, fmt.Errorf("store: ticket %d messages: %w", id, err)
	}
	defer rows.Close()
	var msgs []TicketMessage
	for rows.Next() {
		var m TicketMessage
		var at string
		if err := rows.Scan(&m.ID, &m.TicketID, &m.From, &m.Text, &at, &m.SourceUpdate, &m.Seq); err != nil {
			return nil, fmt.Errorf("store: ticket %d messages: %w", id, err)
		}
		var ts storedTimes
		if m.At = ts.parse(at); ts.err != nil {
			return nil, fmt.Errorf("store: ticket %d messages: %w", id, ts.err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: ticket %d messages: %w", id, err)
	}
	return msgs, nil
}

// CountEvents returns how many flow events of this kind were recorded for
// flow (any flow when flow is empty).
func (s *SQLite) CountEvents(ctx context.Context, kind, flow string) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, countEventsSQL, kind, flow).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events %s/%s: %w", kind, flow, err)
	}
	return n, nil
}

// sqliteTime formats t as stored in SQLite.
func sqliteTime(t time.Time) string { return t.UTC().Format(sqliteTimeLayout) }

// storedTimes parses stored times, keeping the first error.
type storedTimes struct{ err error }

func (p *storedTimes) parse(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("stored time %q: %w", s, err)
	}
	return t
}

// sqlNotFound maps sql.ErrNoRows to ErrNotFound.
func sqlNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
