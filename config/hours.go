package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hours is a weekly schedule (GOCUA_VOLUNTEER_HOURS): when volunteers are on
// duty. The zero Hours is always open.
type Hours struct {
	Loc     *time.Location
	windows []window // sorted by day, then start
	raw     string
}

// window is one stretch of a day, in minutes after midnight [from, to).
type window struct {
	day      time.Weekday
	from, to int
}

// dayNames maps what GOCUA_VOLUNTEER_HOURS accepts to a weekday: T2–T7 and
// CN as Vietnamese write them, and English names.
var dayNames = map[string]time.Weekday{
	"t2": time.Monday, "t3": time.Tuesday, "t4": time.Wednesday, "t5": time.Thursday,
	"t6": time.Friday, "t7": time.Saturday, "cn": time.Sunday,
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

// ParseHours reads a schedule such as "T2-T6 07:30-11:30,13:30-17:00; T7
// 07:30-11:30" (or "Mon-Fri 08:00-17:00"): groups separated by ";", each
// days (a day, a range "T2-T6" or a list "T2,T4") then time ranges
// separated by ",". Times are HH:MM in loc; a range may not cross
// midnight. An empty text is always open.
func ParseHours(raw string, loc *time.Location) (Hours, error) {
	h := Hours{Loc: loc, raw: strings.TrimSpace(raw)}
	if h.raw == "" {
		return h, nil
	}
	if loc == nil {
		h.Loc = time.UTC
	}
	for _, group := range strings.Split(h.raw, ";") {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		daysPart, timesPart, ok := strings.Cut(group, " ")
		if !ok || strings.TrimSpace(timesPart) == "" {
			return Hours{}, fmt.Errorf("%q: write the days, a space, then the hours, e.g. \"T2-T6 07:30-17:00\"", group)
		}
		days, err := parseDays(daysPart)
		if err != nil {
			return Hours{}, err
		}
		for _, span := range strings.Split(timesPart, ",") {
			span = strings.TrimSpace(span)
			a, b, ok := strings.Cut(span, "-")
			if !ok {
				return Hours{}, fmt.Errorf("%q is not a time range like 07:30-11:30", span)
			}
			from, err := parseClock(a)
			if err != nil {
				return Hours{}, err
			}
			to, err := parseClock(b)
			if err != nil {
				return Hours{}, err
			}
			if to <= from {
				return Hours{}, fmt.Errorf("%q ends before it starts (a range cannot cross midnight)", span)
			}
			for _, d := range days {
				h.windows = append(h.windows, window{day: d, from: from, to: to})
			}
		}
	}
	slices.SortFunc(h.windows, func(a, b window) int {
		if a.day != b.day {
			return int(a.day) - int(b.day)
		}
		return a.from - b.from
	})
	return h, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if a, b, ok := strings.Cut(part, "-"); ok {
			from, ok1 := dayNames[a]
			to, ok2 := dayNames[b]
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%q is not a range of days (T2…T7, CN or Mon…Sun)", part)
			}
			for d := from; ; d = (d + 1) % 7 {
				out = append(out, d)
				if d == to {
					break
				}
			}
			continue
		}
		d, ok := dayNames[part]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (T2…T7, CN or Mon…Sun)", part)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) || len(mm) != 2 {
		return 0, fmt.Errorf("%q is not a time like 07:30", s)
	}
	return h*60 + m, nil
}

// Always reports whether the schedule is always open (none was set).
func (h Hours) Always() bool { return len(h.windows) == 0 }

// String is the schedule as it was written.
func (h Hours) String() string { return h.raw }

// Open reports whether volunteers are on duty at t.
func (h Hours) Open(t time.Time) bool {
	if h.Always() {
		return true
	}
	t = t.In(h.Loc)
	m := t.Hour()*60 + t.Minute()
	for _, w := range h.windows {
		if w.day == t.Weekday() && m >= w.from && m < w.to {
			return true
		}
	}
	return false
}

// Next returns when the next duty period starts at or after t (t itself
// when open now), in the schedule's time zone.
func (h Hours) Next(t time.Time) time.Time {
	if h.Open(t) {
		return t
	}
	t = t.In(h.Loc)
	for days := 0; days <= 7; days++ {
		day := time.Date(t.Year(), t.Month(), t.Day()+days, 0, 0, 0, 0, h.Loc)
		for _, w := range h.windows {
			if w.day != day.Weekday() {
				continue
			}
			start := day.Add(time.Duration(w.from) * time.Minute)
			if start.After(t) {
				return start
			}
		}
	}
	return t // unreachable with at least one window
}
