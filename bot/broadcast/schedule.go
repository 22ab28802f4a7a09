package broadcast

import "time"

// QuietHours is a daily window in which no broadcast goes out: what is due
// then waits until it ends. From and To are times of day (since midnight,
// in the deployment's timezone); From after To wraps past midnight
// (21:00–07:00); From equal to To means none.
type QuietHours struct {
	From, To time.Duration
}

// None reports whether there are no quiet hours.
func (q QuietHours) None() bool { return q.From == q.To }

// Until returns when the quiet hours that t falls in end (in t's
// location), or the zero time when t is not in them.
func (q QuietHours) Until(t time.Time) time.Time {
	if q.None() {
		return time.Time{}
	}
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	at := func(day int, off time.Duration) time.Time {
		return time.Date(y, m, d+day, int(off.Hours()), int(off.Minutes())%60, 0, 0, t.Location())
	}
	since := t.Sub(midnight)
	switch {
	case q.From < q.To && since >= q.From && since < q.To:
		return at(0, q.To)
	case q.From > q.To && since >= q.From:
		return at(1, q.To)
	case q.From > q.To && since < q.To:
		return at(0, q.To)
	}
	return time.Time{}
}
