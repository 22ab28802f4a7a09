package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// Desk keeps volunteers and handoff tickets: it implements handoff.Store on
// either durable store. Both dialects share its SQL ($n placeholders,
// RETURNING); they differ in how times are stored (PostgreSQL timestamptz,
// SQLite fixed-width UTC text, both read back by dbTime) and in row locks
// (SQLite has one writer, so it needs none).
type Desk struct {
	r, w      *sql.DB // readers and the writer (one *sql.DB on PostgreSQL)
	sqlite    bool
	forUpdate string
}

var _ handoff.Store = (*Desk)(nil)

// at is how a time is passed to this dialect.
func (d *Desk) at(t time.Time) any { return dialectTime(d.sqlite, t) }

// dialectTime is how a time is passed to a statement shared by both
// dialects: SQLite's fixed-width text, PostgreSQL's timestamptz.
func dialectTime(sqlite bool, t time.Time) any {
	if sqlite {
		return sqliteTime(t)
	}
	return t.UTC()
}

// dbTime scans a stored time of either dialect; NULL is the zero time.
type dbTime struct{ t time.Time }

func (x *dbTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		x.t = time.Time{}
	case time.Time:
		x.t = v.UTC()
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("stored time %q: %w", v, err)
		}
		x.t = t
	case []byte:
		return x.Scan(string(v))
	default:
		return fmt.Errorf("stored time of type %T", v)
	}
	return nil
}

func (d *Desk) tx(ctx context.Context, fn func(tx *sql.Tx) error) error { return inTx(ctx, d.w, fn) }

const volunteerCols = `id, channel, external_id, chat_id, name, role, status, areas, skills, capacity, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanVolunteer(row rowScanner) (handoff.Volunteer, error) {
	var v handoff.Volunteer
	var ch, role, status, areas, skills string
	var created, updated dbTime
	if err := row.Scan(&v.ID, &ch, &v.User.ChatID, &v.Chat.ChatID, &v.Name, &role, &status, &areas, &skills,
		&v.Capacity, &created, &updated); err != nil {
		return v, err
	}
	v.User.Channel, v.Chat.Channel = bot.Channel(ch), bot.Channel(ch)
	v.Role, v.Status = handoff.Role(role), handoff.StaffStatus(status)
	v.Created, v.Updated = created.t, updated.t
	if err := json.Unmarshal([]byte(areas), &v.Areas); err != nil {
		return v, fmt.Errorf("decode areas: %w", err)
	}
	if err := json.Unmarshal([]byte(skills), &v.Skills); err != nil {
		return v, fmt.Errorf("decode skills: %w", err)
	}
	return v, nil
}

func deskNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return handoff.ErrNotFound
	}
	return err
}

func jsonList(xs []string) string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if x = clean(strings.TrimSpace(x)); x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	b, _ := json.Marshal(out) // strings always encode
	return string(b)
}

// Volunteer returns the staff member with this identity.
func (d *Desk) Volunteer(ctx context.Context, user bot.ConvKey) (handoff.Volunteer, error) {
	v, err := scanVolunteer(d.r.QueryRowContext(ctx, `SELECT `+volunteerCols+` FROM volunteers WHERE channel = $1 AND external_id = $2`,
		string(user.Channel), user.ChatID))
	if err != nil {
		return v, fmt.Errorf("store: volunteer %s: %w", user, deskNotFound(err))
	}
	return v, nil
}

// VolunteerByID returns the staff member with this id.
func (d *Desk) VolunteerByID(ctx context.Context, id int64) (handoff.Volunteer, error) {
	v, err := scanVolunteer(d.r.QueryRowContext(ctx, `SELECT `+volunteerCols+` FROM volunteers WHERE id = $1`, id))
	if err != nil {
		return v, fmt.Errorf("store: volunteer %d: %w", id, deskNotFound(err))
	}
	return v, nil
}

// Volunteers lists every staff member: applicants first, then by name.
func (d *Desk) Volunteers(ctx context.Context) ([]handoff.Volunteer, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+volunteerCols+` FROM volunteers
ORDER BY CASE status WHEN 'applied' THEN 0 WHEN 'approved' THEN 1 WHEN 'suspended' THEN 2 ELSE 3 END, name, id`)
	if err != nil {
		return nil, fmt.Errorf("store: volunteers: %w", err)
	}
	defer rows.Close()
	var out []handoff.Volunteer
	for rows.Next() {
		v, err := scanVolunteer(rows)
		if err != nil {
			return nil, fmt.Errorf("store: volunteers: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: volunteers: %w", err)
	}
	return out, nil
}

// Apply records an application; an existing identity keeps status and role.
func (d *Desk) Apply(ctx context.Context, v handoff.Volunteer, at time.Time) (handoff.Volunteer, error) {
	capacity := v.Capacity
	if capacity <= 0 {
		capacity = 3
	}
	out, err := scanVolunteer(d.w.QueryRowContext(ctx, `
