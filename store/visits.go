package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gocua/gocua/bot/handoff"
)

var _ handoff.Visits = (*Desk)(nil)

// AddVisit stores a field visit once per v.Source (see handoff.Visits).
func (d *Desk) AddVisit(ctx context.Context, v handoff.Visit) (handoff.Visit, bool, error) {
	return addVisit(ctx, d.w, d.sqlite, v)
}

// visitCols are the columns scanVisit reads, of visits v joined to
// volunteers u.
const visitCols = `v.id, v.volunteer_id, v.area, v.actions, v.people, v.note, v.at, v.source, coalesce(u.name, '')`

// visitFrom is what visitCols are selected from.
const visitFrom = ` FROM visits v LEFT JOIN volunteers u ON u.id = v.volunteer_id`

func scanVisit(row rowScanner) (handoff.Visit, error) {
	var v handoff.Visit
	var actions string
	var at dbTime
	if err := row.Scan(&v.ID, &v.Volunteer, &v.Area, &actions, &v.People, &v.Note, &at, &v.Source, &v.VolunteerName); err != nil {
		return v, err
	}
	v.At = at.t
	if err := json.Unmarshal([]byte(actions), &v.Actions); err != nil {
		return v, fmt.Errorf("decode actions: %w", err)
	}
	return v, nil
}

// checkVisit validates v and returns its actions, deduplicated, in
// handoff.VisitActions order.
func checkVisit(v handoff.Visit) ([]string, error) {
	switch {
	case v.Volunteer == 0:
		return nil, errors.New("no volunteer")
	case strings.TrimSpace(v.Source) == "":
		return nil, errors.New("no source")
	case v.At.IsZero():
		return nil, errors.New("no time")
	case v.People < 1 || v.People > handoff.MaxVisitPeople:
		return nil, fmt.Errorf("%d people is not 1–%d", v.People, handoff.MaxVisitPeople)
	case utf8.RuneCountInString(v.Note) > handoff.MaxVisitNote:
		return nil, fmt.Errorf("note longer than %d characters", handoff.MaxVisitNote)
	}
	for _, a := range v.Actions {
		if !slices.Contains(handoff.VisitActions, a) {
			return nil, fmt.Errorf("unknown action %q", a)
		}
	}
	var actions []string
	for _, a := range handoff.VisitActions {
		if slices.Contains(v.Actions, a) {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return nil, errors.New("no action")
	}
	return actions, nil
}

// addVisit implements AddVisit for Desk and Dashboard: an insert that does
// nothing on a known source, then the stored row (with the volunteer's
// name) read back on the writer, so SQLite's is seen at once.
func addVisit(ctx context.Context, w *sql.DB, sqlite bool, v handoff.Visit) (handoff.Visit, bool, error) {
	actions, err := checkVisit(v)
	if err != nil {
		return handoff.Visit{}, false, fmt.Errorf("store: add visit %q: %w", v.Source, err)
	}
	b, _ := json.Marshal(actions) // strings always encode
	src := clean(v.Source)
	res, err := w.ExecContext(ctx, `INSERT INTO visits (volunteer_id, area, actions, people, note, at, source)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source) DO NOTHING`,
		v.Volunteer, clean(strings.TrimSpace(v.Area)), string(b), v.People, clean(strings.TrimSpace(v.Note)),
		dialectTime(sqlite, v.At), src)
	if err != nil {
		return handoff.Visit{}, false, fmt.Errorf("store: add visit %q: %w", v.Source, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return handoff.Visit{}, false, fmt.Errorf("store: add visit %q: %w", v.Source, err)
	}
	stored, err := scanVisit(w.QueryRowContext(ctx, `SELECT `+visitCols+visitFrom+` WHERE v.source = $1`, src))
	if err != nil {
		return handoff.Visit{}, false, fmt.Errorf("store: add visit %q: read back: %w", v.Source, err)
	}
	return stored, n == 1, nil
}
