package handoff

import (
	"errors"
	"slices"
	"strings"

	"github.com/gocua/gocua/bot"
)

// resident handles a resident whose conversation holds a ticket. A
// waiting ticket is left to the loop's own handling (the message is kept
// and acknowledged); an assigned one is relayed to its volunteer and the
// bot stays silent; a closed one is forgotten and the flows answer.
func (u *turn) resident() error {
	in := u.t.In
	t, found, err := u.loadTicket(u.plan.Conv.Ticket)
	if err != nil {
		return fmtErr("resident", err)
	}
	if !found || !t.Status.Open() {
		u.plan.Conv.Ticket, u.plan.Conv.Noticed = 0, timeZero
		return nil
	}
	if t.Status == Waiting {
		return nil
	}
	v, err := u.d.st.VolunteerByID(u.ctx, t.Volunteer)
	if err != nil {
		return fmtErr("resident", err)
	}
	u.plan.Handled = true
	switch in.Kind {
	case bot.InCommand:
		switch in.Command {
		case "huy", "cancel":
			return u.leave(t, v)
		case "menu", "start":
			u.reply(u.text("desk_leave_ask", nil), []bot.Button{
				{Text: u.text("desk_leave_yes", nil), Data: dataLeave + "yes"},
				{Text: u.text("desk_leave_no", nil), Data: dataLeave + "no"}})
			return nil
		}
		// any other command is text for the volunteer
		return u.toVolunteer(t, v, "/"+in.Command+" "+in.Args)
	case bot.InButton:
		if in.Data == "nav:cancel" {
			return u.leave(t, v)
		}
		if in.Data == "nav:menu" {
			u.reply(u.text("desk_leave_ask", nil), []bot.Button{
				{Text: u.text("desk_leave_yes", nil), Data: dataLeave + "yes"},
				{Text: u.text("desk_leave_no", nil), Data: dataLeave + "no"}})
			return nil
		}
		// an old flow button: the resident is talking to a person now
		u.plan.Ack = bot.Ack{Text: u.text("desk_stay", nil)}
		return nil
	case bot.InEdited:
		u.reply(u.text("desk_edited", nil))
		return nil
	case bot.InTakeover: // someone answered from the platform's own inbox (Zalo OA Manager)
		masked := bot.MaskPII(strings.TrimSpace(in.Text))
		u.plan.Transcript = append(u.plan.Transcript, bot.TranscriptLine{From: "volunteer", Text: masked, At: u.t.Now})
		u.send(v.Chat, u.text("desk_from_elsewhere", vars("id", id(t.ID), "name", residentLabel(t), "text", masked)), nil)
		return nil
	case bot.InProtected:
		return u.toVolunteer(t, v, u.text("desk_protected", nil))
	case bot.InMedia:
		if in.Media == nil || !in.Media.Kind.Relayable() {
			u.reply(u.text("desk_not_relayed", nil))
			return nil
		}
	}
	return u.toVolunteer(t, v, in.Text)
}

// toVolunteer relays the resident's message (masked) to the volunteer.
func (u *turn) toVolunteer(t Ticket, v Volunteer, text string) error {
	in := u.t.In
	pii := bot.ScanPII(text)
	masked := bot.MaskPII(strings.TrimSpace(text))
	if err := u.said(t, false); err != nil {
		return fmtErr("relay", err)
	}
	line := masked
	if in.Media != nil {
		line = "📎 " + string(in.Media.Kind) + " " + masked
	}
	u.plan.Transcript = append(u.plan.Transcript, bot.TranscriptLine{From: "resident", Text: line, At: u.t.Now})
	u.send(v.Chat, u.text("desk_from_resident", vars("id", id(t.ID), "name", residentLabel(t), "text", masked)), in.Media)
	if pii.Warn() {
		u.reply(u.text("pii_warning", nil))
	}
	return nil
}

// leave ends the resident's chat with the volunteer (cancelled).
func (u *turn) leave(t Ticket, v Volunteer) error {
	_, err := u.d.st.Move(u.ctx, Move{Ticket: t.ID, From: []Status{Waiting, Assigned}, To: Cancelled,
		Actor: "resident", Note: "left", At: u.t.Now})
	if err != nil && !asMove(err) {
		return fmtErr("leave", err)
	}
	u.plan.Conv.Ticket, u.plan.Conv.Noticed = 0, timeZero
	if err == nil && v.ID != 0 {
		u.send(v.Chat, u.text("desk_resident_left", vars("id", id(t.ID))), nil)
	}
	u.reply(u.text("handoff_cancelled", nil))
	return nil
}