INSERT INTO volunteers (channel, external_id, chat_id, name, areas, skills, capacity, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (channel, external_id) DO UPDATE SET
    chat_id = EXCLUDED.chat_id, name = EXCLUDED.name, areas = EXCLUDED.areas,
    skills = EXCLUDED.skills, updated_at = EXCLUDED.updated_at,
    status = CASE WHEN volunteers.status = 'rejected' THEN 'applied' ELSE volunteers.status END
RETURNING `+volunteerCols,
		string(v.User.Channel), v.User.ChatID, v.Chat.ChatID, clean(v.Name), jsonList(v.Areas), jsonList(v.Skills),
		capacity, d.at(at)))
	if err != nil {
		return out, fmt.Errorf("store: apply %s: %w", v.User, err)
	}
	return out, nil
}

// SetStaff changes a staff member's status and role.
func (d *Desk) SetStaff(ctx context.Context, id int64, status handoff.StaffStatus, role handoff.Role, at time.Time) (handoff.Volunteer, error) {
	v, err := scanVolunteer(d.w.QueryRowContext(ctx, `
UPDATE volunteers SET status = $2, role = $3, updated_at = $4 WHERE id = $1 RETURNING `+volunteerCols,
		id, string(status), string(role), d.at(at)))
	if err != nil {
		return v, fmt.Errorf("store: set staff %d: %w", id, deskNotFound(err))
	}
	return v, nil
}

// EnsureOrganizer makes user an approved organizer.
func (d *Desk) EnsureOrganizer(ctx context.Context, user, chat bot.ConvKey, name string, at time.Time) (handoff.Volunteer, error) {
	v, err := scanVolunteer(d.w.QueryRowContext(ctx, `
INSERT INTO volunteers (channel, external_id, chat_id, name, role, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, 'organizer', 'approved', $5, $5)
ON CONFLICT (channel, external_id) DO UPDATE SET
    role = 'organizer', status = 'approved', updated_at = EXCLUDED.updated_at,
    name = CASE WHEN volunteers.name = '' THEN EXCLUDED.name ELSE volunteers.name END
RETURNING `+volunteerCols,
		string(user.Channel), user.ChatID, chat.ChatID, clean(name), d.at(at)))
	if err != nil {
		return v, fmt.Errorf("store: organizer %s: %w", user, err)
	}
	return v, nil
}

const ticketCols = `id, channel, external_id, status, flow, step, reason, summary, vars, area, topic, lang,
coalesce(volunteer_id, 0), created_at, assigned_at, closed_at, volunteer_said_at, resident_said_at, reminded_at,
card_id, card_text, category, coalesce(rating, 0), callback_phone`

func scanTicket(row rowScanner) (handoff.Ticket, error) {
	var t handoff.Ticket
	var ch, status, vars string
	var created, assigned, closed, vsaid, rsaid, reminded dbTime
	if err := row.Scan(&t.ID, &ch, &t.Resident.ChatID, &status, &t.Flow, &t.Step, &t.Reason, &t.Summary, &vars,
		&t.Area, &t.Topic, &t.Lang, &t.Volunteer, &created, &assigned, &closed, &vsaid, &rsaid, &reminded,
		&t.CardID, &t.CardText, &t.Category, &t.Rating, &t.Callback); err != nil {
		return t, err
	}
	t.Resident.Channel, t.Status = bot.Channel(ch), handoff.Status(status)
	t.CreatedAt, t.AssignedAt, t.ClosedAt = created.t, assigned.t, closed.t
	t.VolunteerSaid, t.ResidentSaid, t.Reminded = vsaid.t, rsaid.t, reminded.t
	if err := json.Unmarshal([]byte(vars), &t.Vars); err != nil {
		return t, fmt.Errorf("decode vars: %w", err)
	}
	return t, nil
}

func scanTickets(rows *sql.Rows, err error) ([]handoff.Ticket, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []handoff.Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Ticket returns a ticket.
func (d *Desk) Ticket(ctx context.Context, id int64) (handoff.Ticket, error) {
	t, err := scanTicket(d.r.QueryRowContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE id = $1`, id))
	if err != nil {
		return t, fmt.Errorf("store: ticket %d: %w", id, deskNotFound(err))
	}
	return t, nil
}

