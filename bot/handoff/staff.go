package handoff

import (
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// groupTap handles a tap on a card in the volunteers' group: a claim.
func (u *turn) groupTap(user bot.ConvKey) error {
	n, ok := parseID(strings.TrimPrefix(u.t.In.Data, dataClaim))
	if !strings.HasPrefix(u.t.In.Data, dataClaim) || !ok {
		u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
		return nil
	}
	v, err := u.d.st.Volunteer(u.ctx, user)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmtErr("claim", err)
	}
	ack, _, err := u.claim(v, n)
	u.plan.Ack = ack
	return err
}

// claim assigns ticket n to v, sends v the context (in their private chat;
// the web dashboard shows it itself) and tells the resident. It answers
// with what the tapper is told, and whether this update assigned the ticket.
func (u *turn) claim(v Volunteer, n int64) (ack bot.Ack, claimed bool, err error) {
	if !v.Active() {
		return bot.Ack{Text: u.text("desk_ack_denied", nil), Alert: true}, false, nil
	}
	t, found, err := u.loadTicket(n)
	if err != nil {
		return bot.Ack{}, false, fmtErr("claim", err)
	}
	if !found || t.Status != Waiting {
		if found && t.Status == Assigned && t.Volunteer == v.ID {
			// a tap delivered again, or a double tap: already theirs
			return bot.Ack{Text: u.text("desk_ack_claimed", vars("id", id(n)))}, false, nil
		}
		return bot.Ack{Text: u.text("desk_ack_taken", vars("id", id(n)))}, false, nil
	}
	if !v.Serves(t.Area) {
		return bot.Ack{Text: u.text("desk_ack_area", nil), Alert: true}, false, nil
	}
	t, err = u.d.st.Claim(u.ctx, n, v, u.t.Now)
	switch {
	case errors.Is(err, ErrTaken):
		return bot.Ack{Text: u.text("desk_ack_taken", vars("id", id(n)))}, false, nil
	case errors.Is(err, ErrAtCapacity):
		return bot.Ack{Text: u.text("desk_ack_capacity", vars("capacity", id(int64(v.Capacity)))), Alert: true}, false, nil
	case errors.Is(err, ErrNotFound):
		return bot.Ack{Text: u.text("desk_ack_denied", nil), Alert: true}, false, nil
	case err != nil:
		return bot.Ack{}, false, fmtErr("claim", err)
	}
	if !u.onWeb() {
		if err := u.sendContext(v, t); err != nil {
			return bot.Ack{}, false, err
		}
	}
	u.send(t.Resident, u.textIn(t.Lang, "desk_claimed", vars("volunteer", volunteerName(v))), nil)
	return bot.Ack{Text: u.text("desk_ack_claimed", vars("id", id(n)))}, true, nil
}

// textIn is a text in another language than the update's (a message to the
// other side of a ticket).
func (u *turn) textIn(lang, key string, vs map[string]string) string {
	if lang == "" {
		lang = u.lang()
	}
	return u.t.Set.Text(lang, key, vs)
}

// sendContext gives a volunteer what they need to start: where the
// resident got stuck, the masked summary and their last messages.
func (u *turn) sendContext(v Volunteer, t Ticket) error {
	lines, err := u.d.st.Transcript(u.ctx, t.ID)
	if err != nil {
		return fmtErr("context", err)
	}
	var recent []string
	for _, l := range lines[max(len(lines)-u.d.cfg.Recent, 0):] {
		recent = append(recent, "• "+bot.MaskPII(l.Text))
	}
	r := strings.Join(recent, "\n")
	if r == "" {
		r = u.text("desk_recent_none", nil)
	}
	text := u.text("desk_context", vars("id", id(t.ID), "name", residentLabel(t), "channel", string(t.Resident.Channel),
		"where", t.Where(), "summary", bot.MaskPII(t.Summary), "recent", r))
	if t.Callback != "" {
		// the number the resident left for a call back, now that the
		// ticket is this volunteer's
		text += "\n\n" + u.text("desk_context_callback", vars("phone", t.Callback))
	}
	u.send(v.Chat, text, nil)
	return nil
}

