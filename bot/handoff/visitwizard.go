package handoff

import (
	"cmp"
	"encoding/json"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/flows"
)

// A volunteer logs the help they gave in person with /visit, in a few taps:
// where (their own communes/wards first), what was done, for how many
// people, then Save. "/visit 3 vneid,level1" fills in the people and the
// actions at once (and saves when nothing else is needed). The draft lives
// in the chat's bot.DeskState.Visit; every button carries the wizard's id,
// so a button of a wizard saved, cancelled or started again is stale.

// visitDraft is a visit being logged, as bot.DeskState.Visit keeps it.
type visitDraft struct {
	Wizard  string   `json:"w"`           // its buttons carry it (wizardID)
	Step    string   `json:"s"`           // the screen shown last: what typed text answers
	Area    string   `json:"a,omitempty"` // the area chosen
	Actions []string `json:"x,omitempty"` // the actions chosen (VisitActions)
	People  int      `json:"n,omitempty"` // 0: not given yet
}

// The wizard's screens (visitDraft.Step).
const (
	visitStepArea    = "area"
	visitStepActions = "actions"
	visitStepPeople  = "people"
	visitStepConfirm = "confirm"
)

// The verbs of the wizard's buttons: dataVisit + wizard + ":" + verb, and
// for some ":" + an argument.
const (
	visitArea   = "a"  // + area code
	visitAreaAt = "i"  // + index in Config.Areas, for a code too long for a button
	visitPage   = "p"  // + page of the area list
	visitReArea = "ar" // choose the area again
	visitToggle = "x"  // + action: choose it or not
	visitOn     = "go" // the actions are chosen
	visitCount  = "n"  // + people
	visitSave   = "ok"
	visitCancel = "c"
)

// visitCounts are the people counts offered as buttons (any other is typed).
var visitCounts = []int{1, 2, 3, 4, 5, 10}

// visitAreasPerPage is how many areas a page of the area screen lists.
const visitAreasPerPage = 8

