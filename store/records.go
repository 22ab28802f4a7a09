package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pressly/goose/v3"

	"github.com/gocua/gocua/bot"
)

// This file holds what the two durable stores, [Postgres] and [SQLite], share:
// the record types the read helpers return, the text cleaning, and the SQL of
// every query on which the two dialects agree. Both drivers take $1-style
// placeholders, so one text serves both. What differs (PostgreSQL's arrays
// and data-modifying CTEs that make Record one round trip; SQLite's single
// writer and text timestamps) lives in postgres.go and sqlite.go.

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

// migrateUp applies the migrations under dir that db has not applied yet.
func migrateUp(ctx context.Context, dialect goose.Dialect, db *sql.DB, dir string, log *slog.Logger, opts ...goose.ProviderOption) error {
	fsys, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true), goose.WithSlog(log))
	prov, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	results, err := prov.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "migration applied",
			"version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// ErrNotFound is returned by the read helpers when no row matches, and by
// Record and CancelTicket when the ticket they name does not exist.
var ErrNotFound = errors.New("store: not found")

// Ticket statuses, as stored in tickets.status.
const (
	TicketWaiting   = "waiting"
	TicketAssigned  = "assigned"
	TicketResolved  = "resolved"
	TicketAbandoned = "abandoned"
	TicketCancelled = "cancelled"
)

// Resident is one channel identity of a resident.
type Resident struct {
	ID                 int64
	Key                bot.ConvKey
	Name               string
	Lang               string
	FirstSeen          time.Time
	LastSeen           time.Time
	Reachable          bool
	ReachableChangedAt time.Time   // zero if never changed
	Consent            bot.Consent // unasked, yes or no
	Area               string      // commune/ward code; "" when not known
}