func residentLabel(t Ticket) string {
	if n := t.Vars["name"]; n != "" {
		return n
	}
	return string(t.Resident.Channel) + " " + ShortID(t.Resident.ChatID)
}

// staff handles a staff member's private chat.
func (u *turn) staff(user bot.ConvKey) error {
	in := u.t.In
	v, err := u.d.st.Volunteer(u.ctx, user)
	switch {
	case errors.Is(err, ErrNotFound):
		v = Volunteer{}
	case err != nil:
		return fmtErr("staff", err)
	}
	if v.ID == 0 && u.d.admins[user] {
		if v, err = u.d.st.EnsureOrganizer(u.ctx, user, in.Key, in.Name, u.t.Now); err != nil {
			return fmtErr("organizer", err)
		}
	}
	// a chat with no row and no staff command, or a rejected applicant,
	// belongs to the resident flows again
	applying := u.plan.Conv.Desk.Await == "apply_wards" && in.Kind == bot.InText
	if (v.ID == 0 || v.Status == Rejected) && !(in.Kind == bot.InCommand && slices.Contains(staffCommands, in.Command)) &&
		!(in.Kind == bot.InButton && strings.HasPrefix(in.Data, dataPrefix)) && !applying {
		u.plan.Conv.Desk = bot.DeskState{}
		return nil
	}
	u.plan.Handled = true
	u.plan.Conv.Desk.Staff = v.ID != 0
	return u.staffUpdate(v)
}

// staffUpdate handles an update of staff member v (who may still be an
// applicant) in their private chat or on the web dashboard.
func (u *turn) staffUpdate(v Volunteer) error {
	in := u.t.In
	switch in.Kind {
	case bot.InCommand:
		return u.command(v)
	case bot.InButton:
		return u.staffTap(v)
	case bot.InText, bot.InMedia:
		if u.plan.Conv.Desk.Await == "apply_wards" && in.Kind == bot.InText && u.d.cfg.Areas != nil {
			u.wardScreen(in.Text)
			return nil
		}
		if !v.Active() {
			u.notActive(v)
			return nil
		}
		if in.Kind == bot.InText && u.visitText(v) {
			return nil
		}
		if u.plan.Conv.Desk.Await == "note" && in.Kind == bot.InText {
			u.plan.Conv.Desk.Await = ""
			return u.note(v, in.Text)
		}
		return u.toResident(v)
	case bot.InEdited:
		u.reply(u.text("desk_edited", nil))
	}
	return nil
}

func (u *turn) notActive(v Volunteer) {
	switch v.Status {
	case Suspended:
		u.reply(u.text("desk_suspended", nil))
	case Applied:
		u.reply(u.text("desk_apply_sent", nil))
	default:
		u.reply(u.text("desk_not_staff", nil))
	}
}

// command handles a staff command.
func (u *turn) command(v Volunteer) error {
	in := u.t.In
	if in.Command == "volunteer" {
		return u.apply(v)
	}
	if (in.Command == "menu" || in.Command == "start") && !u.onWeb() {
		// staff may use the resident menu too: leave the desk for this chat
		u.plan.Conv.Desk.Staff = false
		u.plan.Handled = false
		return nil
	}
	if !v.Active() {
		u.notActive(v)
		return nil
	}
	switch in.Command {
	case "help":
		u.reply(u.text("desk_help", nil))
	case "next":
		return u.next(v)
	case "mine":
		return u.mine(v)
	case "switch":
		n, ok := parseID(in.Args)
		if !ok {
			return u.mine(v)
		}
		t, err := u.mineTicket(v, n)
		if err != nil {
			return u.notMine(n, err)
		}
		u.plan.Conv.Desk.Active = t.ID
		u.reply(u.text("desk_switched", vars("id", id(t.ID))))
	case "note":
		if strings.TrimSpace(in.Args) == "" {
			u.plan.Conv.Desk.Await = "note"
			u.reply(u.text("desk_note_empty", nil))
			return nil
		}
		return u.note(v, in.Args)
	case "release":
		t, err := u.target(v, in.Args)
		if err != nil || t.ID == 0 {
			return err
		}
		return u.release(v, t)
	case "done":
		t, err := u.target(v, in.Args)
		if err != nil || t.ID == 0 {
			return err
		}
		var row []bot.Button
		for _, c := range categories {
			row = append(row, bot.Button{Text: u.text("desk_category_"+c, nil), Data: dataDone + id(t.ID) + ":" + c})
		}
		u.reply(u.text("desk_done_ask", vars("id", id(t.ID))), row)
	case "transcript":
		return u.transcript(v, in.Args)
	case "visit":
		return u.visit(v)
	case "dashboard":
		return u.dashboard(v)
	case "volunteers", "approve", "reject", "suspend", "promote":
		return u.manage(v)
	default:
		u.reply(u.text("desk_help", nil))
	}
	return nil
}

