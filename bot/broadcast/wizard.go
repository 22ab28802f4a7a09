package broadcast

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/flows"
)

// Organizers says who may send broadcasts (the volunteer desk's roles).
type Organizers interface {
	Organizer(ctx context.Context, user bot.ConvKey) (bool, error)
}

// WizardConfig is what the chat wizard needs.
type WizardConfig struct {
	Organizers Organizers
	Store      Store
	Rules      Rules
	Areas      *areas.Set // for wards typed by name; nil: codes only
	// Env returns what a draft is checked against at now (flows, limits,
	// timezone).
	Env func(now time.Time) Env
	// Wake tells this process's runner a broadcast was made.
	Wake func()
	// Morning is the time of day "tomorrow morning" means (default 07:30).
	Morning time.Duration
}

// Wizard lets an organizer write a broadcast in a private chat with the
// bot: /broadcast, the text (and an image), buttons that open a guide, the
// audience with its exact count, the time, a preview of the very message
// residents will get, and a confirmation. It implements bot.Desk around
// the volunteer desk: the organizer's broadcast conversation is its own,
// everything else goes on to the desk.
type Wizard struct {
	cfg  WizardConfig
	next bot.Desk
}

// NewWizard puts the broadcast wizard in front of next.
func NewWizard(cfg WizardConfig, next bot.Desk) *Wizard {
	cfg.Morning = cmp.Or(cfg.Morning, 7*time.Hour+30*time.Minute)
	return &Wizard{cfg: cfg, next: next}
}

// Shared implements bot.Desk.
func (w *Wizard) Shared(key bot.ConvKey) bool { return w.next != nil && w.next.Shared(key) }

// Button data of the wizard (≤ 64 bytes).
const (
	dataWizard  = "bcw:"
	dataBtnFlow = dataWizard + "b:"  // + flow id; "" = no more buttons
	dataAud     = dataWizard + "a:"  // + all | area | expr
	dataWhen    = dataWizard + "w:"  // + now | tomorrow
	dataSend    = dataWizard + "ok"  // confirm
	dataDrop    = dataWizard + "no"  // throw the draft away
	stepText    = "text"             // waiting for the text (and image)
	stepButtons = "buttons"          // choosing buttons
	stepAud     = "audience"         // choosing the audience
	stepArea    = "area"             // a ward typed by name
	stepExpr    = "expr"             // an audience expression typed
	stepWhen    = "when"             // the time
	stepConfirm = "confirm"          // preview shown, waiting for the yes
	maxWards    = 8                  // ward choices shown for a typed name
	wardPrefix  = dataWizard + "ar:" // + area code
)

// Route implements bot.Desk.
func (w *Wizard) Route(ctx context.Context, t bot.DeskTurn) (bot.DeskPlan, error) {
	in := t.In
	mine := t.Conv.Draft != nil ||
		in.Kind == bot.InCommand && in.Command == "broadcast" ||
		in.Kind == bot.InButton && strings.HasPrefix(in.Data, dataWizard)
	if !mine || strings.HasPrefix(in.Key.ChatID, "-") { // never in a group
		if w.next == nil {
			return bot.DeskPlan{Conv: t.Conv}, nil
		}
		return w.next.Route(ctx, t)
	}
	user := bot.ConvKey{Channel: in.Key.Channel, ChatID: in.UserID}
	ok, err := w.cfg.Organizers.Organizer(ctx, user)
	if err != nil {
		return bot.DeskPlan{}, fmt.Errorf("broadcast wizard: %w", err)
	}
	if !ok {
		if t.Conv.Draft != nil { // no longer an organizer: the draft goes
			t.Conv.Draft = nil
		}
		if in.Kind == bot.InCommand && in.Command == "broadcast" || in.Kind == bot.InButton {
			u := &wturn{w: w, t: t, plan: bot.DeskPlan{Handled: true, Conv: t.Conv}}
			u.say("bc_not_organizer")
			return u.plan, nil
		}
		if w.next == nil {
			return bot.DeskPlan{Conv: t.Conv}, nil
		}
		return w.next.Route(ctx, t)
	}
	u := &wturn{w: w, ctx: ctx, t: t, plan: bot.DeskPlan{Handled: true, Conv: t.Conv}}
	if err := u.run(); err != nil {
		return bot.DeskPlan{}, err
	}
	return u.plan, nil
}

