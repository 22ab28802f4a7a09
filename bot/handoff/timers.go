package handoff

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// SLA are the desk's timers.
type SLA struct {
	// Unclaimed: a ticket nobody took for this long is recalled in the
	// group and to the organizers (default 10 minutes).
	Unclaimed time.Duration
	// SilentVolunteer: an assigned ticket whose resident has had no answer
	// for this long goes back to the queue, and the resident is told
	// (default 15 minutes).
	SilentVolunteer time.Duration
	// SilentResident: a resident who has not answered the volunteer's last
	// message for this long is taken to have left: the ticket is closed as
	// abandoned, with a message (default 30 minutes).
	SilentResident time.Duration
}

func (s SLA) withDefaults() SLA {
	if s.Unclaimed <= 0 {
		s.Unclaimed = 10 * time.Minute
	}
	if s.SilentVolunteer <= 0 {
		s.SilentVolunteer = 15 * time.Minute
	}
	if s.SilentResident <= 0 {
		s.SilentResident = 30 * time.Minute
	}
	return s
}

// Relay appends messages to other conversations' outboxes once per marker
// and hands them to their senders (bot.Service.Relay).
type Relay func(ctx context.Context, marker string, msgs []bot.Outbound) error

// Deps is what Run needs from the rest of the process.
type Deps struct {
	Flows  func() *flows.Set // the current flows, for texts
	Poster Poster            // the volunteers' group (nil: no group view)
	Relay  Relay
}

// Run keeps the group's view, the timers and the transcript retention
// until ctx ends. Replicas share the work through a lock: one at a time
// does it, another takes over within a few ticks when it stops.
func (d *Desk) Run(ctx context.Context, deps Deps) {
	d.poster = deps.Poster
	t := time.NewTicker(d.cfg.Tick)
	defer t.Stop()
	lock := "desk:" + d.cfg.Group.String()
	var purged time.Time
	for {
		if held, err := d.coord.Lock(ctx, lock, 3*d.cfg.Tick+time.Second); err != nil {
			d.log.Warn("desk: lock", "err", err)
		} else if held {
			now := d.cfg.Now()
			set := deps.Flows()
			if err := d.timers(ctx, set, now, deps.Relay); err != nil && ctx.Err() == nil {
				d.log.Warn("desk: timers", "err", err)
			}
			if err := d.refreshBoard(ctx, set, now); err != nil && ctx.Err() == nil {
				d.log.Warn("desk: group view", "err", err)
			}
			if d.cfg.TranscriptDays > 0 && now.Sub(purged) > time.Hour {
				if err := d.retain(ctx, now); err != nil && ctx.Err() == nil {
					d.log.Warn("desk: transcript retention", "err", err)
				} else if err == nil {
					purged = now
				}
			}
		}
		select {
		case <-ctx.Done():
			// let another replica take over at once
			_ = d.coord.Unlock(context.WithoutCancel(ctx), lock)
			return
		case <-t.C:
		}
	}
}

// retain deletes the transcripts (and what goes with them) older than
// TranscriptDays.
func (d *Desk) retain(ctx context.Context, now time.Time) error {
	before := now.AddDate(0, 0, -d.cfg.TranscriptDays)
	n, err := d.st.PurgeTranscripts(ctx, before)
	if err != nil {
		return err
	}
	for _, purge := range d.cfg.Retain {
		m, err := purge(ctx, before)
		if err != nil {
			return err
		}
		n += m
	}
	if n > 0 {
		d.log.Info("desk: old transcripts deleted", "rows", n, "days", d.cfg.TranscriptDays)
	}
	return nil
}

// Tick runs one round of Run's work now, holding the lock (tests).
func (d *Desk) Tick(ctx context.Context, deps Deps) error {
	d.poster = deps.Poster
	now := d.cfg.Now()
	if err := d.timers(ctx, deps.Flows(), now, deps.Relay); err != nil {
		return err
	}
	if err := d.refreshBoard(ctx, deps.Flows(), now); err != nil {
		return err
	}
	if d.cfg.TranscriptDays > 0 {
		return d.retain(ctx, now)
	}
	return nil
}

// Notes of the timers' moves; the volunteer's id follows "v=".
const (
	noteSilentVolunteer = "sla:silent_volunteer"
	noteSilentResident  = "sla:silent_resident"
)

// timers fires the SLA rules. Each state change is guarded by the state it
// leaves, so of two replicas (or a replica and a volunteer) one wins and
// the rule fires once; what it tells people is derived from the audit trail
// afterwards and appended once per audit entry, so a crash between the two
// still tells them, once.
func (d *Desk) timers(ctx context.Context, set *flows.Set, now time.Time, relay Relay) error {
	sla := d.cfg.SLA
	due, err := d.st.Due(ctx, now.Add(-sla.Unclaimed), now.Add(-sla.SilentVolunteer), now.Add(-sla.SilentResident), 100)
	if err != nil {
		return err
	}
	for _, t := range due.Unclaimed {
		if _, err := d.st.Remind(ctx, t.ID, now); err != nil {
			return err
		}
	}
	for _, t := range due.SilentVolunteer {
		if err := d.systemMove(ctx, t, Waiting, noteSilentVolunteer, now); err != nil {
			return err
		}
	}
	for _, t := range due.SilentResident {
		if err := d.systemMove(ctx, t, Abandoned, noteSilentResident, now); err != nil {
			return err
		}
	}
	if relay == nil {
		return nil
	}
	if err := d.tellMoves(ctx, set, now, relay); err != nil {
		return err
	}
	return d.tellReminders(ctx, set, now, relay)
}