// mineTicket returns ticket n if it is assigned to v.
func (u *turn) mineTicket(v Volunteer, n int64) (Ticket, error) {
	t, found, err := u.loadTicket(n)
	if err != nil {
		return t, fmtErr("ticket", err)
	}
	if !found || t.Status != Assigned || t.Volunteer != v.ID {
		return t, errNotMine
	}
	return t, nil
}

func (u *turn) notMine(n int64, err error) error {
	if errors.Is(err, errNotMine) {
		u.reply(u.text("desk_unknown_ticket", vars("id", id(n))))
		return nil
	}
	return err
}

// target is the ticket a volunteer's command or message is about: the one
// named, the one their message replies to, the active one, or their only
// one. When it cannot tell it says so and returns the zero Ticket.
func (u *turn) target(v Volunteer, named string) (Ticket, error) {
	if n, ok := parseID(named); ok {
		t, err := u.mineTicket(v, n)
		if err != nil {
			return Ticket{}, u.notMine(n, err)
		}
		return t, nil
	}
	if n := refIn(u.t.In.ReplyTo); n != 0 {
		t, err := u.mineTicket(v, n)
		if err != nil {
			return Ticket{}, u.notMine(n, err)
		}
		return t, nil
	}
	held, err := u.d.st.Assigned(u.ctx, v.ID)
	if err != nil {
		return Ticket{}, fmtErr("tickets", err)
	}
	if a := u.plan.Conv.Desk.Active; a != 0 {
		if i := slices.IndexFunc(held, func(t Ticket) bool { return t.ID == a }); i >= 0 {
			return held[i], nil
		}
	}
	switch len(held) {
	case 0:
		u.reply(u.text("desk_idle", nil))
		return Ticket{}, nil
	case 1:
		return held[0], nil
	}
	u.reply(u.text("desk_which", vars("id", id(held[0].ID))))
	return Ticket{}, nil
}

// next claims the oldest waiting ticket v may take: their wards and
// skills first, then the oldest.
func (u *turn) next(v Volunteer) error {
	waiting, err := u.d.st.Waiting(u.ctx, 200)
	if err != nil {
		return fmtErr("next", err)
	}
	var pick []Ticket
	for _, t := range waiting {
		if v.Serves(t.Area) {
			pick = append(pick, t)
		}
	}
	slices.SortStableFunc(pick, func(a, b Ticket) int {
		return score(v, b) - score(v, a)
	})
	for _, t := range pick {
		ack, claimed, err := u.claim(v, t.ID)
		if err != nil {
			return err
		}
		if claimed {
			u.plan.Conv.Desk.Active = t.ID
			return nil
		}
		if ack.Alert { // capacity or rights: trying others will not help
			u.reply(ack.Text)
			return nil
		}
	}
	u.reply(u.text("desk_next_none", nil))
	return nil
}

// score ranks a waiting ticket for v: area and skill matches first.
func score(v Volunteer, t Ticket) int {
	s := 0
	if t.Area != "" && slices.Contains(v.Areas, t.Area) {
		s += 2
	}
	if t.Topic != "" && slices.Contains(v.Skills, t.Topic) {
		s++
	}
	return s
}

