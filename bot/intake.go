package bot

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/flows"
)

// Before a ticket opens the core asks at most two short questions, with
// buttons: what the problem is (skipped when the flow the resident was in
// has a topic) and their commune/ward (skipped when known, or when no areas
// are configured; "Bỏ qua" skips it). Then the handoff step's message is
// shown and the ticket opens with both. Everything here is pure: the turn
// decides, Handle does the I/O.

// Topics are the desk categories a resident picks from: their names are
// locale texts desk_category_<topic>.
var Topics = []string{"vneid", "dvc", "scam", "other"}

// Intake is a request for a volunteer whose questions are being asked.
type Intake struct {
	Flow   string `json:"f,omitempty"` // where the resident was (flows.Handoff)
	Step   string `json:"s,omitempty"`
	Reason string `json:"r,omitempty"`
	At     string `json:"a,omitempty"` // the handoff step, whose message opens the ticket
	Topic  string `json:"t,omitempty"`
	// Skipped: the resident tapped "Bỏ qua" at the area question.
	Skipped bool `json:"k,omitempty"`
	Page    int  `json:"p,omitempty"` // the page of areas shown
	// Notes are what the resident typed meanwhile (masked), for the ticket.
	Notes []string `json:"n,omitempty"`
}

// Intake limits.
const (
	areasPerPage = 8
	maxNotes     = 5
	maxNote      = 500 // runes
)

// Button data of the questions: "in:" and a verb.
const (
	dataIntake     = "in:"
	dataIntakeTop  = "in:t:" // + topic
	dataIntakeArea = "in:a:" // + area code
	dataIntakeIdx  = "in:i:" // + index in the areas file (a code too long for a button)
	dataIntakePage = "in:p:" // + page
	dataIntakeSkip = "in:skip"
)

func (t *turn) areas() *areas.Set {
	if a := t.svc.cfg.Areas; a != nil && a.Len() > 0 {
		return a
	}
	return nil
}

// startIntake takes over a handoff the flows asked for: the handoff
// message (the flows' last output) waits until the questions are answered.
func (t *turn) startIntake(h *flows.Handoff) {
	in := &Intake{Flow: h.Flow, Step: h.Step, Reason: h.Reason, At: h.At}
	if f, ok := t.set.Flow(h.Flow); ok && slices.Contains(Topics, f.Topic) {
		in.Topic = f.Topic
	}
	if len(t.out) > 0 {
		t.out = t.out[:len(t.out)-1]
	}
	t.conv.Intake = in
	t.intakeNext()
}

// intakeNext asks the next question, or opens the ticket.
func (t *turn) intakeNext() {
	in := t.conv.Intake
	switch {
	case in.Topic == "":
		t.askTopic()
	case t.conv.Area == "" && !in.Skipped && t.areas() != nil:
		t.askPage("intake_area", in.Page)
	default:
		t.openTicket()
	}
}

// openTicket asks the store for the ticket and shows the handoff message.
func (t *turn) openTicket() {
	in := t.conv.Intake
	t.conv.Intake = nil
	h := &flows.Handoff{Flow: in.Flow, Step: in.Step, Reason: in.Reason, At: in.At}
	vars := t.conv.Flow.Vars
	t.handoff = &TicketRequest{Flow: h.Flow, Step: h.Step, Reason: h.Reason, Summary: summary(h, vars),
		Vars: maskedVars(vars), Topic: in.Topic, Area: t.conv.Area}
	for _, n := range in.Notes {
		t.note(n)
	}
	out, ok := t.set.HandoffOutput(in.At, t.lang(), t.vars())
	if !ok { // the content changed meanwhile: the volunteer flow's own message
		if f, found := t.set.Flow(flows.VolunteerFlow); found {
			out, ok = t.set.HandoffOutput(f.ID+"/"+f.Start, t.lang(), t.vars())
		}
	}
	if !ok {
		out = flows.Output{Text: t.text("handoff_waiting"), Buttons: [][]flows.Button{{t.cancelButton()}}}
	}
	t.out = append(t.out, out)
}

func (t *turn) vars() map[string]string {
	v := map[string]string{"name": t.in.Name}
	if n := t.conv.Flow.Vars["name"]; n != "" {
		v["name"] = n
	}
	return v
}

func (t *turn) menuButton() flows.Button {
	return flows.Button{Text: t.text("nav_menu"), Data: "nav:menu"}
}

func (t *turn) askTopic() {
	rows := make([][]flows.Button, 0, len(Topics)+1)
	for _, c := range Topics {
		rows = append(rows, []flows.Button{{Text: t.text("desk_category_" + c), Data: dataIntakeTop + c}})
	}
	rows = append(rows, []flows.Button{t.menuButton()})
	t.out = append(t.out, flows.Output{Text: t.text("intake_topic"), Buttons: rows})
}

