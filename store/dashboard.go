package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot/dashboard"
	"github.com/gocua/gocua/bot/handoff"
)

// Dashboard keeps what the web dashboard signs in with (tables
// dashboard_logins, dashboard_sessions) and counts what it shows (flow
// events, tickets, visits, broadcast deliveries): it implements
// dashboard.Store on either durable store. Like [Desk], both dialects share
// the SQL; they differ in how times are stored, which the few
// dialect-specific expressions (epochMicros, timeParam) hide, and the
// funnel tells PostgreSQL's planner how to join (see Funnel).
//
// A page's numbers come from one or two statements, whatever the size of
// the tables, counted by the database — except the funnel's, counted here
// in one pass over the rows its statement streams (see Funnel) — and
// exports stream.
//
// Filters (dashboard.Query) apply to each table's own columns: the area,
// channel and language recorded with a flow event (flow_events.area,
// .channel, .lang), a ticket's (tickets.area, .channel, .lang), a
// resident's (residents.area, .channel, .lang) and a broadcast delivery's
// (its channel and lang, and the area its resident had when its run
// started). Visits have an area only: Scope and Area select them, Channel
// and Lang do not apply to them. Scope nil is every area (and none); an
// empty non-nil Scope sees nothing.
type Dashboard struct {
	r, w   *sql.DB // readers and the writer (one *sql.DB on PostgreSQL)
	sqlite bool
}

var _ dashboard.Store = (*Dashboard)(nil)

// Dashboard returns the dashboard's store on this database.
func (p *Postgres) Dashboard() *Dashboard { return &Dashboard{r: p.db, w: p.db} }

// Dashboard returns the dashboard's store on this database.
func (s *SQLite) Dashboard() *Dashboard { return &Dashboard{r: s.r, w: s.w, sqlite: true} }

// maxOverviewDays bounds the days an overview's chart may have.
const maxOverviewDays = 1000

// maxAgent is how much of a browser's User-Agent a session keeps (bytes).
const maxAgent = 200

// staleLogins is how long after they expire login links are deleted.
const staleLogins = 24 * time.Hour

func (d *Dashboard) at(t time.Time) any { return dialectTime(d.sqlite, t) }

func dashNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return dashboard.ErrNotFound
	}
	return err
}

