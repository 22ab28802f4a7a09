package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
)

// An audience expression (broadcast.Audience) compiled to SQL: a boolean
// expression over `residents r`, shared by both dialects. Every value the
// expression names is a bind parameter ($n, which both drivers take); the
// SQL text holds only this file's constants. Times are computed here from
// the caller's now and bound as the dialect stores them, so the SQL never
// reads a clock.

const day = 24 * time.Hour

// sqlArgs collects a statement's bind parameters.
type sqlArgs struct {
	sqlite bool
	args   []any
}

// bind adds v and returns its placeholder.
func (q *sqlArgs) bind(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// time binds t as this dialect stores times.
func (q *sqlArgs) time(t time.Time) string { return q.bind(dialectTime(q.sqlite, t)) }

// list binds each of vs and returns "$i, $j, ...".
func bindList[S ~string](q *sqlArgs, vs []S) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = q.bind(clean(string(v)))
	}
	return strings.Join(ps, ", ")
}

// sqlString quotes one of this package's constants as an SQL literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// False and true that both dialects take.
const (
	sqlTrue  = "1 = 1"
	sqlFalse = "1 = 0"
)

// maxAudienceDepth bounds the nesting of a tree not built by Parse (which
// stops at 32).
const maxAudienceDepth = 100

// compileAudience returns aud as an SQL condition on residents r; its
// parameters are appended to q. rules.DefaultLang stands for residents
// without a language; now anchors the terms counted in days.
func compileAudience(q *sqlArgs, aud broadcast.Audience, rules broadcast.Rules, now time.Time) (string, error) {
	if aud.IsZero() {
		return "", fmt.Errorf("empty audience")
	}
	return compileNode(q, aud.Root, rules, now, 0)
}