// residentTap handles the rating and "leave the volunteer chat" buttons.
func (u *turn) residentTap() error {
	in := u.t.In
	u.plan.Handled = true
	if rest, ok := strings.CutPrefix(in.Data, dataLeave); ok {
		t, found, err := u.loadTicket(u.plan.Conv.Ticket)
		if err != nil {
			return fmtErr("leave", err)
		}
		if !found || !t.Status.Open() || rest != "yes" {
			if found && t.Status.Open() {
				u.reply(u.text("desk_stay", nil))
				return nil
			}
			// nothing to leave any more: show the menu
			u.plan.Conv.Ticket = 0
			u.plan.Handled = false
			u.plan.Conv.Desk.Await = ""
			return nil
		}
		var v Volunteer
		if t.Volunteer != 0 {
			if v, err = u.d.st.VolunteerByID(u.ctx, t.Volunteer); err != nil && !errors.Is(err, ErrNotFound) {
				return fmtErr("leave", err)
			}
		}
		return u.leave(t, v)
	}
	rest := strings.TrimPrefix(in.Data, dataRate)
	ticket, stars, _ := strings.Cut(rest, ":")
	n, ok1 := parseID(ticket)
	s, ok2 := parseID(stars)
	if !ok1 || !ok2 || s > 5 {
		u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
		return nil
	}
	ok, err := u.d.st.Rate(u.ctx, n, in.Key, int(s), "", u.t.Now)
	if err != nil {
		return fmtErr("rate", err)
	}
	if !ok {
		u.reply(u.text("desk_rate_done", nil), u.menuRow())
		return nil
	}
	if u.plan.Conv.Ticket == n {
		u.plan.Conv.Ticket, u.plan.Conv.Noticed = 0, timeZero
	}
	u.plan.Conv.Desk.Await = "comment:" + id(n)
	u.reply(u.text("desk_rated", nil), u.menuRow())
	return nil
}

func (u *turn) menuRow() []bot.Button {
	return []bot.Button{{Text: u.text("nav_menu", nil), Data: "nav:menu"}}
}

// comment stores the text a resident writes after rating.
func (u *turn) comment() error {
	n, ok := parseID(strings.TrimPrefix(u.plan.Conv.Desk.Await, "comment:"))
	u.plan.Conv.Desk.Await = ""
	text := strings.TrimSpace(u.t.In.Text)
	if !ok || text == "" || strings.HasPrefix(text, "/") {
		return nil
	}
	u.plan.Handled = true
	if _, err := u.d.st.Rate(u.ctx, n, u.t.In.Key, 5, bot.MaskPII(text), u.t.Now); err != nil {
		return fmtErr("comment", err)
	}
	u.reply(u.text("desk_commented", nil), u.menuRow())
	return nil
}

// apply starts (or restarts) a volunteer application: skills as buttons.
func (u *turn) apply(v Volunteer) error {
	if v.Active() {
		u.reply(u.text("desk_help", nil))
		return nil
	}
	u.plan.Conv.Desk.Apply = nil
	u.reply(u.text("desk_apply_skills", nil), u.skillRows()...)
	return nil
}

func (u *turn) skillRows() [][]bot.Button {
	var row []bot.Button
	for _, c := range categories[:3] {
		label := u.text("desk_category_"+c, nil)
		if slices.Contains(u.plan.Conv.Desk.Apply, c) {
			label = "✅ " + label
		}
		row = append(row, bot.Button{Text: label, Data: dataSkill + c})
	}
	next := bot.Button{Text: u.text("desk_apply_send", nil), Data: dataSend}
	if u.d.cfg.Areas != nil && u.d.cfg.Areas.Len() > 0 {
		next = bot.Button{Text: u.text("desk_apply_next", nil), Data: dataWards}
	}
	return [][]bot.Button{row, {next}}
}

// The application keeps skills as they are and chosen wards as "a:<code>".
const wardMark = "a:"

func (u *turn) chosenWards() []string {
	var out []string
	for _, x := range u.plan.Conv.Desk.Apply {
		if code, ok := strings.CutPrefix(x, wardMark); ok {
			out = append(out, code)
		}
	}
	return out
}

func (u *turn) chosenSkills() []string {
	var out []string
	for _, x := range u.plan.Conv.Desk.Apply {
		if !strings.HasPrefix(x, wardMark) {
			out = append(out, x)
		}
	}
	return out
}