// Waiting lists waiting tickets, oldest first.
func (d *Desk) Waiting(ctx context.Context, limit int) ([]handoff.Ticket, error) {
	ts, err := scanTickets(d.r.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets
WHERE status = 'waiting' ORDER BY created_at, id LIMIT $1`, limit))
	if err != nil {
		return nil, fmt.Errorf("store: waiting tickets: %w", err)
	}
	return ts, nil
}

// Position returns how many waiting tickets were opened before this one.
func (d *Desk) Position(ctx context.Context, id int64) (int, error) {
	var n int
	err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM tickets w, tickets t
WHERE t.id = $1 AND w.status = 'waiting' AND (w.created_at < t.created_at OR (w.created_at = t.created_at AND w.id < t.id))`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: ticket %d position: %w", id, err)
	}
	return n, nil
}

// Assigned lists a volunteer's assigned tickets, oldest assignment first.
func (d *Desk) Assigned(ctx context.Context, volunteer int64) ([]handoff.Ticket, error) {
	ts, err := scanTickets(d.r.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets
WHERE volunteer_id = $1 AND status = 'assigned' ORDER BY assigned_at, id`, volunteer))
	if err != nil {
		return nil, fmt.Errorf("store: tickets of volunteer %d: %w", volunteer, err)
	}
	return ts, nil
}

// RecentWaits returns the waits of the last n tickets assigned since since
// (the first assignment of each).
func (d *Desk) RecentWaits(ctx context.Context, since time.Time, n int) ([]time.Duration, error) {
	rows, err := d.r.QueryContext(ctx, `
SELECT t.created_at, min(a.at) FROM ticket_audit a JOIN tickets t ON t.id = a.ticket_id
WHERE a.to_status = 'assigned' AND a.at >= $1
GROUP BY t.id, t.created_at ORDER BY min(a.at) DESC LIMIT $2`, d.at(since), n)
	if err != nil {
		return nil, fmt.Errorf("store: recent waits: %w", err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var created, assigned dbTime
		if err := rows.Scan(&created, &assigned); err != nil {
			return nil, fmt.Errorf("store: recent waits: %w", err)
		}
		out = append(out, max(assigned.t.Sub(created.t), 0))
	}
	return out, rows.Err()
}

func (d *Desk) audit(ctx context.Context, tx *sql.Tx, id int64, from, to handoff.Status, actor, note string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ticket_audit (ticket_id, from_status, to_status, actor, note, at)
VALUES ($1, $2, $3, $4, $5, $6)`, id, string(from), string(to), clean(actor), clean(note), d.at(at))
	return err
}