func compileNode(q *sqlArgs, n broadcast.Node, rules broadcast.Rules, now time.Time, depth int) (string, error) {
	if depth > maxAudienceDepth {
		return "", fmt.Errorf("audience nested deeper than %d", maxAudienceDepth)
	}
	join := func(nodes []broadcast.Node, op, empty string) (string, error) {
		if len(nodes) == 0 {
			return empty, nil
		}
		parts := make([]string, len(nodes))
		for i, c := range nodes {
			s, err := compileNode(q, c, rules, now, depth+1)
			if err != nil {
				return "", err
			}
			parts[i] = "(" + s + ")"
		}
		return strings.Join(parts, " "+op+" "), nil
	}
	since := func(days int) (string, error) {
		if days < 0 {
			return "", fmt.Errorf("negative days (%d) in audience", days)
		}
		return q.time(now.Add(-time.Duration(days) * day)), nil
	}
	// of restricts a flow event e to the resident r
	const of = `e.channel = r.channel AND e.external_id = r.external_id`

	switch n := n.(type) {
	case broadcast.All:
		return sqlTrue, nil
	case broadcast.And:
		return join(n.Nodes, "AND", sqlTrue)
	case broadcast.Or:
		return join(n.Nodes, "OR", sqlFalse)
	case broadcast.Not:
		if n.Node == nil {
			return "", fmt.Errorf("audience: not without a term")
		}
		s, err := compileNode(q, n.Node, rules, now, depth+1)
		if err != nil {
			return "", err
		}
		return "NOT (" + s + ")", nil

	case broadcast.Areas:
		codes := slices.DeleteFunc(slices.Clone(n.Codes), func(c string) bool { return c == "none" })
		var parts []string
		if len(codes) > 0 {
			parts = append(parts, "r.area IN ("+bindList(q, codes)+")")
		}
		if len(codes) < len(n.Codes) {
			parts = append(parts, "r.area = ''")
		}
		return anyOf(parts), nil
	case broadcast.Langs:
		var parts []string
		if len(n.Langs) > 0 {
			parts = append(parts, "r.lang IN ("+bindList(q, n.Langs)+")")
		}
		if rules.DefaultLang != "" && slices.Contains(n.Langs, rules.DefaultLang) {
			parts = append(parts, "r.lang = ''")
		}
		return anyOf(parts), nil
	case broadcast.Channels:
		if len(n.Channels) == 0 {
			return sqlFalse, nil
		}
		return "r.channel IN (" + bindList(q, n.Channels) + ")", nil

	case broadcast.Started:
		return `EXISTS (SELECT 1 FROM flow_events e WHERE ` + of + ` AND e.kind = 'flow_started' AND e.flow = ` +
			q.bind(clean(n.Flow)) + `)`, nil
	case broadcast.Completed:
		return `EXISTS (SELECT 1 FROM flow_events e WHERE ` + of + ` AND e.kind = 'flow_completed' AND e.flow = ` +
			q.bind(clean(n.Flow)) + `)`, nil
	case broadcast.Stuck:
		// the resident's last step entered (events of one update share a
		// time; their ids keep their order) is one of Flow (Step), entered
		// before the cutoff, and nothing since — no later step, no
		// completion — moved them on
		before, err := since(n.Days)
		if err != nil {
			return "", err
		}
		step := ""
		if n.Step != "" {
			step = ` AND e.step = ` + q.bind(clean(n.Step))
		}
		return `EXISTS (SELECT 1 FROM flow_events e WHERE ` + of + ` AND e.kind = 'step_entered' AND e.flow = ` +
			q.bind(clean(n.Flow)) + step + ` AND e.at < ` + before + `
  AND NOT EXISTS (SELECT 1 FROM flow_events l
    WHERE l.channel = e.channel AND l.external_id = e.external_id
      AND l.kind IN ('step_entered', 'flow_completed')
      AND (l.at > e.at OR (l.at = e.at AND l.id > e.id))))`, nil
	case broadcast.Resolved:
		after, err := since(n.Days)
		if err != nil {
			return "", err
		}
		// channel and external id as well as the resident's id: the
		// tickets' (channel, external_id, ...) index finds them
		return `EXISTS (SELECT 1 FROM tickets t WHERE t.channel = r.channel AND t.external_id = r.external_id
  AND t.resident_id = r.id AND t.status = 'resolved' AND t.closed_at >= ` + after + `)`, nil
	case broadcast.Seen:
		cut, err := since(n.Days)
		if err != nil {
			return "", err
		}
		if n.Within {
			return "r.last_seen >= " + cut, nil
		}
		return "r.last_seen < " + cut, nil
	case nil:
		return "", fmt.Errorf("audience: missing term")
	}
	return "", fmt.Errorf("audience: unknown term %T", n)
}

// anyOf ORs conditions; none is false.
func anyOf(parts []string) string {
	switch len(parts) {
	case 0:
		return sqlFalse
	case 1:
		return parts[0]
	}
	return "(" + strings.Join(parts, ") OR (") + ")"
}

// eligibilitySQL returns an SQL expression over residents r that is empty for a
// resident who may receive a broadcast now, else why not (the first that
// applies): broadcast.ReasonNoConsent, ReasonUnreachable, ReasonWindow.
func eligibilitySQL(q *sqlArgs, rules broadcast.Rules, now time.Time) string {
	var b strings.Builder
	b.WriteString("CASE WHEN r.consent <> " + sqlString(string(bot.ConsentYes)) +
		" THEN " + sqlString(broadcast.ReasonNoConsent) +
		" WHEN NOT r.reachable THEN " + sqlString(broadcast.ReasonUnreachable))
	chans := make([]bot.Channel, 0, len(rules.Windows))
	for ch := range rules.Windows {
		chans = append(chans, ch)
	}
	slices.Sort(chans)
	for _, ch := range chans {
		fmt.Fprintf(&b, " WHEN r.channel = %s AND r.last_seen < %s THEN %s",
			q.bind(string(ch)), q.time(now.Add(-rules.Windows[ch])), sqlString(broadcast.ReasonWindow))
	}
	b.WriteString(" ELSE '' END")
	return b.String()
}