// Ticket is a handoff request.
type Ticket struct {
	ID           int64
	ResidentID   int64
	Key          bot.ConvKey
	Status       string // TicketWaiting, TicketAssigned, TicketResolved, TicketCancelled or TicketAbandoned
	Flow         string
	Step         string
	Reason       string
	Summary      string
	Vars         map[string]string
	SourceUpdate string // the update that opened the ticket
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TicketMessage is one stored transcript line.
type TicketMessage struct {
	ID           int64
	TicketID     int64
	From         string // "resident", "bot" or "volunteer"
	Text         string
	At           time.Time
	SourceUpdate string
	Seq          int
}

// upsertResidentSQL creates or refreshes a resident from one update at $5.
// Fields only move forward in time: an update older than the stored
// last_seen (a late re-delivery) widens first_seen but changes nothing else,
// and a message newer than a block makes the resident reachable again.
// $1 channel, $2 external id, $3 name, $4 lang, $5 at.
const upsertResidentSQL = `
INSERT INTO residents (channel, external_id, name, lang, first_seen, last_seen)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (channel, external_id) DO UPDATE SET
    first_seen = CASE WHEN EXCLUDED.first_seen < residents.first_seen
                      THEN EXCLUDED.first_seen ELSE residents.first_seen END,
    last_seen  = CASE WHEN EXCLUDED.last_seen > residents.last_seen
                      THEN EXCLUDED.last_seen ELSE residents.last_seen END,
    name = CASE WHEN EXCLUDED.name <> '' AND EXCLUDED.last_seen >= residents.last_seen
                THEN EXCLUDED.name ELSE residents.name END,
    lang = CASE WHEN EXCLUDED.lang <> '' AND EXCLUDED.last_seen >= residents.last_seen
                THEN EXCLUDED.lang ELSE residents.lang END,
    reachable = CASE WHEN residents.reachable_changed_at IS NULL
                       OR EXCLUDED.last_seen >= residents.reachable_changed_at
                     THEN true ELSE residents.reachable END,
    reachable_changed_at = CASE WHEN NOT residents.reachable
                                 AND EXCLUDED.last_seen >= residents.reachable_changed_at
                                THEN EXCLUDED.last_seen ELSE residents.reachable_changed_at END`

// insertEventInto and onEventConflict frame the insert of flow events; each
// dialect supplies the rows between them. lang and area are the update's
// (bot.UpdateRecord), version the event's flow version (flows.Event).
const (
	insertEventInto = `
INSERT INTO flow_events (channel, external_id, update_id, seq, kind, flow, step, at, lang, area, version)`
	onEventConflict = `
ON CONFLICT (channel, external_id, update_id, seq) DO NOTHING`
)

// insertMessageInto and onMessageConflict frame the insert of transcript
// lines; each dialect supplies the rows between them.
const (
	insertMessageInto = `
INSERT INTO ticket_messages (ticket_id, sender, body, created_at, source_update, seq)`
	onMessageConflict = `
ON CONFLICT (ticket_id, source_update, seq) DO NOTHING`
)

// setReachableSQL records a block (false) or unblock (true) at $3, unless a
// newer change is stored; an unknown resident is created.
// $1 channel, $2 external id, $3 at, $4 reachable.
const setReachableSQL = `
INSERT INTO residents (channel, external_id, first_seen, last_seen, reachable, reachable_changed_at)
VALUES ($1, $2, $3, $3, $4, $3)
ON CONFLICT (channel, external_id) DO UPDATE SET
    reachable = EXCLUDED.reachable,
    reachable_changed_at = EXCLUDED.reachable_changed_at
WHERE residents.reachable_changed_at IS NULL
   OR residents.reachable_changed_at <= EXCLUDED.reachable_changed_at`

// Undoing an earlier attempt of an update (bot.UpdateRecord.Rerun): its flow
// events, its transcript lines, and a waiting ticket it opened that nothing
// else has touched since. $1 channel, $2 external id, $3 update id.
const (
	undoEventsSQL = `
DELETE FROM flow_events WHERE channel = $1 AND external_id = $2 AND update_id = $3`
	undoMessagesSQL = `
DELETE FROM ticket_messages WHERE source_update = $3
  AND ticket_id IN (SELECT id FROM tickets WHERE channel = $1 AND external_id = $2)`
	// undoTicketWhere selects the ticket to delete; each dialect adds its own
	// test that no other update joined it.
	undoTicketWhere = `
WHERE channel = $1 AND external_id = $2 AND source_update = $3 AND status = 'waiting'
  AND NOT EXISTS (SELECT 1 FROM ticket_messages m WHERE m.ticket_id = tickets.id AND m.source_update <> $3)`
)

// cancelTicketSQL cancels ticket $1 at $2 if it is still waiting or open.
const cancelTicketSQL = `
UPDATE tickets SET status = 'cancelled', updated_at = $2
WHERE id = $1 AND status IN ('waiting', 'assigned')`

// ticketExistsSQL reports whether ticket $1 exists.
const ticketExistsSQL = `SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)`

// Read helpers: $1 channel, $2 external id / $1 ticket id / $1 kind, $2 flow.
const (
	selectResidentSQL = `
SELECT id, channel, external_id, name, lang, first_seen, last_seen, reachable,
       reachable_changed_at, consent, area
FROM residents WHERE channel = $1 AND external_id = $2`

	selectTicketSQL = `
SELECT id, resident_id, channel, external_id, status, flow, step, reason, summary, vars,
       source_update, created_at, updated_at
FROM tickets WHERE id = $1`

	selectTicketMessagesSQL = `
SELECT id, ticket_id, sender, body, created_at, source_update, seq
FROM ticket_messages WHERE ticket_id = $1 ORDER BY id`

	countEventsSQL = `
SELECT count(*) FROM flow_events WHERE kind = $1 AND ($2 = '' OR flow = $2)`
)

// varsJSON encodes a ticket's variables as a JSON object.
func varsJSON(vars map[string]string) ([]byte, error) {
	m := make(map[string]string, len(vars))
	for k, v := range vars {
		m[clean(k)] = clean(v)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode ticket vars: %w", err)
	}
	return b, nil
}

// clean makes s storable in a PostgreSQL text column, and keeps SQLite's
// copy identical: NUL bytes are dropped and invalid UTF-8 is replaced with
// U+FFFD.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