// CreateLogin stores a login link. Links that expired more than a day
// before it was created are deleted on the way.
func (d *Dashboard) CreateLogin(ctx context.Context, l dashboard.Login) error {
	err := inTx(ctx, d.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dashboard_logins WHERE expires_at < $1`,
			d.at(l.Created.Add(-staleLogins))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dashboard_logins (hash, volunteer_id, created_at, expires_at)
VALUES ($1, $2, $3, $4)`, clean(l.Hash), l.Volunteer, d.at(l.Created), d.at(l.Expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create login of volunteer %d: %w", l.Volunteer, err)
	}
	return nil
}

// UseLogin spends a login link: one UPDATE that only matches an unused
// link not expired at now, so of two concurrent calls exactly one gets the
// row back.
func (d *Dashboard) UseLogin(ctx context.Context, hash string, now time.Time) (dashboard.Login, error) {
	var l dashboard.Login
	var created, expires dbTime
	err := d.w.QueryRowContext(ctx, `UPDATE dashboard_logins SET used_at = $2
WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
RETURNING hash, volunteer_id, created_at, expires_at`, clean(hash), d.at(now)).Scan(&l.Hash, &l.Volunteer, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		err = dashboard.ErrLinkRefused
	}
	if err != nil {
		return dashboard.Login{}, fmt.Errorf("store: use login: %w", err)
	}
	l.Created, l.Expires = created.t, expires.t
	return l, nil
}

const sessionCols = `id, hash, volunteer_id, csrf, agent, created_at, seen_at, expires_at, revoked_at`

func scanSession(row rowScanner) (dashboard.Session, error) {
	var s dashboard.Session
	var created, seen, expires, revoked dbTime
	if err := row.Scan(&s.ID, &s.Hash, &s.Volunteer, &s.CSRF, &s.Agent, &created, &seen, &expires, &revoked); err != nil {
		return s, err
	}
	s.Created, s.Seen, s.Expires, s.Revoked = created.t, seen.t, expires.t, revoked.t
	return s, nil
}

// cutAgent keeps at most maxAgent bytes of a User-Agent, whole runes.
func cutAgent(s string) string {
	s = clean(s)
	if len(s) <= maxAgent {
		return s
	}
	n := maxAgent
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CreateSession stores a session (Seen defaults to Created) and returns it
// as stored, with its ID.
func (d *Dashboard) CreateSession(ctx context.Context, s dashboard.Session) (dashboard.Session, error) {
	seen := s.Seen
	if seen.IsZero() {
		seen = s.Created
	}
	out, err := scanSession(d.w.QueryRowContext(ctx, `INSERT INTO dashboard_sessions
    (hash, volunteer_id, csrf, agent, created_at, seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING `+sessionCols, clean(s.Hash), s.Volunteer, clean(s.CSRF), cutAgent(s.Agent), d.at(s.Created), d.at(seen), d.at(s.Expires)))
	if err != nil {
		return dashboard.Session{}, fmt.Errorf("store: create session of volunteer %d: %w", s.Volunteer, err)
	}
	return out, nil
}

// Session returns the session with this hash, revoked or expired ones too.
func (d *Dashboard) Session(ctx context.Context, hash string) (dashboard.Session, error) {
	s, err := scanSession(d.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM dashboard_sessions WHERE hash = $1`, clean(hash)))
	if err != nil {
		return dashboard.Session{}, fmt.Errorf("store: session: %w", dashNotFound(err))
	}
	return s, nil
}

// TouchSession records a request at now (seen_at never moves back).
func (d *Dashboard) TouchSession(ctx context.Context, id int64, now time.Time) error {
	res, err := d.w.ExecContext(ctx, `UPDATE dashboard_sessions
SET seen_at = CASE WHEN seen_at < $2 THEN $2 ELSE seen_at END WHERE id = $1`, id, d.at(now))
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("store: touch session %d: %w", id, err)
	}
	return nil
}

// oneRow reports dashboard.ErrNotFound when res changed no row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return dashboard.ErrNotFound
	}
	return nil
}

// Sessions lists the live sessions at now, newest first: a volunteer's
// (volunteer != 0) or everyone's.
func (d *Dashboard) Sessions(ctx context.Context, volunteer int64, now time.Time) ([]dashboard.Session, error) {
	q := `SELECT ` + sessionCols + ` FROM dashboard_sessions WHERE revoked_at IS NULL AND expires_at > $1`
	args := []any{d.at(now)}
	if volunteer != 0 {
		q += ` AND volunteer_id = $2`
		args = append(args, volunteer)
	}
	rows, err := d.r.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	defer rows.Close()
	var out []dashboard.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	return out, nil
}

// RevokeSession revokes session id at now (if volunteer != 0, only theirs).
// Revoking a revoked session keeps its first revocation time.
func (d *Dashboard) RevokeSession(ctx context.Context, id, volunteer int64, now time.Time) error {
	q := `UPDATE dashboard_sessions SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`
	args := []any{id, d.at(now)}
	if volunteer != 0 {
		q += ` AND volunteer_id = $3`
		args = append(args, volunteer)
	}
	res, err := d.w.ExecContext(ctx, q, args...)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("store: revoke session %d: %w", id, err)
	}
	return nil
}

// AddVisit stores a field visit once per v.Source (see handoff.Visits).
func (d *Dashboard) AddVisit(ctx context.Context, v handoff.Visit) (handoff.Visit, bool, error) {
	return addVisit(ctx, d.w, d.sqlite, v)
}

// epochMicros is the SQL of a stored time as microseconds since 1970 (a
// BIGINT): differences of two are durations, exact on both dialects.
func (d *Dashboard) epochMicros(col string) string {
	if d.sqlite {
		// fixed-width text: whole seconds, then the six fraction digits
		return `(CAST(strftime('%s', ` + col + `) AS INTEGER) * 1000000 + CAST(substr(` + col + `, 21, 6) AS INTEGER))`
	}
	return `CAST(extract(epoch FROM ` + col + `) * 1000000 AS BIGINT)`
}

// timeParam is the SQL of time argument p where its type cannot be
// inferred (a VALUES list).
func (d *Dashboard) timeParam(p string) string {
	if d.sqlite {
		return p
	}
	return `CAST(` + p + ` AS timestamptz)`
}

// medianOf is the SQL selecting, per key, the median of took (BIGINT
// microseconds) in nanoseconds from rows (a CTE with columns key, took):
// the middle value of an odd count, the mean of the two middle ones of an
// even count. PostgreSQL has the ordered-set aggregate for it (exact: the
// mean of two microsecond counts is a multiple of half a microsecond, and
// float8 holds such values exactly far beyond any duration here), several
// times cheaper than the ranking SQLite needs.
func (d *Dashboard) medianOf(rows, key string) string {
	if !d.sqlite {
		return `(SELECT ` + key + `, CAST(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY took) * 1000) AS BIGINT) AS median
  FROM ` + rows + ` GROUP BY ` + key + `)`
	}
	return `(SELECT ` + key + `, CAST(sum(took) * 1000 / count(*) AS BIGINT) AS median FROM (
    SELECT ` + key + `, took, row_number() OVER (PARTITION BY ` + key + ` ORDER BY took) AS nth,
           count(*) OVER (PARTITION BY ` + key + `) AS n
    FROM ` + rows + `) ranked
  WHERE nth IN ((n + 1) / 2, (n + 2) / 2) GROUP BY ` + key + `)`
}

// columns names a table's columns that q's scope and filters apply to (""
// : the table has no such column).
type columns struct{ area, channel, lang string }

// where returns the conditions (each starting with AND) of q's scope and
// filters on cols.
func where(q dashboard.Query, args *sqlArgs, cols columns) string {
	var b strings.Builder
	if cols.area != "" {
		if q.Scope != nil {
			if len(q.Scope) == 0 {
				b.WriteString(` AND 1 = 0`)
			} else {
				fmt.Fprintf(&b, ` AND %s IN (%s)`, cols.area, bindList(args, q.Scope))
			}
		}
		switch q.Area {
		case "":
		case "-":
			fmt.Fprintf(&b, ` AND %s = ''`, cols.area)
		default:
			fmt.Fprintf(&b, ` AND %s = %s`, cols.area, args.bind(clean(q.Area)))
		}
	}
	if cols.channel != "" && q.Channel != "" {
		fmt.Fprintf(&b, ` AND %s = %s`, cols.channel, args.bind(string(q.Channel)))
	}
	if cols.lang != "" && q.Lang != "" {
		fmt.Fprintf(&b, ` AND %s = %s`, cols.lang, args.bind(clean(q.Lang)))
	}
	return b.String()
}

// inRange returns the condition that col is in q's range.
func inRange(q dashboard.Query, args *sqlArgs, col string) string {
	return fmt.Sprintf(`%s >= %s AND %s < %s`, col, args.time(q.From), col, args.time(q.To))
}

// checkRange refuses an empty range.
func checkRange(q dashboard.Query) error {
	if !q.From.Before(q.To) {
		return fmt.Errorf("empty range [%s, %s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	return nil
}

// Funnel computes q.Flow's funnel:
//
//   - a resident's moves are their flow events of kind step_entered or
//     flow_completed, in order of time, then id (so events of one update
//     keep their order);
//   - a visit V is a step_entered event of q.Flow in q's range whose own
//     area, channel, language and version match q;
//   - only each resident's last visit (by time, then id) of each step
//     counts: Entered is the residents who visited the step;
//   - M is the resident's next move after V, at any time (also after
//     q.To), in any flow;
//   - V escalated if an escalated event of the same resident, update, flow
//     and step exists (a handoff step, or asking for a person on it), or
//     if M is a step_entered event that escalated in that sense (a jump to
//     the volunteer flow's handoff step); else V continued if M exists and
//     is of q.Flow (another step, or finishing it); else V left;
//   - Median is the median of M.at − V.at of the visits that continued.
//
// Steps are ordered by Entered, most first, then by name.
//
// One statement reads the visitors' timelines (each an index range, in
// order) and the rest is a single pass over them here: window functions
// over the same rows cost PostgreSQL three sorts and several passes, more
// than twice the time (docs/benchmarks.md). Memory is a resident's
// timeline and, per step, the times of the visits that continued.
func (d *Dashboard) Funnel(ctx context.Context, q dashboard.FunnelQuery) ([]dashboard.FunnelStep, error) {
	if err := checkRange(q.Query); err != nil {
		return nil, fmt.Errorf("store: funnel of %s: %w", q.Flow, err)
	}
	args := &sqlArgs{sqlite: d.sqlite}
	flow := args.bind(clean(q.Flow))
	// visit is the condition that event alias is a visit
	visit := func(alias string) string {
		c := alias + `.kind = 'step_entered' AND ` + alias + `.flow = ` + flow + ` AND ` + inRange(q.Query, args, alias+".at") +
			where(q.Query, args, columns{area: alias + ".area", channel: alias + ".channel", lang: alias + ".lang"})
		if q.Version != "" {
			c += ` AND ` + alias + `.version = ` + args.bind(clean(q.Version))
		}
		return c
	}
	// Moves before From are no visit's next move; a resident's escalated
	// events count at any time.
	query := `
SELECT e.channel, e.external_id, e.update_id, e.kind, e.flow, e.step, e.at,
       CASE WHEN ` + visit("e") + ` THEN 1 ELSE 0 END
FROM (SELECT DISTINCT w.channel, w.external_id FROM flow_events w WHERE ` + visit("w") + `
      ORDER BY w.channel, w.external_id) visitors
JOIN flow_events e ON e.channel = visitors.channel AND e.external_id = visitors.external_id
WHERE e.kind IN ('step_entered', 'flow_completed', 'escalated') AND (e.at >= ` + args.time(q.From) + ` OR e.kind = 'escalated')
ORDER BY e.channel, e.external_id, e.at, e.id`
	f := newFunnelCount(clean(q.Flow))
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		if !d.sqlite {
			// PostgreSQL cannot estimate how many events the visitors
			// have (their number is a distinct count of a filtered
			// composite key): it would rather hash every move of the
			// table than look up each visitor's timeline in the index
			if _, err := tx.ExecContext(ctx, `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off`); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, query, args.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var channel, external sql.RawBytes
		var e funnelEvent
		var kind, evFlow, step sql.RawBytes
		var at dbTime
		var isVisit int
		for rows.Next() {
			if err := rows.Scan(&channel, &external, &e.update, &kind, &evFlow, &step, &at, &isVisit); err != nil {
				return err
			}
			e.kind, e.flow, e.step = f.intern(kind), f.intern(evFlow), f.intern(step)
			e.at, e.visit = at.t, isVisit == 1
			f.add(channel, external, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		f.flush()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: funnel of %s: %w", q.Flow, err)
	}
	return f.steps(), nil
}

// The kinds of flow events the funnel reads (flows.EventKind's values, as
// its SQL spells them).
const (
	kindStepEntered = "step_entered"
	kindEscalated   = "escalated"
)

// funnelEvent is one event of a visitor's timeline.
type funnelEvent struct {
	update, kind, flow, step string
	at                       time.Time
	visit                    bool
}

// escalation is what an escalated event is matched on, within a resident.
type escalation struct{ update, flow, step string }

// funnelOutcome is what became of a visit.
type funnelOutcome struct {
	escalated, continued bool
	took                 time.Duration
}

// funnelCount counts a funnel from its visitors' timelines, given one
// resident after another, each in order (see Dashboard.Funnel).
type funnelCount struct {
	flow    string
	strings map[string]string // kinds, flows and steps, kept once
	// the resident being read
	key        []byte
	moves      []funnelEvent
	escalated  map[escalation]bool
	lastVisits map[string]funnelOutcome // step → the outcome of its last visit
	// the counts so far
	byStep map[string]*dashboard.FunnelStep
	took   map[string][]time.Duration // step → the continued visits' times
}

func newFunnelCount(flow string) *funnelCount {
	return &funnelCount{flow: flow, strings: map[string]string{}, escalated: map[escalation]bool{},
		lastVisits: map[string]funnelOutcome{}, byStep: map[string]*dashboard.FunnelStep{}, took: map[string][]time.Duration{}}
}

// intern returns b as a string, one copy per distinct value.
func (f *funnelCount) intern(b []byte) string {
	if s, ok := f.strings[string(b)]; ok {
		return s
	}
	s := string(b)
	f.strings[s] = s
	return s
}

// add takes resident (channel, external)'s next event.
func (f *funnelCount) add(channel, external []byte, e funnelEvent) {
	if len(f.key) != len(channel)+1+len(external) || string(f.key[:len(channel)]) != string(channel) ||
		f.key[len(channel)] != 0 || string(f.key[len(channel)+1:]) != string(external) {
		f.flush()
		f.key = append(append(append(f.key[:0], channel...), 0), external...)
	}
	if e.kind == kindEscalated {
		f.escalated[escalation{e.update, e.flow, e.step}] = true
		return
	}
	f.moves = append(f.moves, e)
}

// flush counts the resident read so far, and forgets them.
func (f *funnelCount) flush() {
	escalates := func(e funnelEvent) bool { return f.escalated[escalation{e.update, e.flow, e.step}] }
	for i, v := range f.moves {
		if !v.visit {
			continue
		}
		var o funnelOutcome
		switch {
		case escalates(v) || i+1 < len(f.moves) && f.moves[i+1].kind == kindStepEntered && escalates(f.moves[i+1]):
			o.escalated = true
		case i+1 < len(f.moves) && f.moves[i+1].flow == f.flow:
			o = funnelOutcome{continued: true, took: f.moves[i+1].at.Sub(v.at)}
		}
		f.lastVisits[v.step] = o // in order: the last visit stays
	}
	for step, o := range f.lastVisits {
		s := f.byStep[step]
		if s == nil {
			s = &dashboard.FunnelStep{Step: step}
			f.byStep[step] = s
		}
		s.Entered++
		switch {
		case o.escalated:
			s.Escalated++
		case o.continued:
			s.Continued++
			f.took[step] = append(f.took[step], o.took)
		default:
			s.Left++
		}
	}
	f.moves = f.moves[:0]
	clear(f.escalated)
	clear(f.lastVisits)
}

// steps returns the counts, most entered first, then by name (byte order).
func (f *funnelCount) steps() []dashboard.FunnelStep {
	out := make([]dashboard.FunnelStep, 0, len(f.byStep))
	for step, s := range f.byStep {
		if took := f.took[step]; len(took) > 0 {
			slices.Sort(took)
			n := len(took)
			s.Median = (took[(n-1)/2] + took[n/2]) / 2
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b dashboard.FunnelStep) int {
		return cmp.Or(cmp.Compare(b.Entered, a.Entered), strings.Compare(a.Step, b.Step))
	})
	return out
}

// FlowVersions lists the versions of a flow seen in its events (the
// version "" of events recorded before flows had versions too), newest
// first event first, at most limit.
func (d *Dashboard) FlowVersions(ctx context.Context, flow string, limit int) ([]dashboard.FlowVersion, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT version, min(at), max(at), count(*) FROM flow_events
WHERE flow = $1 GROUP BY version ORDER BY min(at) DESC, version LIMIT $2`, clean(flow), limit)
	if err != nil {
		return nil, fmt.Errorf("store: versions of %s: %w", flow, err)
	}
	defer rows.Close()
	var out []dashboard.FlowVersion
	for rows.Next() {
		var v dashboard.FlowVersion
		var first, last dbTime
		if err := rows.Scan(&v.Version, &first, &last, &v.Events); err != nil {
			return nil, fmt.Errorf("store: versions of %s: %w", flow, err)
		}
		v.First, v.Last = first.t, last.t
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: versions of %s: %w", flow, err)
	}
	return out, nil
}