func (u *turn) mine(v Volunteer) error {
	held, err := u.d.st.Assigned(u.ctx, v.ID)
	if err != nil {
		return fmtErr("mine", err)
	}
	if len(held) == 0 {
		u.reply(u.text("desk_idle", nil))
		return nil
	}
	var lines []string
	for _, t := range held {
		mark := ""
		if t.ID == u.plan.Conv.Desk.Active {
			mark = " ◀"
		}
		lines = append(lines, "#"+id(t.ID)+" · "+residentLabel(t)+" · "+t.Where()+mark)
	}
	u.reply(u.text("desk_mine", vars("lines", strings.Join(lines, "\n"))))
	return nil
}

func (u *turn) note(v Volunteer, text string) error {
	t, err := u.target(v, "")
	if err != nil || t.ID == 0 {
		return err
	}
	line := bot.TranscriptLine{From: "volunteer", Text: "🗒 " + bot.MaskPII(strings.TrimSpace(text)), At: u.t.Now}
	if err := u.d.st.Note(u.ctx, t.ID, noteKey(u.t.In), []bot.TranscriptLine{line}); err != nil {
		return fmtErr("note", err)
	}
	u.reply(u.text("desk_note_saved", vars("id", id(t.ID))))
	return nil
}

// noteKey names an update in a transcript: its chat and update id.
func noteKey(in bot.Inbound) string { return in.Key.String() + ":" + in.UpdateID }

func (u *turn) release(v Volunteer, t Ticket) error {
	_, err := u.d.st.Move(u.ctx, Move{Ticket: t.ID, From: []Status{Assigned}, To: Waiting, Volunteer: v.ID,
		Actor: actor(v), Note: "released", At: u.t.Now})
	if asMove(err) {
		u.reply(u.text("desk_stale", vars("id", id(t.ID))))
		return nil
	}
	if err != nil {
		return fmtErr("release", err)
	}
	if u.plan.Conv.Desk.Active == t.ID {
		u.plan.Conv.Desk.Active = 0
	}
	u.send(t.Resident, u.textIn(t.Lang, "desk_released", nil), nil)
	u.reply(u.text("desk_released_ok", vars("id", id(t.ID))))
	return nil
}