// wturn is one update of an organizer's broadcast conversation.
type wturn struct {
	w    *Wizard
	ctx  context.Context
	t    bot.DeskTurn
	plan bot.DeskPlan
}

func (u *wturn) lang() string { return cmp.Or(u.t.Conv.Flow.Lang, "vi") }

func (u *wturn) text(key string, vars map[string]string) string {
	return u.t.Set.Text(u.lang(), key, vars)
}

func (u *wturn) say(key string, rows ...[]bot.Button) { u.sayText(u.text(key, nil), rows...) }

func (u *wturn) sayText(text string, rows ...[]bot.Button) {
	u.plan.Out = append(u.plan.Out, bot.Outbound{Text: text, Buttons: rows})
}

func (u *wturn) dropRow() []bot.Button {
	return []bot.Button{{Text: u.text("bc_drop_button", nil), Data: dataDrop}}
}

func (u *wturn) draft() *bot.BroadcastDraft { return u.plan.Conv.Draft }

func (u *wturn) run() error {
	in := u.t.In
	switch {
	case in.Kind == bot.InCommand && in.Command == "broadcast":
		u.plan.Conv.Draft = &bot.BroadcastDraft{Step: stepText}
		u.say("bc_ask_text", u.dropRow())
		return nil
	case in.Kind == bot.InCommand && (in.Command == "huy" || in.Command == "cancel") || in.Kind == bot.InButton && in.Data == dataDrop:
		u.plan.Conv.Draft = nil
		u.say("bc_dropped")
		return nil
	case in.Kind == bot.InCommand:
		// another command leaves the draft for later: the desk (or the
		// resident menu) answers it
		u.plan.Handled = false
		if u.w.next != nil {
			conv := u.plan.Conv
			plan, err := u.w.next.Route(u.ctx, bot.DeskTurn{In: in, Conv: conv, Set: u.t.Set, Now: u.t.Now})
			if err != nil {
				return err
			}
			u.plan = plan
		}
		return nil
	case u.draft() == nil: // a wizard button from an old draft
		u.plan.Ack = bot.Ack{Text: u.text("bc_stale", nil)}
		u.say("bc_stale")
		return nil
	}
	d := u.draft()
	switch d.Step {
	case stepText:
		return u.takeText()
	case stepButtons:
		return u.takeButton()
	case stepAud:
		return u.takeAudience()
	case stepArea:
		return u.takeArea()
	case stepExpr:
		if in.Kind != bot.InText {
			return u.takeAudience()
		}
		return u.setAudience(in.Text)
	case stepWhen:
		return u.takeWhen()
	case stepConfirm:
		return u.takeConfirm()
	}
	u.plan.Conv.Draft = nil
	u.say("bc_stale")
	return nil
}

func (u *wturn) takeText() error {
	in, d := u.t.In, u.draft()
	switch {
	case in.Kind == bot.InText && strings.TrimSpace(in.Text) != "":
		d.Text = strings.TrimSpace(in.Text)
	case in.Kind == bot.InMedia && in.Media != nil && in.Media.Kind == bot.MediaPhoto && strings.TrimSpace(in.Text) != "":
		d.Text, d.Image = strings.TrimSpace(in.Text), in.Media.Ref
	case in.Kind == bot.InMedia && in.Media != nil && in.Media.Kind == bot.MediaPhoto:
		u.say("bc_photo_needs_caption", u.dropRow())
		return nil
	default:
		u.say("bc_ask_text", u.dropRow())
		return nil
	}
	env := u.w.cfg.Env(u.t.Now)
	limit := env.MaxText
	if d.Image != "" {
		limit = env.MaxCaption
	}
	if n := bot.TextLen(d.Text); limit > 0 && n > limit {
		u.sayText(u.text("bc_too_long", map[string]string{"n": strconv.Itoa(n), "max": strconv.Itoa(limit)}), u.dropRow())
		d.Text, d.Image = "", ""
		return nil
	}
	d.Step = stepButtons
	u.askButtons()
	return nil
}

