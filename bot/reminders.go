package bot

import (
	"context"
	"errors"
	"time"
)

// A personal reminder: a resident asked a flow step to remind them later
// ("Nhắc tôi sau": tomorrow morning, in three days, on a date). It arrives
// once, at its time in the deployment's timezone, with a button that
// resumes the flow at the step the content names; the resident can cancel
// it before then.

// ReminderState is where a reminder stands. Values are stable: they are
// stored.
type ReminderState string

const (
	ReminderScheduled ReminderState = "scheduled"
	ReminderSending   ReminderState = "sending" // claimed by a process to be sent
	ReminderSent      ReminderState = "sent"
	ReminderCancelled ReminderState = "cancelled"
)

// Reminder is one personal reminder.
type Reminder struct {
	ID   int64
	Key  ConvKey
	Lang string
	// Flow and Step are where the reminder's button takes the resident.
	Flow, Step string
	Due        time.Time
	State      ReminderState
	// Update is the update that asked for it: asking again with the same
	// update (a re-delivery) schedules nothing twice.
	Update  string
	Created time.Time
}

// Reminders keeps personal reminders (the durable stores).
type Reminders interface {
	// ScheduleReminder stores r (State scheduled) once per (Key, Update)
	// and returns its id; a second call with the same Key and Update
	// returns the first one's id.
	ScheduleReminder(ctx context.Context, r Reminder) (int64, error)
	// CancelReminder cancels reminder id of key if it is still scheduled
	// (ErrNotFound when key has no such reminder; a reminder already sent
	// or cancelled is not an error: cancelled reports whether this call
	// cancelled it).
	CancelReminder(ctx context.Context, key ConvKey, id int64, at time.Time) (cancelled bool, err error)
	// CancelReminders cancels every scheduled reminder of key (/stop),
	// returning how many.
	CancelReminders(ctx context.Context, key ConvKey, at time.Time) (int, error)
}

// ErrNoReminder is returned for a reminder that does not exist (or is not
// the resident's).
var ErrNoReminder = errors.New("bot: no such reminder")
