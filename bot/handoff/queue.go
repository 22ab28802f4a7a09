package handoff

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// Queue tells residents where their waiting ticket stands: when it opens
// (bot.Queue, asked by the conversation loop) and again when it moved
// meaningfully — two places or more forward, at most once per the gap
// given to NewQueue — from Sweep. The expected wait is the median of the last 20 real waits of
// the past 7 days; with none, only the position is told.
type Queue struct {
	st Store
	// Hours is when volunteers are on duty (nil: always).
	Hours Schedule
	// minGap is the least time between two notices to one resident.
	minGap time.Duration

	mu   sync.Mutex
	told map[int64]told // waiting ticket → what its resident was last told
}

type told struct {
	pos int
	at  time.Time
}

var _ bot.Queue = (*Queue)(nil)

// Schedule is when volunteers are on duty (config.Hours).
type Schedule interface {
	Open(t time.Time) bool
	// Next is when the next duty period starts at or after t, in the
	// schedule's time zone.
	Next(t time.Time) time.Time
}

// Recent waits the estimate is made of.
const (
	waitSample = 20
	waitWindow = 7 * 24 * time.Hour
	// queueScan bounds how many waiting tickets a sweep looks at.
	queueScan = 200
)

// NewQueue builds the notices on st; minGap ≤ 0 means 10 minutes.
func NewQueue(st Store, minGap time.Duration) *Queue {
	if minGap <= 0 {
		minGap = 10 * time.Minute
	}
	return &Queue{st: st, minGap: minGap, told: map[int64]told{}}
}

// Median is the middle of ds (the mean of the two middle ones for an even
// count); 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func (q *Queue) wait(ctx context.Context, now time.Time) (time.Duration, error) {
	waits, err := q.st.RecentWaits(ctx, now.Add(-waitWindow), waitSample)
	if err != nil {
		return 0, fmtErr("recent waits", err)
	}
	return Median(waits), nil
}

// Queued implements bot.Queue: the ticket's place (1 = next) and the
// expected wait. It remembers what was told, so Sweep says nothing until
// the place improves.
func (q *Queue) Queued(ctx context.Context, id int64, now time.Time) (bot.QueueInfo, error) {
	before, err := q.st.Position(ctx, id)
	if err != nil {
		return bot.QueueInfo{}, fmtErr("position", err)
	}
	w, err := q.wait(ctx, now)
	if err != nil {
		return bot.QueueInfo{}, err
	}
	info := bot.QueueInfo{Position: before + 1, Wait: w}
	if q.Hours != nil && !q.Hours.Open(now) {
		info.Closed, info.Opens = true, q.Hours.Next(now)
		local := now.In(info.Opens.Location())
		info.Today = local.YearDay() == info.Opens.YearDay() && local.Year() == info.Opens.Year()
	}
	q.mu.Lock()
	q.told[id] = told{info.Position, now}
	q.mu.Unlock()
	return info, nil
}

// Sweep returns the notices due now, one per resident whose ticket moved
// two places or more forward since they were last told (and not within
// gap). Each notice's ID names the ticket and the place, so that two
// replicas sweeping at once append it once (bot.Service.Notify). A ticket
// this process has not told about yet is only remembered.
func (q *Queue) Sweep(ctx context.Context, set *flows.Set, now time.Time) ([]bot.Outbound, error) {
	if q.Hours != nil && !q.Hours.Open(now) {
		return nil, nil // off duty: nothing moves, and an estimate would mislead
	}
	waiting, err := q.st.Waiting(ctx, queueScan)
	if err != nil {
		return nil, fmtErr("queue", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []int // indexes into waiting
	open := make(map[int64]bool, len(waiting))
	for i, t := range waiting {
		open[t.ID] = true
		pos := i + 1
		last, ok := q.told[t.ID]
		switch {
		case !ok:
			q.told[t.ID] = told{pos, now}
		case last.pos-pos >= 2 && now.Sub(last.at) >= q.minGap:
			due = append(due, i)
		}
	}
	if len(waiting) < queueScan {
		for id := range q.told {
			if !open[id] {
				delete(q.told, id)
			}
		}
	}
	if len(due) == 0 {
		return nil, nil
	}
	w, err := q.wait(ctx, now)
	if err != nil {
		return nil, err
	}
	out := make([]bot.Outbound, 0, len(due))
	for _, i := range due {
		t := waiting[i]
		info := bot.QueueInfo{Position: i + 1, Wait: w}
		q.told[t.ID] = told{info.Position, now}
		lang := t.Lang
		if lang == "" {
			lang = "vi"
		}
		out = append(out, bot.Outbound{ID: "queue:" + id(t.ID) + ":" + strconv.Itoa(info.Position), Key: t.Resident,
			Text: bot.QueueText(set, lang, info), Lane: bot.LaneBulk})
	}
	return out, nil
}