// askButtons offers the main menu's guides as buttons to add.
func (u *wturn) askButtons() {
	d := u.draft()
	var rows [][]bot.Button
	for _, f := range u.menuFlows() {
		if slices.ContainsFunc(d.Buttons, func(b string) bool { return strings.HasSuffix(b, "="+f.ID) }) {
			continue
		}
		rows = append(rows, []bot.Button{{Text: "➕ " + title(f, u.lang()), Data: dataBtnFlow + f.ID}})
	}
	rows = append(rows, []bot.Button{{Text: u.text("bc_no_more_buttons", nil), Data: dataBtnFlow}}, u.dropRow())
	key := "bc_ask_buttons"
	if len(d.Buttons) > 0 {
		key = "bc_ask_more_buttons"
	}
	u.sayText(u.text(key, map[string]string{"n": strconv.Itoa(len(d.Buttons)), "max": strconv.Itoa(MaxButtons)}), rows...)
}

func (u *wturn) menuFlows() []*flows.Flow {
	var out []*flows.Flow
	for _, f := range u.t.Set.Flows() {
		if f.Menu > 0 && f.ID != flows.VolunteerFlow {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *flows.Flow) int { return a.Menu - b.Menu })
	return out
}

func title(f *flows.Flow, lang string) string { return cmp.Or(f.Title[lang], f.Title["vi"], f.ID) }

func (u *wturn) takeButton() error {
	in, d := u.t.In, u.draft()
	flow, ok := strings.CutPrefix(in.Data, dataBtnFlow)
	if in.Kind != bot.InButton || !ok {
		u.askButtons()
		return nil
	}
	if flow != "" {
		f, known := u.t.Set.Flow(flow)
		if !known || u.t.Set.OpenTarget(flow) != nil {
			u.say("bc_stale")
			u.askButtons()
			return nil
		}
		label := strings.ReplaceAll(title(f, u.lang()), "=", " ")
		d.Buttons = append(d.Buttons, label+"="+flow)
		if len(d.Buttons) < MaxButtons {
			u.askButtons()
			return nil
		}
	}
	d.Step = stepAud
	u.askAudience()
	return nil
}

func (u *wturn) askAudience() {
	u.say("bc_ask_audience",
		[]bot.Button{{Text: u.text("bc_aud_all", nil), Data: dataAud + "all"}},
		[]bot.Button{{Text: u.text("bc_aud_area", nil), Data: dataAud + "area"}},
		[]bot.Button{{Text: u.text("bc_aud_expr", nil), Data: dataAud + "expr"}},
		u.dropRow())
}

func (u *wturn) takeAudience() error {
	in, d := u.t.In, u.draft()
	switch in.Data {
	case dataAud + "all":
		return u.setAudience("all")
	case dataAud + "area":
		d.Step = stepArea
		u.say("bc_ask_area", u.dropRow())
	case dataAud + "expr":
		d.Step = stepExpr
		u.say("bc_ask_expr", u.dropRow())
	default:
		d.Step = stepAud
		u.askAudience()
	}
	return nil
}

// takeArea matches a typed ward name, or takes a tapped match.
func (u *wturn) takeArea() error {
	in := u.t.In
	if code, ok := strings.CutPrefix(in.Data, wardPrefix); ok && in.Kind == bot.InButton {
		return u.setAudience("area:" + code)
	}
	if in.Kind == bot.InButton {
		return u.takeAudience()
	}
	if in.Kind != bot.InText || u.w.cfg.Areas == nil {
		u.say("bc_ask_area", u.dropRow())
		return nil
	}
	if a, ok := u.w.cfg.Areas.Lookup(strings.TrimSpace(in.Text)); ok {
		return u.setAudience("area:" + a.Code)
	}
	matches := u.w.cfg.Areas.Match(in.Text, maxWards)
	if len(matches) == 0 {
		u.say("bc_area_none", u.dropRow())
		return nil
	}
	var rows [][]bot.Button
	for _, a := range matches {
		rows = append(rows, []bot.Button{{Text: a.Name, Data: wardPrefix + a.Code}})
	}
	u.say("bc_area_pick", append(rows, u.dropRow())...)
	return nil
}