// areaPage is page n of the areas (clamped), with the buttons to turn it.
func (t *turn) areaPage(n int) ([]areas.Area, []flows.Button) {
	all := t.areas().All()
	pages := (len(all) + areasPerPage - 1) / areasPerPage
	n = min(max(n, 0), pages-1)
	t.conv.Intake.Page = n
	var turn []flows.Button
	if n > 0 {
		turn = append(turn, flows.Button{Text: t.text("intake_prev"), Data: dataIntakePage + strconv.Itoa(n-1)})
	}
	if n < pages-1 {
		turn = append(turn, flows.Button{Text: t.text("intake_more"), Data: dataIntakePage + strconv.Itoa(n+1)})
	}
	return all[n*areasPerPage : min((n+1)*areasPerPage, len(all))], turn
}

// askPage asks the area question with page n of the areas.
func (t *turn) askPage(key string, n int) {
	list, turn := t.areaPage(n)
	t.askArea(key, list, turn)
}

// askArea shows a list of areas, two a row, then the page buttons, "Bỏ
// qua" and the main menu.
func (t *turn) askArea(key string, list []areas.Area, turn []flows.Button) {
	var rows [][]flows.Button
	for i, a := range list {
		b := flows.Button{Text: a.Name, Data: t.areaData(a.Code)}
		if i%2 == 0 {
			rows = append(rows, []flows.Button{b})
		} else {
			rows[len(rows)-1] = append(rows[len(rows)-1], b)
		}
	}
	if len(turn) > 0 {
		rows = append(rows, turn)
	}
	rows = append(rows, []flows.Button{{Text: t.text("intake_skip"), Data: dataIntakeSkip}, t.menuButton()})
	t.out = append(t.out, flows.Output{Text: t.text(key), Buttons: rows})
}

// areaData is an area's button data: its code, or its place in the file
// when the code is too long for a button.
func (t *turn) areaData(code string) string {
	if len(dataIntakeArea)+len(code) <= flows.MaxCallbackData {
		return dataIntakeArea + code
	}
	i := slices.IndexFunc(t.areas().All(), func(a areas.Area) bool { return a.Code == code })
	return dataIntakeIdx + strconv.Itoa(i)
}

// setArea makes code the resident's area (recorded by Handle).
func (t *turn) setArea(code string) {
	t.conv.Area = code
	t.newArea = &code
}

// intakeTap handles a tap on a question's button. A button of a question
// no longer asked (a double tap, an old message) is answered as stale.
func (t *turn) intakeTap(data string) {
	in := t.conv.Intake
	if in == nil {
		if t.waiting() {
			t.noticeWaiting()
			return
		}
		t.advance(flows.Input{Kind: flows.InputButton, Data: data, Name: t.in.Name}) // the flows' stale answer
		return
	}
	switch {
	case strings.HasPrefix(data, dataIntakeTop):
		topic := strings.TrimPrefix(data, dataIntakeTop)
		if !slices.Contains(Topics, topic) {
			t.intakeStale()
			return
		}
		in.Topic = topic
	case strings.HasPrefix(data, dataIntakeArea), strings.HasPrefix(data, dataIntakeIdx):
		a, ok := t.areaOf(data)
		if !ok {
			t.intakeStale()
			return
		}
		t.setArea(a.Code)
	case strings.HasPrefix(data, dataIntakePage):
		n, err := strconv.Atoi(strings.TrimPrefix(data, dataIntakePage))
		if err != nil || t.areas() == nil || in.Topic == "" {
			t.intakeStale()
			return
		}
		t.askPage("intake_area", n)
		return
	case data == dataIntakeSkip:
		in.Skipped = true
	default:
		t.intakeStale()
		return
	}
	t.intakeNext()
}

func (t *turn) areaOf(data string) (areas.Area, bool) {
	set := t.areas()
	if set == nil {
		return areas.Area{}, false
	}
	if code, ok := strings.CutPrefix(data, dataIntakeArea); ok {
		return set.Lookup(code)
	}
	i, err := strconv.Atoi(strings.TrimPrefix(data, dataIntakeIdx))
	all := set.All()
	if err != nil || i < 0 || i >= len(all) {
		return areas.Area{}, false
	}
	return all[i], true
}

// intakeStale answers a button that matches nothing: the question again.
func (t *turn) intakeStale() {
	t.out = append(t.out, flows.Output{Text: t.text("stale_button")})
	t.intakeNext()
}