// Claim assigns a waiting ticket to v.
func (d *Desk) Claim(ctx context.Context, id int64, v handoff.Volunteer, at time.Time) (handoff.Ticket, error) {
	var t handoff.Ticket
	err := d.tx(ctx, func(tx *sql.Tx) error {
		// the volunteer's row serializes their own claims (capacity)
		var capacity int
		if err := tx.QueryRowContext(ctx, `SELECT capacity FROM volunteers WHERE id = $1 AND status = 'approved'`+d.forUpdate,
			v.ID).Scan(&capacity); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("volunteer %d is not approved: %w", v.ID, handoff.ErrNotFound)
			}
			return err
		}
		var held int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tickets WHERE volunteer_id = $1 AND status = 'assigned'`,
			v.ID).Scan(&held); err != nil {
			return err
		}
		if held >= capacity {
			return handoff.ErrAtCapacity
		}
		var err error
		t, err = scanTicket(tx.QueryRowContext(ctx, `UPDATE tickets SET status = 'assigned', volunteer_id = $2,
    assigned_at = $3, volunteer_said_at = NULL, resident_said_at = NULL, updated_at = $3
WHERE id = $1 AND status = 'waiting' RETURNING `+ticketCols, id, v.ID, d.at(at)))
		if errors.Is(err, sql.ErrNoRows) {
			return handoff.ErrTaken
		}
		if err != nil {
			return err
		}
		return d.audit(ctx, tx, id, handoff.Waiting, handoff.Assigned, fmt.Sprintf("volunteer:%d", v.ID), "", at)
	})
	if err != nil {
		return handoff.Ticket{}, fmt.Errorf("store: claim ticket %d: %w", id, err)
	}
	return t, nil
}

// Move changes a ticket's status if it is in one of c.From.
func (d *Desk) Move(ctx context.Context, c handoff.Move) (handoff.Ticket, error) {
	if len(c.From) == 0 {
		return handoff.Ticket{}, fmt.Errorf("store: move ticket %d: no from status", c.Ticket)
	}
	var t handoff.Ticket
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var from string
		var vol int64
		err := tx.QueryRowContext(ctx, `SELECT status, coalesce(volunteer_id, 0) FROM tickets WHERE id = $1`+d.forUpdate,
			c.Ticket).Scan(&from, &vol)
		if errors.Is(err, sql.ErrNoRows) {
			return handoff.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !slices.Contains(c.From, handoff.Status(from)) || (c.Volunteer != 0 && vol != c.Volunteer) {
			return handoff.ErrStale
		}
		closing := !c.To.Open()
		t, err = scanTicket(tx.QueryRowContext(ctx, `UPDATE tickets SET status = $2, updated_at = $3,
    volunteer_id = CASE WHEN $2 = 'waiting' THEN NULL ELSE volunteer_id END,
    closed_at = CASE WHEN $4 THEN $3 ELSE closed_at END,
    category = CASE WHEN $5 <> '' THEN $5 ELSE category END
WHERE id = $1 RETURNING `+ticketCols, c.Ticket, string(c.To), d.at(c.At), closing, clean(c.Category)))
		if err != nil {
			return err
		}
		return d.audit(ctx, tx, c.Ticket, handoff.Status(from), c.To, c.Actor, c.Note, c.At)
	})
	if err != nil {
		return handoff.Ticket{}, fmt.Errorf("store: move ticket %d to %s: %w", c.Ticket, c.To, err)
	}
	return t, nil
}

// SetTopicArea records the problem and the resident's area.
func (d *Desk) SetTopicArea(ctx context.Context, id int64, topic, area string) error {
	return d.exec(ctx, "set topic of ticket", id, `UPDATE tickets SET topic = $2, area = $3 WHERE id = $1`,
		id, clean(topic), clean(area))
}

// Said moves a side's last-message time forward.
func (d *Desk) Said(ctx context.Context, id int64, volunteer bool, at time.Time) error {
	col := "resident_said_at"
	if volunteer {
		col = "volunteer_said_at"
	}
	return d.exec(ctx, "record message on ticket", id, `UPDATE tickets SET `+col+` = $2
WHERE id = $1 AND status = 'assigned' AND (`+col+` IS NULL OR `+col+` < $2)`, id, d.at(at))
}

// Remind marks the unclaimed reminder sent, once.
func (d *Desk) Remind(ctx context.Context, id int64, at time.Time) (bool, error) {
	res, err := d.w.ExecContext(ctx, `UPDATE tickets SET reminded_at = $2
WHERE id = $1 AND status = 'waiting' AND reminded_at IS NULL`, id, d.at(at))
	if err != nil {
		return false, fmt.Errorf("store: remind ticket %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetCallback records the phone number a resident left to be called back
// on an open ticket.
func (d *Desk) SetCallback(ctx context.Context, id int64, phone string) error {
	return d.exec(ctx, "set call-back of ticket", id, `UPDATE tickets SET callback_phone = $2
WHERE id = $1 AND status IN ('waiting', 'assigned')`, id, clean(phone))
}

// SetCard records the group card of a ticket.
func (d *Desk) SetCard(ctx context.Context, id int64, cardID, text string) error {
	return d.exec(ctx, "set card of ticket", id, `UPDATE tickets SET card_id = $2, card_text = $3 WHERE id = $1`,
		id, clean(cardID), clean(text))
}

// Rate stores a resolved ticket's rating once.
func (d *Desk) Rate(ctx context.Context, id int64, resident bot.ConvKey, stars int, comment string, at time.Time) (bool, error) {
	if stars < 1 || stars > 5 {
		return false, fmt.Errorf("store: rate ticket %d: %d stars is not 1–5", id, stars)
	}
	q := `UPDATE tickets SET rating = $4, rated_at = $5 WHERE id = $1 AND channel = $2 AND external_id = $3
  AND status IN ('resolved', 'abandoned') AND rating IS NULL`
	args := []any{id, string(resident.Channel), resident.ChatID, stars, d.at(at)}
	if comment != "" {
		// a comment follows its rating and is kept once
		q = `UPDATE tickets SET rating_comment = $4 WHERE id = $1 AND channel = $2 AND external_id = $3
  AND rating IS NOT NULL AND rating_comment = ''`
		args = []any{id, string(resident.Channel), resident.ChatID, clean(comment)}
	}
	res, err := d.w.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("store: rate ticket %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Note appends transcript lines idempotently.
func (d *Desk) Note(ctx context.Context, id int64, updateID string, lines []bot.TranscriptLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		for i, l := range lines {
			if _, err := tx.ExecContext(ctx, insertMessageInto+` VALUES ($1, $2, $3, $4, $5, $6)`+onMessageConflict,
				id, l.From, clean(l.Text), d.at(l.At), clean(updateID), i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: note on ticket %d: %w", id, err)
	}
	return nil
}

// Transcript returns a ticket's transcript in order.
func (d *Desk) Transcript(ctx context.Context, id int64) ([]bot.TranscriptLine, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT sender, body, created_at FROM ticket_messages WHERE ticket_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: transcript %d: %w", id, err)
	}
	defer rows.Close()
	var out []bot.TranscriptLine
	for rows.Next() {
		var l bot.TranscriptLine
		var at dbTime
		if err := rows.Scan(&l.From, &l.Text, &at); err != nil {
			return nil, fmt.Errorf("store: transcript %d: %w", id, err)
		}
		l.At = at.t
		out = append(out, l)
	}
	return out, rows.Err()
}

// Audit returns a ticket's state changes in order.
func (d *Desk) Audit(ctx context.Context, id int64) ([]handoff.AuditEntry, error) {
	out, err := scanAudit(d.r.QueryContext(ctx, `SELECT `+auditCols+` FROM ticket_audit WHERE ticket_id = $1 ORDER BY id`, id))
	if err != nil {
		return nil, fmt.Errorf("store: audit %d: %w", id, err)
	}
	return out, nil
}

const auditCols = `id, ticket_id, from_status, to_status, actor, note, at`

func scanAudit(rows *sql.Rows, err error) ([]handoff.AuditEntry, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []handoff.AuditEntry
	for rows.Next() {
		var e handoff.AuditEntry
		var from, to string
		var at dbTime
		if err := rows.Scan(&e.ID, &e.Ticket, &from, &to, &e.Actor, &e.Note, &at); err != nil {
			return nil, err
		}
		e.From, e.To, e.At = handoff.Status(from), handoff.Status(to), at.t
		out = append(out, e)
	}
	return out, rows.Err()
}

// SystemMoves lists the timers' state changes after afterID, since since.
func (d *Desk) SystemMoves(ctx context.Context, afterID int64, since time.Time, limit int) ([]handoff.AuditEntry, error) {
	out, err := scanAudit(d.r.QueryContext(ctx, `SELECT `+auditCols+` FROM ticket_audit
WHERE actor = 'system' AND id > $1 AND at >= $2 ORDER BY id LIMIT $3`, afterID, d.at(since), limit))
	if err != nil {
		return nil, fmt.Errorf("store: system moves: %w", err)
	}
	return out, nil
}

// Cards lists carded tickets changed since since.
func (d *Desk) Cards(ctx context.Context, since time.Time, limit int) ([]handoff.Ticket, error) {
	ts, err := scanTickets(d.r.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets
WHERE card_id <> '' AND updated_at >= $1 ORDER BY updated_at, id LIMIT $2`, d.at(since), limit))
	if err != nil {
		return nil, fmt.Errorf("store: cards: %w", err)
	}
	return ts, nil
}