// setAudience checks an expression and shows who it reaches now.
func (u *wturn) setAudience(src string) error {
	d := u.draft()
	aud, err := Parse(src)
	var errs []error
	if err != nil {
		errs = []error{err}
	} else {
		env := u.w.cfg.Env(u.t.Now)
		errs = Validate(aud, knownFor(env))
	}
	if len(errs) > 0 {
		d.Step = stepExpr
		u.sayText(u.text("bc_bad_audience", map[string]string{"errors": joinErrs(errs)}), u.dropRow())
		return nil
	}
	n, err := u.w.cfg.Store.CountAudience(u.ctx, aud, u.w.cfg.Rules, u.t.Now)
	if err != nil {
		return fmt.Errorf("broadcast wizard: count: %w", err)
	}
	d.Audience, d.Step = aud.String(), stepWhen
	u.sayText(u.text("bc_count", countVars(n, d.Audience)))
	u.say("bc_ask_when",
		[]bot.Button{{Text: u.text("bc_when_now", nil), Data: dataWhen + "now"}},
		[]bot.Button{{Text: u.text("bc_when_tomorrow", nil), Data: dataWhen + "tomorrow"}},
		u.dropRow())
	return nil
}

func countVars(n Count, audience string) map[string]string {
	return map[string]string{
		"recipients": thousands(n.Recipients), "matched": thousands(n.Matched), "audience": audience,
		"consent": thousands(n.NoConsent), "unreached": thousands(n.Unreachable), "window": thousands(n.Window),
	}
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("• " + strings.TrimPrefix(e.Error(), "audience: "))
	}
	return b.String()
}

// knownFor is what an audience's names are checked against.
func knownFor(env Env) Known {
	k := env.Known
	if env.Flows != nil {
		k.Flows = func(id string) ([]string, bool) {
			f, ok := env.Flows.Flow(id)
			if !ok {
				return nil, false
			}
			steps := make([]string, len(f.Steps))
			for i, st := range f.Steps {
				steps[i] = st.ID
			}
			return steps, true
		}
		k.FlowIDs = nil
		for _, f := range env.Flows.Flows() {
			k.FlowIDs = append(k.FlowIDs, f.ID)
		}
	}
	return k
}

func (u *wturn) takeWhen() error {
	in, d := u.t.In, u.draft()
	env := u.w.cfg.Env(u.t.Now)
	loc := cmp.Or(env.Location, time.UTC)
	switch {
	case in.Kind == bot.InButton && in.Data == dataWhen+"now":
		d.When = "now"
	case in.Kind == bot.InButton && in.Data == dataWhen+"tomorrow":
		y, m, day := u.t.Now.In(loc).Date()
		at := time.Date(y, m, day+1, 0, 0, 0, 0, loc).Add(u.w.cfg.Morning)
		d.When = at.Format("2006-01-02 15:04")
	case in.Kind == bot.InText:
		at, ok := parseWhen(in.Text, u.t.Now.In(loc))
		if !ok {
			u.say("bc_bad_when", u.dropRow())
			return nil
		}
		d.When = at.Format("2006-01-02 15:04")
	default:
		u.say("bc_ask_when",
			[]bot.Button{{Text: u.text("bc_when_now", nil), Data: dataWhen + "now"}},
			[]bot.Button{{Text: u.text("bc_when_tomorrow", nil), Data: dataWhen + "tomorrow"}},
			u.dropRow())
		return nil
	}
	return u.preview()
}

// parseWhen reads "2026-12-05 07:30", "05/12 07:30", "05/12/2026 7:30" or
// "7:30 05/12" in now's location; a date without a year is the next one.
func parseWhen(s string, now time.Time) (time.Time, bool) {
	s = strings.Join(strings.Fields(strings.ToLower(strings.NewReplacer("lúc", " ", "ngày", " ", "h", ":").Replace(s))), " ")
	for _, layout := range []string{"2006-01-02 15:04", "02/01/2006 15:04", "2/1/2006 15:04", "15:04 02/01/2006", "15:04 2/1/2006"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, t.After(now)
		}
	}
	for _, layout := range []string{"02/01 15:04", "2/1 15:04", "15:04 02/01", "15:04 2/1"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			t = time.Date(now.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
			if !t.After(now) {
				t = t.AddDate(1, 0, 0)
			}
			return t, true
		}
	}
	return time.Time{}, false
}

