package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/bot/handoff"
)

// What residents get beyond the flows: their commune/ward (the areas file)
// and their place in the volunteers' queue.

// loadAreas reads GOCUA_AREAS_FILE, or the bundled sample when it is unset.
func loadAreas(file string, log *slog.Logger) (*areas.Set, error) {
	if file == "" {
		s := areas.Sample()
		log.Warn("areas: GOCUA_AREAS_FILE is unset, using the bundled SAMPLE (Thành phố Huế): check it before serving real residents",
			"file", areas.SampleName, "areas", s.Len())
		return s, nil
	}
	s, err := areas.LoadFile(file)
	if err != nil {
		return nil, err
	}
	log.Info("areas loaded", "file", file, "province", s.Province().Name, "areas", s.Len())
	return s, nil
}

// queueEvery is how often waiting residents' places are looked at, unless
// Main.QueueEvery says otherwise.
const queueEvery = time.Minute

// runQueue tells waiting residents when their place improved, until ctx ends.
func (m *Main) runQueue(ctx context.Context, q *handoff.Queue) {
	every := m.QueueEvery
	if every <= 0 {
		every = queueEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		msgs, err := q.Sweep(ctx, m.Service.Flows(), time.Now())
		if err != nil {
			if ctx.Err() == nil {
				m.Log.Warn("queue notices", "err", err)
			}
			continue
		}
		for _, msg := range msgs {
			if err := m.Service.Relay(ctx, msg.ID, []bot.Outbound{msg}); err != nil && ctx.Err() == nil {
				m.Log.Warn("queue notice not sent", "to", msg.Key.String(), "err", err)
			}
		}
	}
}