// wizardID names the wizard an update starts: short, and different from
// one /visit to the next.
func wizardID(in bot.Inbound) string {
	h := fnv.New32a()
	h.Write([]byte(noteKey(in)))
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// loadVisit returns the chat's draft (nil when there is none).
func (u *turn) loadVisit() *visitDraft {
	raw := u.plan.Conv.Desk.Visit
	if len(raw) == 0 {
		return nil
	}
	var d visitDraft
	if err := json.Unmarshal(raw, &d); err != nil || d.Wizard == "" {
		return nil // unreadable: as if there were none (its buttons are stale)
	}
	return &d
}

// keepVisit stores the draft in the chat's state (nil: forget it).
func (u *turn) keepVisit(d *visitDraft) {
	if d == nil {
		u.plan.Conv.Desk.Visit = nil
		return
	}
	u.plan.Conv.Desk.Visit, _ = json.Marshal(d) // plain strings and numbers always encode
}

// visitButton is a button of draft d's wizard.
func visitButton(d *visitDraft, label, verb string, arg ...string) bot.Button {
	return bot.Button{Text: label, Data: strings.Join(append([]string{dataVisit + d.Wizard, verb}, arg...), ":")}
}

// visitCancelButton ends draft d's wizard without saving.
func (u *turn) visitCancelButton(d *visitDraft) bot.Button {
	return visitButton(d, u.text("visit_cancel", nil), visitCancel)
}

// areasOn reports whether the deployment names the areas it serves.
func (u *turn) areasOn() bool { return u.d.cfg.Areas != nil && u.d.cfg.Areas.Len() > 0 }

// visit starts the wizard (/visit), filled in from its arguments.
func (u *turn) visit(v Volunteer) error {
	d := &visitDraft{Wizard: wizardID(u.t.In)}
	if own := u.ownAreas(v); len(own) == 1 {
		d.Area = own[0].Code // preselected, changeable
	}
	if args := strings.TrimSpace(u.t.In.Args); args != "" {
		var ok bool
		if d.People, d.Actions, ok = parseQuickVisit(args); !ok {
			u.reply(u.text("visit_usage", nil))
			return nil
		}
		if u.visitComplete(d) {
			return u.saveVisit(v, d)
		}
	}
	u.visitNext(v, d)
	return nil
}

// parseQuickVisit reads /visit's arguments: a number of people and
// actions, in any order, separated by spaces or commas ("3 vneid,level1").
func parseQuickVisit(args string) (people int, actions []string, ok bool) {
	sep := func(r rune) bool { return r == ',' || unicode.IsSpace(r) }
	for _, f := range strings.FieldsFunc(strings.ToLower(args), sep) {
		if n, err := strconv.Atoi(f); err == nil {
			if n < 1 || n > MaxVisitPeople || people != 0 {
				return 0, nil, false
			}
			people = n
			continue
		}
		if !slices.Contains(VisitActions, f) {
			return 0, nil, false
		}
		if !slices.Contains(actions, f) {
			actions = append(actions, f)
		}
	}
	return people, actions, true
}

// ownAreas are the configured areas v serves.
func (u *turn) ownAreas(v Volunteer) []areas.Area {
	if !u.areasOn() {
		return nil
	}
	var own []areas.Area
	for _, a := range u.d.cfg.Areas.All() {
		if slices.Contains(v.Areas, a.Code) {
			own = append(own, a)
		}
	}
	return own
}

// visitComplete reports whether d has everything a visit needs.
func (u *turn) visitComplete(d *visitDraft) bool {
	return (d.Area != "" || !u.areasOn()) && len(d.Actions) > 0 && d.People > 0
}

// visitNext shows the screen of the first thing d lacks, or the summary to
// save.
func (u *turn) visitNext(v Volunteer, d *visitDraft) {
	switch {
	case d.Area == "" && u.areasOn():
		u.visitAreaScreen(v, d, 0, "")
	case len(d.Actions) == 0:
		u.visitActionsScreen(d)
	case d.People == 0:
		u.visitPeopleScreen(d, "visit_people")
	default:
		u.visitConfirmScreen(d)
	}
}

// visitAreaScreen asks where the visit was: page n of the areas (v's own
// first), or those matching typed, two a row.
func (u *turn) visitAreaScreen(v Volunteer, d *visitDraft, n int, typed string) {
	d.Step = visitStepArea
	u.keepVisit(d)
	key := "visit_area"
	list := u.visitAreas(v)
	var turn []bot.Button
	if strings.TrimSpace(typed) != "" {
		if found := u.d.cfg.Areas.Match(typed, visitAreasPerPage); len(found) > 0 {
			list = found
		} else {
			key = "visit_area_none"
		}
	}
	if len(list) > visitAreasPerPage {
		list, turn = u.visitAreaPage(d, list, n)
	}
	var rows [][]bot.Button
	for i, a := range list {
		b := u.visitAreaButton(d, a)
		if i%2 == 0 {
			rows = append(rows, []bot.Button{b})
		} else {
			rows[len(rows)-1] = append(rows[len(rows)-1], b)
		}
	}
	if len(turn) > 0 {
		rows = append(rows, turn)
	}
	rows = append(rows, []bot.Button{u.visitCancelButton(d)})
	u.reply(u.text(key, nil), rows...)
}

// visitAreas lists the areas to choose from: v's own first, then the others.
func (u *turn) visitAreas(v Volunteer) []areas.Area {
	var own, others []areas.Area
	for _, a := range u.d.cfg.Areas.All() {
		if slices.Contains(v.Areas, a.Code) {
			own = append(own, a)
		} else {
			others = append(others, a)
		}
	}
	return append(own, others...)
}

// visitAreaPage is page n of list (clamped), with the buttons to turn it.
func (u *turn) visitAreaPage(d *visitDraft, list []areas.Area, n int) ([]areas.Area, []bot.Button) {
	pages := (len(list) + visitAreasPerPage - 1) / visitAreasPerPage
	n = min(max(n, 0), pages-1)
	var turn []bot.Button
	if n > 0 {
		turn = append(turn, visitButton(d, u.text("intake_prev", nil), visitPage, strconv.Itoa(n-1)))
	}
	if n < pages-1 {
		turn = append(turn, visitButton(d, u.text("intake_more", nil), visitPage, strconv.Itoa(n+1)))
	}
	return list[n*visitAreasPerPage : min((n+1)*visitAreasPerPage, len(list))], turn
}

// visitAreaButton chooses area a: by its code, or by its place in
// Config.Areas when the code is too long for a button.
func (u *turn) visitAreaButton(d *visitDraft, a areas.Area) bot.Button {
	b := visitButton(d, a.Name, visitArea, a.Code)
	if len(b.Data) <= flows.MaxCallbackData {
		return b
	}
	i := slices.IndexFunc(u.d.cfg.Areas.All(), func(x areas.Area) bool { return x.Code == a.Code })
	return visitButton(d, a.Name, visitAreaAt, strconv.Itoa(i))
}

// visitAreaOf is the area a button names.
func (u *turn) visitAreaOf(verb, arg string) (areas.Area, bool) {
	if !u.areasOn() {
		return areas.Area{}, false
	}
	if verb == visitArea {
		return u.d.cfg.Areas.Lookup(arg)
	}
	all := u.d.cfg.Areas.All()
	i, err := strconv.Atoi(arg)
	if err != nil || i < 0 || i >= len(all) {
		return areas.Area{}, false
	}
	return all[i], true
}

// visitActionsScreen asks what was done: a button per action, marked when
// chosen.
func (u *turn) visitActionsScreen(d *visitDraft) {
	d.Step = visitStepActions
	u.keepVisit(d)
	var rows [][]bot.Button
	for _, a := range VisitActions {
		label := u.text("visit_action_"+a, nil)
		if slices.Contains(d.Actions, a) {
			label = "✅ " + label
		}
		rows = append(rows, []bot.Button{visitButton(d, label, visitToggle, a)})
	}
	rows = append(rows, []bot.Button{visitButton(d, u.text("visit_next", nil), visitOn)})
	last := []bot.Button{u.visitCancelButton(d)}
	if u.areasOn() {
		last = []bot.Button{visitButton(d, u.text("visit_change_area", nil), visitReArea), u.visitCancelButton(d)}
	}
	rows = append(rows, last)
	u.reply(u.text("visit_actions", vars("place", u.visitPlace(d.Area))), rows...)
}

// visitPeopleScreen asks how many people were helped, with the text key.
func (u *turn) visitPeopleScreen(d *visitDraft, key string) {
	d.Step = visitStepPeople
	u.keepVisit(d)
	var row []bot.Button
	for _, n := range visitCounts {
		row = append(row, visitButton(d, strconv.Itoa(n), visitCount, strconv.Itoa(n)))
	}
	u.reply(u.text(key, vars("max", strconv.Itoa(MaxVisitPeople))), row, []bot.Button{u.visitCancelButton(d)})
}

// visitConfirmScreen shows the visit with Save.
func (u *turn) visitConfirmScreen(d *visitDraft) {
	d.Step = visitStepConfirm
	u.keepVisit(d)
	u.reply(u.text("visit_confirm", u.visitVars(d.Area, d.Actions, d.People)),
		[]bot.Button{visitButton(d, u.text("visit_save", nil), visitSave), u.visitCancelButton(d)})
}

// visitTap handles a button of the wizard. One of another wizard, or one
// that names nothing known, is stale and changes nothing.
func (u *turn) visitTap(v Volunteer) error {
	d := u.loadVisit()
	wizard, rest, _ := strings.Cut(strings.TrimPrefix(u.t.In.Data, dataVisit), ":")
	verb, arg, _ := strings.Cut(rest, ":")
	if d == nil || wizard != d.Wizard {
		u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
		return nil
	}
	switch verb {
	case visitCancel:
		u.keepVisit(nil)
		u.reply(u.text("visit_cancelled", nil))
	case visitSave:
		if u.visitComplete(d) {
			return u.saveVisit(v, d)
		}
		u.visitNext(v, d)
	case visitArea, visitAreaAt:
		a, ok := u.visitAreaOf(verb, arg)
		if !ok {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		d.Area = a.Code
		u.visitActionsScreen(d)
	case visitPage, visitReArea:
		n, err := strconv.Atoi(cmp.Or(arg, "0"))
		if err != nil || !u.areasOn() {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		u.visitAreaScreen(v, d, n, "")
	case visitToggle:
		if !slices.Contains(VisitActions, arg) {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		if i := slices.Index(d.Actions, arg); i >= 0 {
			d.Actions = slices.Delete(d.Actions, i, i+1)
		} else {
			d.Actions = append(d.Actions, arg)
		}
		u.visitActionsScreen(d)
	case visitOn:
		if len(d.Actions) == 0 {
			u.plan.Ack = bot.Ack{Text: u.text("visit_need_action", nil), Alert: true}
			return nil
		}
		u.visitNext(v, d)
	case visitCount:
		n, err := strconv.Atoi(arg)
		if err != nil || !slices.Contains(visitCounts, n) {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		d.People = n
		u.visitNext(v, d)
	default:
		u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
	}
	return nil
}

// visitText reads typed text the wizard asked for: part of an area's name,
// or a number of people. It reports false for text that is not the
// wizard's (none is open, its screen takes taps only, or the text answers
// a resident's relayed message).
func (u *turn) visitText(v Volunteer) bool {
	d := u.loadVisit()
	if d == nil || refIn(u.t.In.ReplyTo) != 0 {
		return false
	}
	switch d.Step {
	case visitStepArea:
		u.visitAreaScreen(v, d, 0, u.t.In.Text)
	case visitStepPeople:
		n, err := strconv.Atoi(strings.TrimSpace(u.t.In.Text))
		if err != nil || n < 1 || n > MaxVisitPeople {
			u.visitPeopleScreen(d, "visit_people_again")
			return true
		}
		d.People = n
		u.visitNext(v, d)
	default:
		return false
	}
	return true
}

// saveVisit stores d once per update (a Save delivered again stores
// nothing more) and says what was logged.
func (u *turn) saveVisit(v Volunteer, d *visitDraft) error {
	stored, _, err := u.d.st.AddVisit(u.ctx, Visit{Volunteer: v.ID, Area: d.Area, Actions: d.Actions, People: d.People,
		At: u.t.Now, Source: noteKey(u.t.In)})
	if err != nil {
		return fmtErr("visit", err)
	}
	u.keepVisit(nil)
	u.reply(u.text("visit_saved", u.visitVars(stored.Area, stored.Actions, stored.People)))
	return nil
}

// visitVars are the texts' variables for a visit.
func (u *turn) visitVars(area string, actions []string, people int) map[string]string {
	var names []string
	for _, a := range VisitActions {
		if slices.Contains(actions, a) {
			names = append(names, u.text("visit_action_"+a, nil))
		}
	}
	return vars("place", u.visitPlace(area), "actions", strings.Join(names, ", "), "people", strconv.Itoa(people))
}

// visitPlace names where a visit was.
func (u *turn) visitPlace(area string) string {
	if area == "" {
		return u.text("visit_no_area", nil)
	}
	return u.areaName(area)
}