// preview checks the whole draft, sends the organizer the very message
// residents will get, and asks to confirm with the exact count.
func (u *wturn) preview() error {
	d := u.draft()
	b, aud, errs := Compose(u.draftOf(), u.w.cfg.Env(u.t.Now))
	if len(errs) > 0 {
		u.sayText(u.text("bc_bad_draft", map[string]string{"errors": joinErrs(errs)}), u.dropRow())
		d.Step = stepText
		d.Text, d.Image, d.Buttons = "", "", nil
		return nil
	}
	n, err := u.w.cfg.Store.CountAudience(u.ctx, aud, u.w.cfg.Rules, u.t.Now)
	if err != nil {
		return fmt.Errorf("broadcast wizard: count: %w", err)
	}
	d.Step = stepConfirm
	prev := bot.Outbound{Text: b.Text}
	if b.Image != "" {
		prev.Media = &bot.Media{Kind: bot.MediaPhoto, Ref: b.Image}
	}
	for _, btn := range b.Buttons {
		prev.Buttons = append(prev.Buttons, []bot.Button{{Text: btn.Label, Data: flows.DataOpen(btn.Target())}})
	}
	prev.Buttons = append(prev.Buttons, []bot.Button{{Text: u.text("unsubscribe_button", nil), Data: dataWizard + "preview"}})
	u.say("bc_preview_intro")
	u.plan.Out = append(u.plan.Out, prev)
	when := u.text("bc_when_now", nil)
	if d.When != "now" {
		when = d.When
	}
	vars := countVars(n, d.Audience)
	vars["when"] = when
	u.sayText(u.text("bc_confirm", vars),
		[]bot.Button{{Text: u.text("bc_send_button", nil), Data: dataSend}},
		u.dropRow())
	return nil
}

func (u *wturn) draftOf() Draft {
	d := u.draft()
	dr := Draft{Text: d.Text, Image: d.Image, Buttons: d.Buttons, Audience: d.Audience,
		By: string(u.t.In.Key.Channel) + ":" + u.t.In.UserID, Expires: 24 * time.Hour}
	if d.When == "now" {
		dr.Now = true
	} else {
		dr.At = d.When
	}
	return dr
}

func (u *wturn) takeConfirm() error {
	in := u.t.In
	if in.Kind != bot.InButton || in.Data != dataSend {
		if in.Data == dataWizard+"preview" {
			u.plan.Ack = bot.Ack{Text: u.text("bc_preview_tap", nil)}
			return nil
		}
		u.say("bc_confirm_again", []bot.Button{{Text: u.text("bc_send_button", nil), Data: dataSend}}, u.dropRow())
		return nil
	}
	b, _, errs := Compose(u.draftOf(), u.w.cfg.Env(u.t.Now))
	if len(errs) > 0 { // the time passed while the organizer looked
		u.draft().Step = stepWhen
		u.sayText(u.text("bc_bad_draft", map[string]string{"errors": joinErrs(errs)}), u.dropRow())
		return nil
	}
	b.ProgressChat = in.Key
	// once per update: a re-delivered confirmation finds this broadcast
	b.Source = in.Key.String() + ":" + in.UpdateID
	id, err := u.w.cfg.Store.CreateBroadcast(u.ctx, b)
	if err != nil {
		return fmt.Errorf("broadcast wizard: create: %w", err)
	}
	u.plan.Conv.Draft = nil
	u.plan.Ack = bot.Ack{Text: u.text("bc_created_ack", nil)}
	u.sayText(u.text("bc_created", map[string]string{"id": strconv.FormatInt(id, 10)}))
	if u.w.cfg.Wake != nil {
		u.w.cfg.Wake()
	}
	return nil
}
