package bot

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/flows"
)

// Reserved button data handled by the core rather than the flow engine.
const (
	dataCancelTicket = "nav:cancel"
	dataUnremind     = "rmx:" // + reminder id: cancel that reminder
)

// turn is the pure part of handling one update: from the conversation and the
// input it decides the replies, flow events, ticket and transcript changes.
// Handle does the I/O around it.
type turn struct {
	svc  *Service
	set  *flows.Set
	conv Conversation
	in   Inbound
	now  time.Time

	out        []flows.Output
	events     []flows.Event
	handoff    *TicketRequest
	transcript []TranscriptLine
	cancel     bool          // the resident cancelled their waiting ticket
	consent    *Consent      // the resident answered about broadcasts (or sent /stop)
	tapRun     int64         // the resident tapped a button of this broadcast run
	remind     *flows.Remind // the resident asked to be reminded
	unremind   int64         // the resident cancelled this reminder
	stop       bool          // /stop: no more announcements or reminders
	newArea    *string       // the resident chose their commune/ward
}

func (t *turn) lang() string { return t.conv.Flow.Lang }

func (t *turn) text(key string) string {
	return t.set.Text(t.lang(), key, map[string]string{"name": t.in.Name})
}

// say adds a core message with the way-out buttons a waiting resident needs.
func (t *turn) say(key string, extra ...flows.Button) {
	row := append(extra, flows.Button{Text: t.text("nav_menu"), Data: "nav:menu"})
	if t.conv.Ticket == 0 {
		row = append(row, flows.Button{Text: t.text("nav_human"), Data: "nav:human"})
	}
	t.out = append(t.out, flows.Output{Text: t.text(key), Buttons: [][]flows.Button{row}})
}

func (t *turn) waiting() bool { return t.conv.Ticket != 0 }

// quiet reports that a person outside gocua answers this resident now.
func (t *turn) quiet() bool { return t.now.Before(t.conv.Quiet) }

func (t *turn) cancelButton() flows.Button {
	return flows.Button{Text: t.text("handoff_cancel"), Data: dataCancelTicket}
}

func (t *turn) run() {
	in := t.in
	switch in.Kind {
	case InCommand, InButton:
		t.conv.Quiet = time.Time{} // the resident asks the bot again
	}
	switch in.Kind {
	case InTakeover:
		t.conv.Quiet = t.now.Add(cmp.Or(t.svc.cfg.TakeoverQuiet, 30*time.Minute))
		if t.waiting() {
			t.transcript = append(t.transcript, TranscriptLine{From: "volunteer", Text: MaskPII(in.Text), At: t.now})
		}
		return
	case InProtected:
		if t.waiting() {
			t.noticeWaiting()
			return
		}
		t.say("protected")
		return
	case InEdited:
		t.say("edited")
	case InMedia:
		if t.waiting() {
			t.note("📎 " + MaskPII(in.Text))
			t.noticeWaiting()
			return
		}
		if t.quiet() {
			return
		}
		t.say("media")
		if t.conv.Intake != nil {
			t.intakeNext()
		}
	case InCommand:
		switch in.Command {
		case "huy", "cancel":
			if t.conv.Intake != nil && !t.waiting() {
				t.conv.Intake = nil
				t.say("handoff_cancelled")
				return
			}
			t.cancelTicket()
		case "stop":
			t.consent, t.stop = new(ConsentNo), true
			t.say("stopped")
		default:
			t.conv.Intake = nil
			args, area := in.Args, ""
			if in.Command == "start" {
				if name, ok := t.startArea(args); ok {
					args, area = "", name
				}
			}
			t.advance(flows.Input{Kind: commandKind(in.Command), Command: in.Command, Args: args, Name: in.Name})
			if area != "" && len(t.out) > 0 { // before the menu, which stays last
				msg := flows.Output{Text: t.set.Text(t.lang(), "area_set", map[string]string{"area": area})}
				t.out = slices.Insert(t.out, len(t.out)-1, msg)
			}
		}
	case InButton:
		if in.Data == dataCancelTicket {
			if t.conv.Intake != nil && !t.waiting() {
				t.conv.Intake = nil
				t.say("handoff_cancelled")
				return
			}
			t.cancelTicket()
			return
		}
		if strings.HasPrefix(in.Data, dataIntake) {
			t.intakeTap(in.Data)
			return
		}
		if id, ok := strings.CutPrefix(in.Data, dataUnremind); ok {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
				t.unremind = n
				return
			}
		}
		if run, target, ok := ParseTap(in.Data); ok { // a broadcast's button: open its step
			t.tapRun = run
			t.conv.Intake = nil
			t.advance(flows.Input{Kind: flows.InputButton, Data: flows.DataOpen(target), Name: in.Name})
			return
		}
		t.conv.Intake = nil
		t.advance(flows.Input{Kind: flows.InputButton, Data: in.Data, Name: in.Name})
	default: // InText
		pii := ScanPII(in.Text)
		if t.waiting() {
			t.note(MaskPII(in.Text))
		}
		if pii.Warn() {
			t.say("pii_warning")
			return
		}
		if t.waiting() {
			t.noticeWaiting()
			return
		}
		if t.quiet() {
			return
		}
		if t.conv.Intake != nil {
			if !t.set.WayOut(in.Text) {
				t.intakeText(in.Text)
				return
			}
			t.conv.Intake = nil
		}
		t.advance(flows.Input{Kind: flows.InputText, Text: in.Text, Name: in.Name})
	}
	t.askConsent()
}