// Reminded lists tickets reminded since since.
func (d *Desk) Reminded(ctx context.Context, since time.Time, limit int) ([]handoff.Ticket, error) {
	ts, err := scanTickets(d.r.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets
WHERE reminded_at >= $1 ORDER BY reminded_at, id LIMIT $2`, d.at(since), limit))
	if err != nil {
		return nil, fmt.Errorf("store: reminded tickets: %w", err)
	}
	return ts, nil
}

// Due lists what the timers may act on.
func (d *Desk) Due(ctx context.Context, unclaimed, silentVolunteer, silentResident time.Time, limit int) (handoff.Due, error) {
	var due handoff.Due
	var err error
	if due.Unclaimed, err = scanTickets(d.r.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets
WHERE status = 'waiting' AND reminded_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2`, d.at(unclaimed), limit)); err != nil {
		return due, fmt.Errorf("store: due tickets: %w", err)
	}
	if due.SilentVolunteer, err = scanTickets(d.r.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets
WHERE status = 'assigned' AND coalesce(volunteer_said_at, assigned_at) < $1
  AND (volunteer_said_at IS NULL OR resident_said_at > volunteer_said_at)
ORDER BY assigned_at LIMIT $2`, d.at(silentVolunteer), limit)); err != nil {
		return due, fmt.Errorf("store: due tickets: %w", err)
	}
	if due.SilentResident, err = scanTickets(d.r.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets
WHERE status = 'assigned' AND volunteer_said_at IS NOT NULL AND volunteer_said_at < $1
  AND (resident_said_at IS NULL OR resident_said_at < volunteer_said_at)
ORDER BY volunteer_said_at LIMIT $2`, d.at(silentResident), limit)); err != nil {
		return due, fmt.Errorf("store: due tickets: %w", err)
	}
	return due, nil
}

// PurgeTranscripts deletes the transcripts of tickets closed before before.
func (d *Desk) PurgeTranscripts(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.w.ExecContext(ctx, `DELETE FROM ticket_messages WHERE ticket_id IN (
SELECT id FROM tickets WHERE status IN ('resolved', 'cancelled', 'abandoned') AND closed_at < $1)`, d.at(before))
	if err != nil {
		return 0, fmt.Errorf("store: purge transcripts: %w", err)
	}
	return res.RowsAffected()
}

func (d *Desk) exec(ctx context.Context, what string, id int64, q string, args ...any) error {
	if _, err := d.w.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("store: %s %d: %w", what, id, err)
	}
	return nil
}