// readTx runs fn in a read-only transaction: one snapshot for a page's
// statements (REPEATABLE READ on PostgreSQL; on SQLite a read transaction
// in WAL mode is one), and the scope of a SET LOCAL.
func (d *Dashboard) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// areaGroup is the SQL of the overview's group of a row with area col:
// the area, "-" for none.
func areaGroup(col string) string { return `CASE WHEN ` + col + ` = '' THEN '-' ELSE ` + col + ` END` }

// Overview counts q's range per area, in total and per day, in one
// statement (one snapshot):
//
//   - Residents: residents whose last message (residents.last_seen) is in
//     the range, by their area, channel and language now; NewResidents: of
//     them, those first seen in the range;
//   - FlowsCompleted: flow_completed events in the range;
//   - TicketsOpened: tickets created in the range; TicketsResolved:
//     tickets resolved in the range (status resolved, closed_at);
//   - MedianWait: of tickets first claimed in the range, created → first
//     claim; MedianHandle: of tickets resolved in the range, (last) claim →
//     resolved;
//   - Rated, RatingSum, Satisfied: ratings given in the range (rated_at);
//   - BroadcastsSent: broadcast deliveries settled as delivered in the
//     range, by the area their resident had then;
//   - Visits, VisitPeople: visits in the range.
//
// Areas holds a row per area with anything counted ("-": no area), by
// code (byte order); Total counts everything once (its medians are of all
// the rows, not of the areas'). Days has every day that overlaps the
// range, in q.Location (UTC if nil): day i counts [max(From, midnight i),
// min(To, midnight i+1)).
func (d *Dashboard) Overview(ctx context.Context, q dashboard.Query) (dashboard.Overview, error) {
	if err := checkRange(q); err != nil {
		return dashboard.Overview{}, fmt.Errorf("store: overview: %w", err)
	}
	days, err := dayStarts(q)
	if err != nil {
		return dashboard.Overview{}, fmt.Errorf("store: overview: %w", err)
	}
	query, args := d.overviewSQL(q, days)
	rows, err := d.r.QueryContext(ctx, query, args.args...)
	if err != nil {
		return dashboard.Overview{}, fmt.Errorf("store: overview: %w", err)
	}
	defer rows.Close()
	ov := dashboard.Overview{Days: make([]dashboard.DayStats, len(days))}
	for i, day := range days {
		ov.Days[i].Day = day
	}
	byArea := map[string]*dashboard.AreaStats{}
	for rows.Next() {
		var g, metric string
		var day int
		var n int64
		if err := rows.Scan(&g, &day, &metric, &n); err != nil {
			return dashboard.Overview{}, fmt.Errorf("store: overview: %w", err)
		}
		if day >= 0 {
			if day >= len(days) || setDayStat(&ov.Days[day], metric, n) != nil {
				return dashboard.Overview{}, fmt.Errorf("store: overview: day %d's %s", day, metric)
			}
			continue
		}
		s := &ov.Total
		if g != "" {
			if s = byArea[g]; s == nil {
				s = &dashboard.AreaStats{Area: g}
				byArea[g] = s
			}
		}
		if err := setAreaStat(s, metric, n); err != nil {
			return dashboard.Overview{}, fmt.Errorf("store: overview: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return dashboard.Overview{}, fmt.Errorf("store: overview: %w", err)
	}
	ov.Areas = make([]dashboard.AreaStats, 0, len(byArea))
	for _, s := range byArea {
		ov.Areas = append(ov.Areas, *s)
	}
	// by code, in byte order whatever the database's collation
	slices.SortFunc(ov.Areas, func(a, b dashboard.AreaStats) int { return strings.Compare(a.Area, b.Area) })
	return ov, nil
}

// overviewSQL is Overview's statement. Its rows are (group, day, metric,
// value): group an area ("-": none) or "" for the total, with day -1; or
// day i of days, with group "". What is counted per day (completed
// flows, opened tickets, visits) is counted once per area and day, over
// the days (a VALUES list, each joined to its table by range: index range
// scans), and summed by area and by day. The other counts are per area,
// their sums the total's; medians are of each area's rows, and of all of
// them (copied with group "").
func (d *Dashboard) overviewSQL(q dashboard.Query, days []time.Time) (string, *sqlArgs) {
	args := &sqlArgs{sqlite: d.sqlite}
	from, to := args.time(q.From), args.time(q.To)
	between := func(col string) string { return col + ` >= ` + from + ` AND ` + col + ` < ` + to }
	ticketCols := columns{area: "t.area", channel: "t.channel", lang: "t.lang"}
	values := make([]string, len(days))
	for i, day := range days {
		start, end := later(day, q.From), earlier(day.AddDate(0, 0, 1), q.To)
		values[i] = fmt.Sprintf(`(CAST(%s AS INTEGER), %s, %s)`, args.bind(i), d.timeParam(args.time(start)),
			d.timeParam(args.time(end)))
	}
	query := `
WITH days (i, s, e) AS (VALUES ` + strings.Join(values, ", ") + `
), completed AS (
    SELECT ` + areaGroup("e.area") + ` AS g, days.i AS day, count(*) AS n
    FROM days JOIN flow_events e ON e.kind = 'flow_completed' AND e.at >= days.s AND e.at < days.e` +
		where(q, args, columns{area: "e.area", channel: "e.channel", lang: "e.lang"}) + `
    GROUP BY 1, 2
), opened AS (
    SELECT ` + areaGroup("t.area") + ` AS g, days.i AS day, count(*) AS n
    FROM days JOIN tickets t ON t.created_at >= days.s AND t.created_at < days.e` + where(q, args, ticketCols) + `
    GROUP BY 1, 2
), visited AS (
    SELECT ` + areaGroup("v.area") + ` AS g, days.i AS day, count(*) AS n, sum(v.people) AS people
    FROM days JOIN visits v ON v.at >= days.s AND v.at < days.e` + where(q, args, columns{area: "v.area"}) + `
    GROUP BY 1, 2
), res AS (
    SELECT ` + areaGroup("r.area") + ` AS g, count(*) AS n, count(CASE WHEN r.first_seen >= ` + from + ` THEN 1 END) AS fresh
    FROM residents r
    WHERE ` + between("r.last_seen") + where(q, args, columns{area: "r.area", channel: "r.channel", lang: "r.lang"}) + `
    GROUP BY 1
), tk AS (
    SELECT ` + areaGroup("t.area") + ` AS g,
           count(CASE WHEN t.status = 'resolved' AND ` + between("t.closed_at") + ` THEN 1 END) AS resolved,
           count(CASE WHEN ` + between("t.rated_at") + ` THEN t.rating END) AS rated,
           coalesce(sum(CASE WHEN ` + between("t.rated_at") + ` THEN t.rating END), 0) AS rating_sum,
           count(CASE WHEN t.rating >= 4 AND ` + between("t.rated_at") + ` THEN 1 END) AS satisfied
    FROM tickets t
    WHERE (` + between("t.closed_at") + ` OR ` + between("t.rated_at") + `)` + where(q, args, ticketCols) + `
    GROUP BY 1
), counts (g, metric, n) AS (
    SELECT g, 'residents', n FROM res
    UNION ALL SELECT g, 'new_residents', fresh FROM res
    UNION ALL SELECT g, 'flows_completed', sum(n) FROM completed GROUP BY g
    UNION ALL SELECT g, 'tickets_opened', sum(n) FROM opened GROUP BY g
    UNION ALL SELECT g, 'tickets_resolved', resolved FROM tk
    UNION ALL SELECT g, 'rated', rated FROM tk
    UNION ALL SELECT g, 'rating_sum', rating_sum FROM tk
    UNION ALL SELECT g, 'satisfied', satisfied FROM tk
    UNION ALL
    SELECT ` + areaGroup("bd.area") + `, 'broadcasts_sent', count(*)
    FROM broadcast_deliveries bd
    WHERE bd.state = 'delivered' AND ` + between("bd.settled_at") +
		where(q, args, columns{area: "bd.area", channel: "bd.channel", lang: "bd.lang"}) + `
    GROUP BY 1
    UNION ALL SELECT g, 'visits', sum(n) FROM visited GROUP BY g
    UNION ALL SELECT g, 'visit_people', sum(people) FROM visited GROUP BY g
), handled AS (
    SELECT ` + areaGroup("t.area") + ` AS g, ` + d.epochMicros("t.closed_at") + ` - ` + d.epochMicros("t.assigned_at") + ` AS took
    FROM tickets t
    WHERE t.status = 'resolved' AND ` + between("t.closed_at") + where(q, args, ticketCols) + `
), waited AS (
    SELECT ` + areaGroup("t.area") + ` AS g, ` + d.epochMicros("a.at") + ` - ` + d.epochMicros("t.created_at") + ` AS took
    FROM (SELECT ticket_id, min(at) AS at FROM ticket_audit WHERE to_status = 'assigned' AND at < ` + to + `
          GROUP BY ticket_id) a
    JOIN tickets t ON t.id = a.ticket_id
    WHERE ` + between("a.at") + where(q, args, ticketCols) + `
), handled_all AS (
    SELECT g, took FROM handled UNION ALL SELECT '', took FROM handled
), waited_all AS (
    SELECT g, took FROM waited UNION ALL SELECT '', took FROM waited
)
SELECT g, -1, metric, CAST(n AS BIGINT) FROM counts
UNION ALL SELECT '', -1, metric, CAST(sum(n) AS BIGINT) FROM counts GROUP BY metric
UNION ALL SELECT g, -1, 'median_handle', median FROM ` + d.medianOf("handled_all", "g") + ` mh
UNION ALL SELECT g, -1, 'median_wait', median FROM ` + d.medianOf("waited_all", "g") + ` mw
UNION ALL SELECT '', day, 'flows_completed', CAST(sum(n) AS BIGINT) FROM completed GROUP BY day
UNION ALL SELECT '', day, 'tickets_opened', CAST(sum(n) AS BIGINT) FROM opened GROUP BY day
UNION ALL SELECT '', day, 'visit_people', CAST(sum(people) AS BIGINT) FROM visited GROUP BY day`
	return query, args
}

// setAreaStat sets an overview's metric.
func setAreaStat(s *dashboard.AreaStats, metric string, n int64) error {
	switch metric {
	case "residents":
		s.Residents = n
	case "new_residents":
		s.NewResidents = n
	case "flows_completed":
		s.FlowsCompleted = n
	case "tickets_opened":
		s.TicketsOpened = n
	case "tickets_resolved":
		s.TicketsResolved = n
	case "median_wait":
		s.MedianWait = time.Duration(n)
	case "median_handle":
		s.MedianHandle = time.Duration(n)
	case "rated":
		s.Rated = n
	case "rating_sum":
		s.RatingSum = n
	case "satisfied":
		s.Satisfied = n
	case "broadcasts_sent":
		s.BroadcastsSent = n
	case "visits":
		s.Visits = n
	case "visit_people":
		s.VisitPeople = n
	default:
		return fmt.Errorf("unknown metric %q", metric)
	}
	return nil
}

// setDayStat sets a day's metric.
func setDayStat(s *dashboard.DayStats, metric string, n int64) error {
	switch metric {
	case "flows_completed":
		s.FlowsCompleted = n
	case "tickets_opened":
		s.TicketsOpened = n
	case "visit_people":
		s.VisitPeople = n
	default:
		return fmt.Errorf("unknown metric %q", metric)
	}
	return nil
}

// dayStarts returns the midnights, in q.Location, of the days overlapping
// q's range.
func dayStarts(q dashboard.Query) ([]time.Time, error) {
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	f := q.From.In(loc)
	var out []time.Time
	for day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc); day.Before(q.To); day = day.AddDate(0, 0, 1) {
		if len(out) == maxOverviewDays {
			return nil, fmt.Errorf("more than %d days", maxOverviewDays)
		}
		out = append(out, day)
	}
	return out, nil
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.After(b) {
		return b
	}
	return a
}

// OpenTickets lists waiting and assigned tickets in q's scope and filters
// (the range is ignored), oldest first, at most limit.
func (d *Dashboard) OpenTickets(ctx context.Context, q dashboard.Query, limit int) ([]dashboard.TicketRow, error) {
	args := &sqlArgs{sqlite: d.sqlite}
	cond := where(q, args, columns{area: "area", channel: "channel", lang: "lang"})
	rows, err := d.r.QueryContext(ctx, `SELECT `+ticketRowCols+` FROM tickets
WHERE status IN ('waiting', 'assigned')`+cond+` ORDER BY created_at, id LIMIT `+args.bind(limit), args.args...)
	if err != nil {
		return nil, fmt.Errorf("store: open tickets: %w", err)
	}
	var out []dashboard.TicketRow
	err = eachTicketRow(rows, func(t dashboard.TicketRow) error {
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: open tickets: %w", err)
	}
	return out, nil
}

// ticketRowCols are a ticket's columns (of table tickets, unaliased) and
// its volunteer's name.
const ticketRowCols = ticketCols + `,
coalesce((SELECT u.name FROM volunteers u WHERE u.id = tickets.volunteer_id), '')`

// eachTicketRow scans rows of ticketRowCols to fn, closing rows.
func eachTicketRow(rows *sql.Rows, fn func(dashboard.TicketRow) error) error {
	defer rows.Close()
	for rows.Next() {
		var name string
		t, err := scanTicket(scanPlus{rows, &name})
		if err != nil {
			return err
		}
		if err := fn(dashboard.TicketRow{Ticket: t, VolunteerName: name}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanPlus scans a row's leading columns as its scanner is asked to, and
// its trailing ones into extra.
type scanPlus struct {
	row   rowScanner
	extra any
}

func (s scanPlus) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra)...) }

// QueueStamp summarizes the open tickets (per status, their count and the
// sum of their ids) and the tickets' latest id and change (updated_at,
// which opening, claiming, releasing and closing all set): an open ticket
// opened, claimed, released or closed since the last poll changes it, even
// when the queue is back to what it was.
func (d *Dashboard) QueueStamp(ctx context.Context) (string, error) {
	var waiting, assigned, waitingIDs, assignedIDs, lastID int64
	var latest dbTime
	err := d.r.QueryRowContext(ctx, `SELECT
    coalesce(sum(CASE WHEN status = 'waiting' THEN 1 ELSE 0 END), 0),
    coalesce(sum(CASE WHEN status = 'assigned' THEN 1 ELSE 0 END), 0),
    CAST(coalesce(sum(CASE WHEN status = 'waiting' THEN id ELSE 0 END), 0) AS BIGINT),
    CAST(coalesce(sum(CASE WHEN status = 'assigned' THEN id ELSE 0 END), 0) AS BIGINT),
    coalesce((SELECT max(id) FROM tickets), 0),
    (SELECT max(updated_at) FROM tickets)
FROM tickets WHERE status IN ('waiting', 'assigned')`).Scan(&waiting, &assigned, &waitingIDs, &assignedIDs, &lastID, &latest)
	if err != nil {
		return "", fmt.Errorf("store: queue stamp: %w", err)
	}
	return fmt.Sprintf("w%d.%d-a%d.%d-%d.%d", waiting, waitingIDs, assigned, assignedIDs, lastID, latest.t.UnixMicro()), nil
}

// TicketStamp is a digest of what a ticket's page shows: its state,
// people, details and rating, and its transcript's length and last line.
func (d *Dashboard) TicketStamp(ctx context.Context, id int64) (string, error) {
	var vals [15]sql.NullString
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	err := d.r.QueryRowContext(ctx, `SELECT status, CAST(volunteer_id AS TEXT), CAST(updated_at AS TEXT),
    CAST(assigned_at AS TEXT), CAST(closed_at AS TEXT), CAST(volunteer_said_at AS TEXT), CAST(resident_said_at AS TEXT),
    topic, area, category, callback_phone, CAST(rating AS TEXT), rating_comment,
    (SELECT CAST(count(*) AS TEXT) FROM ticket_messages m WHERE m.ticket_id = tickets.id),
    (SELECT CAST(max(m.id) AS TEXT) FROM ticket_messages m WHERE m.ticket_id = tickets.id)
FROM tickets WHERE id = $1`, id).Scan(dest...)
	if err != nil {
		return "", fmt.Errorf("store: stamp of ticket %d: %w", id, dashNotFound(err))
	}
	h := sha256.New()
	for _, v := range vals {
		if v.Valid {
			h.Write([]byte(v.String))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// VolunteerStats reports every staff member's work (in Desk.Volunteers'
// order) on the tickets and visits in q's scope and filters:
//
//   - Open: tickets they hold now;
//   - Handled: tickets they resolved in the range;
//   - MedianFirst: of tickets they claimed in the range (their current
//     claim, tickets.assigned_at), claim → their first message on it after
//     the claim (tickets never answered are left out);
//   - Rated, RatingSum: ratings given in the range to tickets they held;
//   - Visits, VisitPeople: their visits in the range;
//   - LastActive: their last claim, message or visit, at any time.
func (d *Dashboard) VolunteerStats(ctx context.Context, q dashboard.Query) ([]dashboard.VolunteerStats, error) {
	if err := checkRange(q); err != nil {
		return nil, fmt.Errorf("store: volunteer stats: %w", err)
	}
	var out []dashboard.VolunteerStats
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		vols, err := scanVolunteers(tx.QueryContext(ctx, `SELECT `+volunteerCols+` FROM volunteers
ORDER BY CASE status WHEN 'applied' THEN 0 WHEN 'approved' THEN 1 WHEN 'suspended' THEN 2 ELSE 3 END, name, id`))
		if err != nil {
			return err
		}
		byID := make(map[int64]int, len(vols))
		out = make([]dashboard.VolunteerStats, len(vols))
		for i, v := range vols {
			out[i].Volunteer, byID[v.ID] = v, i
		}
		return d.volunteerMetrics(ctx, tx, q, func(id int64, metric string, n int64) error {
			if i, ok := byID[id]; ok {
				return setVolunteerStat(&out[i], metric, n)
			}
			return nil // a volunteer added since the list was read
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: volunteer stats: %w", err)
	}
	return out, nil
}

// setVolunteerStat sets a staff member's metric.
func setVolunteerStat(s *dashboard.VolunteerStats, metric string, n int64) error {
	switch metric {
	case "open":
		s.Open = n
	case "handled":
		s.Handled = n
	case "median_first":
		s.MedianFirst = time.Duration(n)
	case "rated":
		s.Rated = n
	case "rating_sum":
		s.RatingSum = n
	case "visits":
		s.Visits = n
	case "visit_people":
		s.VisitPeople = n
	case "last_active":
		s.LastActive = time.UnixMicro(n).UTC()
	default:
		return fmt.Errorf("unknown metric %q", metric)
	}
	return nil
}

func scanVolunteers(rows *sql.Rows, err error) ([]handoff.Volunteer, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []handoff.Volunteer
	for rows.Next() {
		v, err := scanVolunteer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// volunteerMetrics sends VolunteerStats' rows (volunteer, metric, value)
// to fn.
func (d *Dashboard) volunteerMetrics(ctx context.Context, tx *sql.Tx, q dashboard.Query, fn func(int64, string, int64) error) error {
	args := &sqlArgs{sqlite: d.sqlite}
	from, to := args.time(q.From), args.time(q.To)
	between := func(col string) string { return col + ` >= ` + from + ` AND ` + col + ` < ` + to }
	tf := func() string { return where(q, args, columns{area: "t.area", channel: "t.channel", lang: "t.lang"}) }
	vf := func() string { return where(q, args, columns{area: "v.area"}) }
	query := `
WITH first AS (
    SELECT t.volunteer_id AS vid, ` + d.epochMicros("min(m.created_at)") + ` - ` + d.epochMicros("t.assigned_at") + ` AS took
    FROM tickets t JOIN ticket_messages m ON m.ticket_id = t.id AND m.sender = 'volunteer' AND m.created_at >= t.assigned_at
    WHERE t.volunteer_id IS NOT NULL AND ` + between("t.assigned_at") + tf() + `
    GROUP BY t.id, t.volunteer_id, t.assigned_at
), active AS (
    SELECT t.volunteer_id AS vid, ` + d.epochMicros("t.assigned_at") + ` AS at FROM tickets t
    WHERE t.volunteer_id IS NOT NULL AND t.assigned_at IS NOT NULL` + tf() + `
    UNION ALL
    SELECT t.volunteer_id, ` + d.epochMicros("t.volunteer_said_at") + ` FROM tickets t
    WHERE t.volunteer_id IS NOT NULL AND t.volunteer_said_at IS NOT NULL` + tf() + `
    UNION ALL
    SELECT v.volunteer_id, ` + d.epochMicros("v.at") + ` FROM visits v WHERE 1 = 1` + vf() + `
)
SELECT t.volunteer_id, 'open', count(*) FROM tickets t
WHERE t.status = 'assigned' AND t.volunteer_id IS NOT NULL` + tf() + ` GROUP BY t.volunteer_id
UNION ALL SELECT t.volunteer_id, 'handled', count(*) FROM tickets t
WHERE t.status = 'resolved' AND t.volunteer_id IS NOT NULL AND ` + between("t.closed_at") + tf() + ` GROUP BY t.volunteer_id
UNION ALL SELECT vid, 'median_first', median FROM ` + d.medianOf("first", "vid") + ` mf
UNION ALL SELECT t.volunteer_id, 'rated', count(*) FROM tickets t
WHERE t.rating IS NOT NULL AND t.volunteer_id IS NOT NULL AND ` + between("t.rated_at") + tf() + ` GROUP BY t.volunteer_id
UNION ALL SELECT t.volunteer_id, 'rating_sum', CAST(sum(t.rating) AS BIGINT) FROM tickets t
WHERE t.rating IS NOT NULL AND t.volunteer_id IS NOT NULL AND ` + between("t.rated_at") + tf() + ` GROUP BY t.volunteer_id
UNION ALL SELECT v.volunteer_id, 'visits', count(*) FROM visits v WHERE ` + between("v.at") + vf() + ` GROUP BY v.volunteer_id
UNION ALL SELECT v.volunteer_id, 'visit_people', CAST(sum(v.people) AS BIGINT) FROM visits v
WHERE ` + between("v.at") + vf() + ` GROUP BY v.volunteer_id
UNION ALL SELECT vid, 'last_active', max(at) FROM active GROUP BY vid`
	rows, err := tx.QueryContext(ctx, query, args.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		var metric string
		if err := rows.Scan(&id, &metric, &n); err != nil {
			return err
		}
		if err := fn(id, metric, n); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetCapacity changes how many tickets a staff member may hold (1–50).
func (d *Dashboard) SetCapacity(ctx context.Context, volunteer int64, capacity int, at time.Time) error {
	if capacity < 1 || capacity > 50 {
		return fmt.Errorf("store: capacity of volunteer %d: %d is not 1–50", volunteer, capacity)
	}
	res, err := d.w.ExecContext(ctx, `UPDATE volunteers SET capacity = $2, updated_at = $3 WHERE id = $1`,
		volunteer, capacity, d.at(at))
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("store: capacity of volunteer %d: %w", volunteer, err)
	}
	return nil
}

// visitsQuery is the SELECT of the visits in q's range, scope and area
// (and of volunteer, if not 0), in order.
func (d *Dashboard) visitsQuery(q dashboard.Query, volunteer int64, order string) (string, *sqlArgs) {
	args := &sqlArgs{sqlite: d.sqlite}
	query := `SELECT ` + visitCols + visitFrom + ` WHERE ` + inRange(q, args, "v.at") + where(q, args, columns{area: "v.area"})
	if volunteer != 0 {
		query += ` AND v.volunteer_id = ` + args.bind(volunteer)
	}
	return query + ` ORDER BY ` + order, args
}

// eachVisit scans rows of visitCols to fn, closing rows.
func eachVisit(rows *sql.Rows, fn func(handoff.Visit) error) error {
	defer rows.Close()
	for rows.Next() {
		v, err := scanVisit(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// VisitsIn lists the visits of q's range, scope and area, newest first, at
// most limit; volunteer != 0 keeps only theirs.
func (d *Dashboard) VisitsIn(ctx context.Context, q dashboard.Query, volunteer int64, limit int) ([]handoff.Visit, error) {
	query, args := d.visitsQuery(q, volunteer, `v.at DESC, v.id DESC`)
	rows, err := d.r.QueryContext(ctx, query+` LIMIT `+args.bind(limit), args.args...)
	if err != nil {
		return nil, fmt.Errorf("store: visits: %w", err)
	}
	var out []handoff.Visit
	err = eachVisit(rows, func(v handoff.Visit) error {
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: visits: %w", err)
	}
	return out, nil
}

// ExportTickets streams the tickets created in q's range, scope and
// filters to fn, oldest first.
func (d *Dashboard) ExportTickets(ctx context.Context, q dashboard.Query, fn func(dashboard.TicketRow) error) error {
	args := &sqlArgs{sqlite: d.sqlite}
	rows, err := d.r.QueryContext(ctx, `SELECT `+ticketRowCols+` FROM tickets WHERE `+inRange(q, args, "created_at")+
		where(q, args, columns{area: "area", channel: "channel", lang: "lang"})+` ORDER BY created_at, id`, args.args...)
	if err != nil {
		return fmt.Errorf("store: export tickets: %w", err)
	}
	var fnErr error
	err = eachTicketRow(rows, func(t dashboard.TicketRow) error {
		fnErr = fn(t)
		return fnErr
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("store: export tickets: %w", err)
	}
	return nil
}

// ExportVisits streams the visits of q's range, scope and area to fn,
// oldest first.
func (d *Dashboard) ExportVisits(ctx context.Context, q dashboard.Query, fn func(handoff.Visit) error) error {
	query, args := d.visitsQuery(q, 0, `v.at, v.id`)
	rows, err := d.r.QueryContext(ctx, query, args.args...)
	if err != nil {
		return fmt.Errorf("store: export visits: %w", err)
	}
	var fnErr error
	err = eachVisit(rows, func(v handoff.Visit) error {
		fnErr = fn(v)
		return fnErr
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("store: export visits: %w", err)
	}
	return nil
}