// askConsent asks a resident who never said whether they want broadcasts
// and reminders: on /start right after the greeting (a new resident's first
// message), otherwise once per conversation when they are back at the main
// menu, never in the middle of a guide or a request for a volunteer. After
// /stop only /start asks again.
func (t *turn) askConsent() {
	if t.svc.cfg.Preferences == nil || t.consent != nil || t.waiting() || t.conv.Intake != nil || len(t.out) == 0 ||
		t.in.Kind == InMedia || t.in.Kind == InEdited {
		return
	}
	start := t.in.Kind == InCommand && t.in.Command == "start"
	switch t.conv.Consent {
	case ConsentUnasked:
		if !start && (t.conv.ConsentAsked || t.conv.Flow.Flow != "") {
			return
		}
	case ConsentNo:
		if !start {
			return
		}
	default: // yes, or nothing known (no durable store)
		return
	}
	q := t.set.ConsentQuestion(t.lang())
	if start {
		t.out = slices.Insert(t.out, 1, q) // after the greeting
	} else {
		t.out = append(t.out, q)
	}
	t.conv.ConsentAsked = true
}

func commandKind(cmd string) flows.InputKind {
	if cmd == "start" {
		return flows.InputStart
	}
	return flows.InputCommand
}

func (t *turn) advance(in flows.Input) {
	in.Place = t.place()
	res := t.set.Advance(t.conv.Flow, in, t.now)
	t.conv.Flow = res.State
	t.out = append(t.out, res.Out...)
	if res.Consent != "" {
		c := Consent(res.Consent)
		t.consent = &c
	}
	t.remind = res.Remind
	t.events = append(t.events, res.Events...)
	h := res.Handoff
	switch {
	case h == nil:
	case !t.waiting():
		// a question or two first (see intake.go)
		t.startIntake(h)
	default: // joins the waiting ticket
		t.handoff = &TicketRequest{
			Flow: h.Flow, Step: h.Step, Reason: h.Reason,
			Summary: summary(h, res.State.Vars),
			Vars:    maskedVars(res.State.Vars),
			Area:    t.conv.Area,
		}
	}
}

// note appends a resident's message to the waiting ticket's transcript.
func (t *turn) note(text string) {
	t.transcript = append(t.transcript, TranscriptLine{From: "resident", Text: text, At: t.now})
}

// noticeWaiting tells a resident writing to a waiting ticket that the message
// was kept, at most once per WaitingNotice so a flurry gets one answer.
func (t *turn) noticeWaiting() {
	if !t.conv.Noticed.IsZero() && t.now.Sub(t.conv.Noticed) < t.svc.cfg.WaitingNotice {
		return
	}
	t.conv.Noticed = t.now
	t.say("handoff_waiting", t.cancelButton())
}

func (t *turn) cancelTicket() {
	if !t.waiting() {
		t.say("handoff_none")
		return
	}
	t.cancel = true
	t.say("handoff_cancelled")
}

func summary(h *flows.Handoff, vars map[string]string) string {
	var b strings.Builder
	b.WriteString(h.Flow + "/" + h.Step)
	if h.Reason != "" {
		b.WriteString(": " + h.Reason)
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if k == "name" {
			continue
		}
		b.WriteString("; " + k + "=" + MaskPII(vars[k]))
	}
	return b.String()
}

func maskedVars(vars map[string]string) map[string]string {
	if len(vars) == 0 {
		return nil
	}
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = MaskPII(v)
	}
	return out
}