func (d *Desk) systemMove(ctx context.Context, t Ticket, to Status, note string, now time.Time) error {
	_, err := d.st.Move(ctx, Move{Ticket: t.ID, From: []Status{Assigned}, To: to, Volunteer: t.Volunteer,
		Actor: "system", Note: note + " v=" + id(t.Volunteer), At: now})
	if asMove(err) { // the volunteer or the resident acted first
		return nil
	}
	return err
}

// tellMoves tells the resident and the volunteer what the timers did.
func (d *Desk) tellMoves(ctx context.Context, set *flows.Set, now time.Time, relay Relay) error {
	moves, err := d.st.SystemMoves(ctx, d.lastAudit, now.Add(-time.Hour), 200)
	if err != nil {
		return err
	}
	for _, e := range moves {
		t, err := d.st.Ticket(ctx, e.Ticket)
		if err != nil {
			return err
		}
		marker := "sla:" + strconv.FormatInt(e.ID, 10)
		var msgs []bot.Outbound
		add := func(to bot.ConvKey, lang, key string, vs map[string]string, buttons ...[]bot.Button) {
			if lang == "" {
				lang = d.cfg.Lang
			}
			msgs = append(msgs, bot.Outbound{ID: marker + "/" + strconv.Itoa(len(msgs)), Key: to,
				Text: set.Text(lang, key, vs), Buttons: buttons})
		}
		var vol Volunteer
		if _, vid, ok := strings.Cut(e.Note, " v="); ok {
			if n, ok := parseID(vid); ok {
				vol, _ = d.st.VolunteerByID(ctx, n)
			}
		}
		switch {
		case strings.HasPrefix(e.Note, noteSilentVolunteer):
			add(t.Resident, t.Lang, "desk_released", nil)
			if vol.ID != 0 {
				add(vol.Chat, d.cfg.Lang, "desk_sla_released", vars("id", id(t.ID), "minutes", minutes(d.cfg.SLA.SilentVolunteer)))
			}
		case strings.HasPrefix(e.Note, noteSilentResident):
			add(t.Resident, t.Lang, "desk_abandoned", nil,
				[]bot.Button{{Text: set.Text(t.Lang, "nav_human", nil), Data: "nav:human"}, {Text: set.Text(t.Lang, "nav_menu", nil), Data: "nav:menu"}})
			if vol.ID != 0 {
				add(vol.Chat, d.cfg.Lang, "desk_sla_abandoned", vars("id", id(t.ID), "minutes", minutes(d.cfg.SLA.SilentResident)))
			}
		}
		if err := relay(ctx, marker, msgs); err != nil {
			return fmt.Errorf("tell ticket %d: %w", t.ID, err)
		}
		d.lastAudit = e.ID
	}
	return nil
}

// tellReminders recalls tickets nobody took: a message in the group (once)
// and one to each organizer.
func (d *Desk) tellReminders(ctx context.Context, set *flows.Set, now time.Time, relay Relay) error {
	reminded, err := d.st.Reminded(ctx, now.Add(-time.Hour), 200)
	if err != nil {
		return err
	}
	var organizers []Volunteer
	for i, t := range reminded {
		if t.Status != Waiting {
			continue
		}
		if i == 0 || organizers == nil {
			all, err := d.st.Volunteers(ctx)
			if err != nil {
				return err
			}
			organizers = []Volunteer{}
			for _, v := range all {
				if v.Organizer() {
					organizers = append(organizers, v)
				}
			}
		}
		text := set.Text(d.cfg.Lang, "desk_reminder", vars("id", id(t.ID), "where", t.Where(), "minutes", minutes(now.Sub(t.CreatedAt))))
		marker := "remind:" + id(t.ID)
		var msgs []bot.Outbound
		for _, o := range organizers {
			msgs = append(msgs, bot.Outbound{ID: marker + "/" + id(o.ID), Key: o.Chat, Text: text})
		}
		if len(msgs) > 0 {
			if err := relay(ctx, marker, msgs); err != nil {
				return err
			}
		}
		if d.poster != nil && d.cfg.Group != (bot.ConvKey{}) {
			// once per ticket, and only with a message of the limit to
			// spare: a reminder that must wait still shows on the board (⏰)
			posted := marker + ":" + d.cfg.Group.String()
			if v, err := d.coord.Value(ctx, posted); err != nil || v != "" {
				if err != nil {
					return err
				}
				continue
			}
			if ok, err := d.take(ctx); err != nil || !ok {
				return err
			}
			if err := d.coord.SetValue(ctx, posted, "1", 48*time.Hour); err != nil {
				return err
			}
			if _, err := d.poster.Post(ctx, d.cfg.Group.ChatID, text,
				[][]bot.Button{{{Text: set.Text(d.cfg.Lang, "desk_card_claim", vars("id", id(t.ID))), Data: dataClaim + id(t.ID)}}}); err != nil {
				return err
			}
		}
	}
	return nil
}