// staffTap handles a staff member's buttons.
func (u *turn) staffTap(v Volunteer) error {
	data := u.t.In.Data
	switch {
	case strings.HasPrefix(data, dataSkill), data == dataSend, data == dataWards, strings.HasPrefix(data, dataWard):
		if u.onWeb() { // staff apply from their own chat, never from the web
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		return u.applyTap(v)
	case strings.HasPrefix(data, dataOK), strings.HasPrefix(data, dataNo):
		return u.decide(v)
	}
	if !v.Active() {
		u.notActive(v)
		return nil
	}
	if rest, ok := strings.CutPrefix(data, dataDone); ok {
		ticket, cat, _ := strings.Cut(rest, ":")
		n, ok := parseID(ticket)
		if !ok || !slices.Contains(categories, cat) {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		return u.resolve(v, n, cat)
	}
	if rest, ok := strings.CutPrefix(data, dataClaim); ok {
		n, ok := parseID(rest)
		if !ok {
			u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
			return nil
		}
		ack, claimed, err := u.claim(v, n)
		if claimed {
			u.plan.Conv.Desk.Active = n
		}
		u.plan.Ack = ack
		return err
	}
	if strings.HasPrefix(data, dataVisit) {
		return u.visitTap(v)
	}
	u.plan.Ack = bot.Ack{Text: u.text("stale_button", nil)}
	return nil
}

// resolve closes a ticket and asks the resident to rate the help.
func (u *turn) resolve(v Volunteer, n int64, cat string) error {
	t, err := u.d.st.Move(u.ctx, Move{Ticket: n, From: []Status{Assigned}, To: Resolved, Volunteer: v.ID,
		Actor: actor(v), Category: cat, At: u.t.Now})
	if asMove(err) {
		u.reply(u.text("desk_stale", vars("id", id(n))))
		return nil
	}
	if err != nil {
		return fmtErr("resolve", err)
	}
	if u.plan.Conv.Desk.Active == n {
		u.plan.Conv.Desk.Active = 0
	}
	var stars []bot.Button
	for s := 1; s <= 5; s++ {
		stars = append(stars, bot.Button{Text: "⭐ " + id(int64(s)), Data: dataRate + id(n) + ":" + id(int64(s))})
	}
	u.send(t.Resident, u.textIn(t.Lang, "desk_resolved", nil), nil, stars)
	u.reply(u.text("desk_done_ok", vars("id", id(n))))
	return nil
}

// transcript shows a ticket's transcript to its volunteer or an organizer.
func (u *turn) transcript(v Volunteer, arg string) error {
	n, ok := parseID(arg)
	if !ok {
		t, err := u.target(v, "")
		if err != nil || t.ID == 0 {
			return err
		}
		n = t.ID
	}
	t, found, err := u.loadTicket(n)
	if err != nil {
		return fmtErr("transcript", err)
	}
	if !found || (t.Volunteer != v.ID && !v.Organizer()) {
		u.reply(u.text("desk_unknown_ticket", vars("id", id(n))))
		return nil
	}
	lines, err := u.d.st.Transcript(u.ctx, n)
	if err != nil {
		return fmtErr("transcript", err)
	}
	var b []string
	for _, l := range lines {
		b = append(b, l.At.Format("15:04")+" "+l.From+": "+bot.MaskPII(l.Text))
	}
	if len(b) == 0 {
		b = append(b, u.text("desk_recent_none", nil))
	}
	u.reply(u.text("desk_transcript", vars("id", id(n), "lines", strings.Join(b, "\n"))))
	return nil
}

// toResident relays a volunteer's message to the ticket's resident.
func (u *turn) toResident(v Volunteer) error {
	in := u.t.In
	t, err := u.target(v, "")
	if err != nil || t.ID == 0 {
		return err
	}
	if in.Media != nil && !in.Media.Kind.Relayable() {
		u.reply(u.text("desk_not_relayed", nil))
		return nil
	}
	if in.Media != nil && !t.Resident.Channel.CanSend(in.Media.Kind) {
		u.reply(u.text("desk_photos_only", vars("id", id(t.ID), "channel", string(t.Resident.Channel))))
		return nil
	}
	if asksForSecret(in.Text) {
		u.reply(u.text("desk_blocked_otp", nil))
		return nil
	}
	text := bot.MaskPII(in.Text)
	if err := u.said(t, true); err != nil {
		return fmtErr("relay", err)
	}
	line := text
	if in.Media != nil {
		line = "📎 " + string(in.Media.Kind) + " " + text
	}
	if err := u.d.st.Note(u.ctx, t.ID, noteKey(in), []bot.TranscriptLine{{From: "volunteer", Text: line, At: u.t.Now}}); err != nil {
		return fmtErr("relay", err)
	}
	u.plan.Conv.Desk.Active = t.ID
	u.send(t.Resident, u.textIn(t.Lang, "desk_from_volunteer", vars("volunteer", volunteerName(v), "text", text)), in.Media)
	return nil
}

// asksForSecret reports whether a volunteer's message asks the resident for
// an OTP, a password or a passcode — what scammers posing as helpers ask
// for. Telling the resident to type a code into the app, or never to share
// it, is fine: a secret must be named, with no negation, and asked for (a
// question, "xin", or a verb of handing over addressed to the writer).
func asksForSecret(text string) bool {
	s := " " + flows.Normalize(text) + " "
	if !secretWord.MatchString(s) {
		return false
	}
	if negation.MatchString(s) {
		return false
	}
	return askFor.MatchString(s)
}

var (
	secretWord = regexp.MustCompile(`\b(otp|mat khau|passcode|password|ma xac thuc|ma xac nhan|mk|pin|ma so bi mat|ma bi mat)\b`)
	negation   = regexp.MustCompile(`\b(dung|khong|chang|never|don't|dont|do not|not)\b`)
	askFor     = regexp.MustCompile(`\bxin\b|\bla gi\b|\bbao nhieu\b|\?|\bwhat is\b|\bwhat's\b|` +
		`\b(gui|doc|nhan|cho|bao|noi|chup|dua|send|tell|give|share|read)( lai| qua| ngay| giup)?( cho)? (em|chau|minh|toi|anh|chi|con|tnv|me|us)\b`)
)