// wardScreen asks which communes/wards the applicant serves: those chosen
// (tap to remove), those matching what they typed (tap to add), and send.
// Choosing none means any.
func (u *turn) wardScreen(typed string) {
	u.plan.Conv.Desk.Await = "apply_wards"
	var rows [][]bot.Button
	for _, code := range u.chosenWards() {
		if a, ok := u.d.cfg.Areas.Lookup(code); ok {
			rows = append(rows, []bot.Button{{Text: "✅ " + a.Name, Data: dataWard + code}})
		}
	}
	key := "desk_apply_wards"
	if strings.TrimSpace(typed) != "" {
		found := 0
		for _, a := range u.d.cfg.Areas.Match(typed, 6) {
			if len(dataWard+a.Code) > 64 || slices.Contains(u.chosenWards(), a.Code) {
				continue
			}
			rows = append(rows, []bot.Button{{Text: a.Name, Data: dataWard + a.Code}})
			found++
		}
		if found == 0 {
			key = "desk_apply_wards_none"
		}
	}
	rows = append(rows, []bot.Button{{Text: u.text("desk_apply_send", nil), Data: dataSend}})
	u.reply(u.text(key, nil), rows...)
}

// applyTap toggles a skill or a ward, moves on to the wards, or sends the
// application to the organizers.
func (u *turn) applyTap(v Volunteer) error {
	in := u.t.In
	toggle := func(x string) {
		a := u.plan.Conv.Desk.Apply
		if i := slices.Index(a, x); i >= 0 {
			a = slices.Delete(slices.Clone(a), i, i+1)
		} else {
			a = append(slices.Clone(a), x)
		}
		u.plan.Conv.Desk.Apply = a
	}
	if skill, ok := strings.CutPrefix(in.Data, dataSkill); ok {
		if !slices.Contains(categories, skill) {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		toggle(skill)
		u.reply(u.text("desk_apply_skills", nil), u.skillRows()...)
		return nil
	}
	if in.Data == dataWards {
		u.wardScreen("")
		return nil
	}
	if code, ok := strings.CutPrefix(in.Data, dataWard); ok {
		if u.d.cfg.Areas == nil {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		if _, known := u.d.cfg.Areas.Lookup(code); !known {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		toggle(wardMark + code)
		u.wardScreen("")
		return nil
	}
	user := bot.ConvKey{Channel: in.Key.Channel, ChatID: in.UserID}
	wards := u.chosenWards()
	if len(wards) == 0 {
		wards = v.Areas
	}
	nv, err := u.d.st.Apply(u.ctx, Volunteer{User: user, Chat: in.Key, Name: in.Name, Skills: u.chosenSkills(),
		Areas: wards, Capacity: v.Capacity}, u.t.Now)
	if err != nil {
		return fmtErr("apply", err)
	}
	u.d.forgetStaff()
	u.plan.Conv.Desk.Staff, u.plan.Conv.Desk.Apply, u.plan.Conv.Desk.Await = nv.Active(), nil, ""
	if nv.Active() {
		u.reply(u.text("desk_help", nil))
		return nil
	}
	u.reply(u.text("desk_apply_sent", nil))
	return u.tellOrganizers(nv)
}

// tellOrganizers sends a new application to every organizer, with buttons.
func (u *turn) tellOrganizers(nv Volunteer) error {
	all, err := u.d.st.Volunteers(u.ctx)
	if err != nil {
		return fmtErr("organizers", err)
	}
	var skills []string
	for _, s := range nv.Skills {
		skills = append(skills, u.text("desk_category_"+s, nil))
	}
	wards := u.text("desk_apply_any_ward", nil)
	if len(nv.Areas) > 0 {
		var names []string
		for _, code := range nv.Areas {
			names = append(names, u.areaName(code))
		}
		wards = strings.Join(names, ", ")
	}
	text := u.text("desk_apply_new", vars("name", nv.Name, "vid", id(nv.ID), "skills", strings.Join(skills, ", "), "wards", wards))
	row := []bot.Button{{Text: u.text("desk_approve", nil), Data: dataOK + id(nv.ID)}, {Text: u.text("desk_reject", nil), Data: dataNo + id(nv.ID)}}
	for _, o := range all {
		if o.Organizer() && o.ID != nv.ID {
			u.send(o.Chat, text, nil, row)
		}
	}
	return nil
}

// areaName names an area code for staff.
func (u *turn) areaName(code string) string {
	if u.d.cfg.Areas != nil {
		if a, ok := u.d.cfg.Areas.Lookup(code); ok {
			return a.Name
		}
	}
	return code
}

// decide handles an organizer's approve/reject button.
func (u *turn) decide(v Volunteer) error {
	if !v.Organizer() {
		u.plan.Ack = bot.Ack{Text: u.text("desk_not_organizer", nil), Alert: true}
		return nil
	}
	approve := strings.HasPrefix(u.t.In.Data, dataOK)
	n, ok := parseID(strings.TrimPrefix(strings.TrimPrefix(u.t.In.Data, dataOK), dataNo))
	if !ok {
		u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
		return nil
	}
	status := Rejected
	if approve {
		status = Approved
	}
	return u.setStaff(v, n, status, "")
}

// setStaff changes volunteer n and tells them.
func (u *turn) setStaff(org Volunteer, n int64, status StaffStatus, role Role) error {
	target, err := u.d.st.VolunteerByID(u.ctx, n)
	if errors.Is(err, ErrNotFound) {
		u.reply(u.text("desk_no_such_volunteer", vars("vid", id(n))))
		return nil
	}
	if err != nil {
		return fmtErr("staff", err)
	}
	if role == "" {
		role = target.Role
	}
	if target.ID == org.ID && (status != Approved || role != RoleOrganizer) {
		// an organizer cannot lock themselves out
		u.reply(u.text("desk_not_organizer", nil))
		return nil
	}
	nv, err := u.d.st.SetStaff(u.ctx, n, status, role, u.t.Now)
	if err != nil {
		return fmtErr("staff", err)
	}
	u.d.forgetStaff()
	u.reply(u.text("desk_staff_set", vars("name", nv.Name, "vid", id(nv.ID), "status", string(nv.Status)+"/"+string(nv.Role))))
	if nv.Status != target.Status {
		switch nv.Status {
		case Approved:
			u.send(nv.Chat, u.text("desk_approved", nil), nil)
		case Rejected:
			u.send(nv.Chat, u.text("desk_rejected", nil), nil)
		case Suspended:
			u.send(nv.Chat, u.text("desk_suspended", nil), nil)
		}
	}
	return nil
}

// manage handles the organizers' commands.
func (u *turn) manage(v Volunteer) error {
	if !v.Organizer() {
		u.reply(u.text("desk_not_organizer", nil))
		return nil
	}
	in := u.t.In
	if in.Command == "volunteers" {
		all, err := u.d.st.Volunteers(u.ctx)
		if err != nil {
			return fmtErr("volunteers", err)
		}
		var lines []string
		for _, x := range all {
			lines = append(lines, id(x.ID)+". "+x.Name+" — "+string(x.Status)+"/"+string(x.Role)+" ("+strings.Join(x.Skills, ", ")+")")
		}
		u.reply(u.text("desk_volunteers", vars("lines", strings.Join(lines, "\n"))))
		return nil
	}
	n, ok := parseID(in.Args)
	if !ok {
		u.reply(u.text("desk_help", nil))
		return nil
	}
	switch in.Command {
	case "approve":
		return u.setStaff(v, n, Approved, "")
	case "reject":
		return u.setStaff(v, n, Rejected, "")
	case "suspend":
		return u.setStaff(v, n, Suspended, "")
	default: // promote
		return u.setStaff(v, n, Approved, RoleOrganizer)
	}
}

// callback handles a resident leaving their phone number to be called
// back: the offer (with the consent text and Telegram's share-my-number
// keyboard), the shared contact, or declining.
func (u *turn) callback() error {
	in := u.t.In
	t, found, err := u.loadTicket(u.plan.Conv.Ticket)
	if err != nil {
		return fmtErr("call-back", err)
	}
	if !found || !t.Status.Open() {
		u.plan.Conv.Desk.Await = ""
		return nil // closed meanwhile: the flows answer
	}
	u.plan.Handled = true
	switch {
	case in.Kind == bot.InButton:
		u.plan.Conv.Desk.Await = "callback"
		u.plan.Out = append(u.plan.Out, bot.Outbound{Text: u.text("desk_callback_ask", nil),
			AskContact: u.text("desk_callback_share", nil), Decline: u.text("desk_callback_no", nil)})
	case in.Contact != nil && !in.Contact.Own:
		u.plan.Conv.Desk.Await = ""
		u.plan.Out = append(u.plan.Out, bot.Outbound{Text: u.text("desk_callback_other", nil), ClearKeyboard: true})
	case in.Contact != nil:
		if err := u.d.st.SetCallback(u.ctx, t.ID, in.Contact.Phone); err != nil {
			return fmtErr("call-back", err)
		}
		u.plan.Conv.Desk.Await = ""
		u.plan.Transcript = append(u.plan.Transcript, bot.TranscriptLine{From: "resident",
			Text: "📞 " + bot.MaskPII(in.Contact.Phone), At: u.t.Now})
		u.plan.Out = append(u.plan.Out, bot.Outbound{Text: u.text("desk_callback_saved", nil), ClearKeyboard: true})
	default: // text while the keyboard was up: declined, or something to say
		u.plan.Conv.Desk.Await = ""
		if strings.TrimSpace(in.Text) != u.text("desk_callback_no", nil) {
			u.plan.Handled = false
			return nil
		}
		u.plan.Out = append(u.plan.Out, bot.Outbound{Text: u.text("desk_callback_declined", nil), ClearKeyboard: true})
	}
	return nil
}