// intakeText reads typed text at a question: a topic's name or number, or
// part of an area's name. Other text at the topic question is kept for the
// volunteer and counted as "other".
func (t *turn) intakeText(text string) {
	in := t.conv.Intake
	key := flows.MatchKey(text)
	if in.Topic == "" {
		in.Topic = t.typedTopic(key)
		if in.Topic == "" {
			in.Topic = "other"
			t.keepNote(text)
		}
		t.intakeNext()
		return
	}
	for _, l := range t.set.Langs() {
		if key != "" && key == flows.MatchKey(t.set.Text(l, "intake_skip", nil)) {
			in.Skipped = true
			t.intakeNext()
			return
		}
	}
	hits := t.areas().Match(text, areasPerPage)
	switch {
	case len(hits) == 0 && len(strings.Fields(key)) >= 4:
		// a sentence, not a name: what the problem is, for the volunteer;
		// the resident is not held up by the question
		t.keepNote(text)
		in.Skipped = true
		t.intakeNext()
	case len(hits) == 0:
		t.askPage("intake_area_none", in.Page)
	case len(hits) == 1:
		t.setArea(hits[0].Code)
		t.intakeNext()
	default:
		t.askArea("intake_area_pick", hits, nil)
	}
}

// typedTopic is the topic whose number, value or name (in any language)
// the match key is or contains, or "".
func (t *turn) typedTopic(key string) string {
	if n, err := strconv.Atoi(key); err == nil && n >= 1 && n <= len(Topics) {
		return Topics[n-1]
	}
	for _, c := range Topics {
		names := []string{c}
		for _, l := range t.set.Langs() {
			names = append(names, flows.MatchKey(t.set.Text(l, "desk_category_"+c, nil)))
		}
		for _, n := range names {
			if n != "" && strings.Contains(" "+key+" ", " "+n+" ") {
				return c
			}
		}
	}
	return ""
}

func (t *turn) keepNote(text string) {
	in := t.conv.Intake
	n := strings.TrimSpace(MaskPII(text))
	if n == "" || len(in.Notes) >= maxNotes {
		return
	}
	if r := []rune(n); len(r) > maxNote {
		n = string(r[:maxNote])
	}
	in.Notes = append(in.Notes, n)
}

// startArea handles /start <area code> (a QR poster's link): a known code
// becomes the resident's area; anything else is left to the flows (a flow's
// deep link, or just the greeting).
func (t *turn) startArea(args string) (string, bool) {
	set := t.areas()
	if set == nil {
		return "", false
	}
	a, ok := set.Lookup(strings.ToLower(strings.TrimSpace(args)))
	if !ok {
		return "", false
	}
	t.setArea(a.Code)
	return a.Name, true
}

// place is what {office_police} and {office_public_service} say for the
// resident: their area's office, the area's name, or a general text.
func (t *turn) place() map[string]string {
	var area areas.Area
	known := false
	if set := t.areas(); set != nil && t.conv.Area != "" {
		area, known = set.Lookup(t.conv.Area)
	}
	p := make(map[string]string, 2)
	for _, k := range []struct {
		kind areas.OfficeKind
		name string
	}{{areas.OfficePolice, "office_police"}, {areas.OfficePublicService, "office_public_service"}} {
		switch o, ok := area.Office(k.kind); {
		case !known:
			p[k.name] = t.text(k.name + "_unknown")
		case ok && o.Address != "":
			p[k.name] = t.set.Text(t.lang(), "office_with_address", map[string]string{"office": o.Name, "address": o.Address})
		case ok:
			p[k.name] = o.Name
		default:
			p[k.name] = t.set.Text(t.lang(), k.name+"_area", map[string]string{"area": area.Name})
		}
	}
	return p
}

// QueueInfo is where a waiting ticket stands.
type QueueInfo struct {
	Position int           // 1 = next to be taken
	Wait     time.Duration // expected wait from recent tickets; 0 when there is no data
	// Closed says volunteers are off duty now; Opens is when they are
	// next on duty (in the schedule's time zone), and Today whether that
	// is the same calendar day as now there.
	Closed bool
	Opens  time.Time
	Today  bool
}

// Queue tells where a waiting ticket stands (bot/handoff implements it).
type Queue interface {
	Queued(ctx context.Context, ticket int64, now time.Time) (QueueInfo, error)
}

// QueueText is what a resident is told about their place in the queue:
// desk_queued with the expected wait in minutes, or desk_queued_first
// (the position only) when there is no recent wait to go by.
func QueueText(set *flows.Set, lang string, q QueueInfo) string {
	pos := strconv.Itoa(max(q.Position, 1))
	if q.Closed {
		// honest about when someone will read it; the request waits
		day := set.Text(lang, "day_"+strconv.Itoa(int(q.Opens.Weekday())), nil)
		if q.Today {
			day = set.Text(lang, "day_today", nil)
		}
		return set.Text(lang, "desk_closed_hours", map[string]string{"position": pos,
			"time": q.Opens.Format("15:04"), "day": day})
	}
	if q.Wait <= 0 {
		return set.Text(lang, "desk_queued_first", map[string]string{"position": pos})
	}
	mins := max(int((q.Wait+time.Minute-1)/time.Minute), 1)
	return set.Text(lang, "desk_queued", map[string]string{"position": pos, "minutes": strconv.Itoa(mins)})
}
