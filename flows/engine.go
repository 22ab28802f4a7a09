package flows

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Engine limits.
const (
	maxBack        = 20            // entries kept in State.Back
	maxInput       = 4096          // bytes of typed text the engine looks at
	maxAnswer      = 500           // runes of a text answer kept in State.Vars
	maxName        = 128           // runes of a display name kept
	awayAfter      = 6 * time.Hour // silence after which a resident is welcomed back
	defaultRetries = 2
	defaultLang    = "vi"
)

// machine is one Advance call: a working copy of the state and the result
// being built.
type machine struct {
	s    *Set
	st   State
	lang string
	now  time.Time
	res  Result

	// signal is the signal found in the typed text, if any (see typed).
	signal *keyword
	// pending is the "remind me later" question this input may answer
	// (State.Remind when it came in; cleared from the state meanwhile).
	pending pendingRemind
	// link is the verdict of the answer to a link question (see answer).
	link LinkCheck
}

// Advance is the engine: from a resident's state and one input it returns
// the new state, the messages to send (at least one, unless the input asked
// for a reminder: see Result.Remind), analytics events and, when a human is
// needed, a Handoff. It is pure: the same arguments always give the same
// result, and st is not modified. now is the resident's clock too: a typed
// reminder date is read in now's location.
func (s *Set) Advance(st State, in Input, now time.Time) Result {
	m := &machine{s: s, st: cloneState(st), now: now}
	m.pending, m.st.Remind = s.pendingRemind(m.st.Remind), ""
	if name := strings.TrimSpace(clip(in.Name, 4*maxName)); name != "" {
		m.st.Vars["name"] = clipRunes(name, maxName)
	}
	m.lang = defaultLang
	if slices.Contains(s.langs, m.st.Lang) {
		m.lang = m.st.Lang
	}
	if m.st.Flow != "" {
		if _, cur, ok := s.step(m.st.Flow, m.st.Step); !ok || (cur.Say == nil && cur.Ask == nil) {
			// The content changed under the resident (or the state names a
			// step one cannot wait at): treat them as idle.
			m.st.Flow, m.st.Step, m.st.Attempts, m.st.Back = "", "", 0, nil
		}
	}
	away := !st.Seen.IsZero() && now.Sub(st.Seen) >= awayAfter
	var placed []string
	for _, k := range sortedKeys(in.Place) {
		if _, saved := m.st.Vars[k]; !saved && varPattern.MatchString(k) {
			m.st.Vars[k] = in.Place[k]
			placed = append(placed, k)
		}
	}

	switch in.Kind {
	case InputStart:
		m.start(in.Args)
	case InputText:
		m.typed(in.Text, away)
	case InputButton:
		m.button(in.Data)
	case InputCommand:
		m.command(in.Command, in.Args)
	}
	if len(m.res.Out) == 0 && m.res.Remind == nil {
		m.say("not_understood")
		m.menu()
	}
	m.st.Seen = now
	for _, k := range placed {
		delete(m.st.Vars, k)
	}
	if len(m.st.Vars) == 0 {
		m.st.Vars = nil
	}
	if len(m.st.Back) == 0 {
		m.st.Back = nil
	}
	m.res.State = m.st
	return m.res
}

func cloneState(st State) State {
	st.Vars = maps.Clone(st.Vars)
	if st.Vars == nil {
		st.Vars = map[string]string{}
	}
	st.Back = slices.Clone(st.Back)
	return st
}

// --- inputs -----------------------------------------------------------------

func (m *machine) start(args string) {
	m.leave()
	m.say("greeting")
	// A deep link (/start install_vneid) opens that flow directly.
	if f, ok := m.s.flows[strings.ToLower(strings.TrimSpace(args))]; ok && f.ID != VolunteerFlow {
		m.enter(f.ID, f.Start, "")
		return
	}
	m.menu()
}

func (m *machine) command(cmd, args string) {
	switch strings.ToLower(strings.TrimPrefix(strings.TrimSpace(cmd), "/")) {
	case "start":
		m.start(args)
	case "menu":
		m.menu()
	case "help":
		m.say("help")
		m.menu()
	case "lang", "language":
		if code := strings.ToLower(strings.TrimSpace(args)); slices.Contains(m.s.langs, code) {
			m.setLang(code)
			return
		}
		m.langPrompt()
	case "back":
		m.back()
	default:
		m.say("not_understood")
		m.menu()
	}
}

func (m *machine) button(data string) {
	switch {
	case data == dataBack:
		m.back()
		return
	case data == dataMenu:
		m.menu()
		return
	case data == dataHuman:
		m.human()
		return
	case data == dataCancel:
		m.say("handoff_none")
		m.menu()
		return
	case data == dataRetry:
		m.retry()
		return
	case data == dataLang:
		m.langPrompt()
		return
	case data == DataSubscribe || data == DataUnsubscribe:
		m.consent(data == DataSubscribe)
		return
	case strings.HasPrefix(data, dataOpen):
		target := data[len(dataOpen):]
		if m.s.OpenTarget(target) != nil {
			m.stale()
			return
		}
		from := ""
		if m.st.Flow != "" {
			from = m.st.Flow + "/" + m.st.Step
		}
		m.enterFlow(target, from)
		return
	case strings.HasPrefix(data, dataLang):
		if code := data[len(dataLang):]; slices.Contains(m.s.langs, code) {
			m.setLang(code)
			return
		}
		m.stale()
		return
	}
	r, ok := m.s.refs[data]
	if !ok {
		m.stale()
		return
	}
	f, st, ok := m.s.step(r.flow, r.step)
	if !ok {
		m.stale()
		return
	}
	switch r.kind {
	case refMenu:
		m.leave()
		m.enter(f.ID, f.Start, "")
		return
	case refRemind: // wherever the resident is: they do not move
		m.askWhen(f.ID, st.ID, r.target)
		return
	case refRemindWhen:
		m.remindChoice(f.ID, r.target, r.when)
		return
	}
	if m.st.Flow == "" && st.ID != f.Start {
		m.say("restart")
		m.menu()
		return
	}
	from := f.ID + "/" + st.ID
	switch r.kind {
	case refGoto, refNext:
		m.enter(f.ID, r.target, from)
	case refFlow:
		m.enterFlow(r.target, from)
	case refAnswer:
		m.save(st, r.target)
		m.enter(f.ID, st.Next, from)
	}
}

// typed handles free text: a signal, an answer to the current question, a
// typed button, a way-out word, a flow keyword — in that order. A signal of
// the flow the resident is in waits until that flow's answers and buttons
// have had their turn.
func (m *machine) typed(raw string, away bool) {
	text := clip(raw, maxInput)
	key := MatchKey(text)
	if m.pending.flow != "" && m.remindTyped(key, away) {
		return
	}
	// At a link question a pasted link is the answer, whatever words (a
	// signal: "link", "nhận quà") come with it: the verdict is what the
	// resident asked for.
	if f, st, ok := m.s.step(m.st.Flow, m.st.Step); ok && st.Ask != nil && st.Ask.Type == "link" {
		if v, ok := m.answer(st.Ask, text, key); ok {
			m.save(st, v)
			m.enter(f.ID, st.Next, f.ID+"/"+st.ID)
			return
		}
	}
	if sg, ok := m.s.signal(key); ok {
		if sg.flow != m.st.Flow {
			m.signalled(sg)
			return
		}
		m.signal = &sg // freeAction takes it after the flow's own answers
	}
	if m.st.Flow == "" {
		if greetWords[key] {
			m.start("")
			return
		}
		if m.menuTyped(key) || m.freeAction(key) {
			return
		}
		m.say("not_understood")
		m.menu()
		return
	}
	f, st, _ := m.s.step(m.st.Flow, m.st.Step)
	if a := st.Ask; a != nil {
		if a.Type == "text" && a.Pattern == "" && m.s.global(key, true) != "" {
			m.freeAction(key) // "menu" is a way out, not a name
			return
		}
		if v, ok := m.answer(a, text, key); ok {
			m.save(st, v)
			m.enter(f.ID, st.Next, f.ID+"/"+st.ID)
			return
		}
		if m.freeAction(key) {
			return
		}
		if away {
			m.welcomeBack()
			return
		}
		m.invalid(f, st)
		return
	}
	if m.pressTyped(f, st, key) || m.freeAction(key) {
		return
	}
	if away {
		m.welcomeBack()
		return
	}
	m.say("not_understood")
	m.reshow()
}

// freeAction runs a way-out word, or the signal of the typed text (found by
// typed), or starts the flow whose keyword the text contains.
func (m *machine) freeAction(key string) bool {
	switch m.s.global(key, false) {
	case actMenu:
		m.menu()
		return true
	case actBack:
		m.back()
		return true
	case actHuman:
		m.human()
		return true
	}
	if m.signal != nil {
		m.signalled(*m.signal)
		return true
	}
	for _, kw := range m.s.offers {
		if containsWords(key, kw.key) {
			m.offer("escalate_offer")
			return true
		}
	}
	for _, kw := range m.s.keywords {
		if containsWords(key, kw.key) {
			f := m.s.flows[kw.flow]
			m.leave()
			m.enter(f.ID, cmp.Or(kw.step, f.Start), "")
			return true
		}
	}
	return false
}

// signalled opens what a signal leads to. The resident's place is kept on the
// back stack: after the warning, ⬅️ Quay lại returns to the step they were at.
func (m *machine) signalled(sg keyword) {
	f := m.s.flows[sg.flow]
	from := ""
	if m.st.Flow != "" {
		from = m.st.Flow + "/" + m.st.Step
	}
	m.enter(f.ID, cmp.Or(sg.step, f.Start), from)
}

// menuTyped picks a main-menu entry by number or title.
func (m *machine) menuTyped(key string) bool {
	if n, ok := ordinal(key); ok {
		if n <= len(m.s.menu) {
			f := m.s.menu[n-1]
			m.enter(f.ID, f.Start, "")
			return true
		}
		return false
	}
	for _, f := range m.s.menu {
		if key != "" && m.s.anyKey(f.Title, key) {
			m.enter(f.ID, f.Start, "")
			return true
		}
	}
	return false
}

// pressTyped matches typed text to a button of the current message step: its
// number, its label, or a "continue" word.
func (m *machine) pressTyped(f *Flow, st *Step, key string) bool {
	from := f.ID + "/" + st.ID
	if n, ok := ordinal(key); ok {
		switch {
		case n <= len(st.Buttons):
			m.press(f, st, n-1)
			return true
		case n == len(st.Buttons)+1 && st.Next != "":
			m.enter(f.ID, st.Next, from)
			return true
		}
		return false
	}
	if key == "" {
		return false
	}
	for i, b := range st.Buttons {
		if m.s.anyKey(b.Label, key) {
			m.press(f, st, i)
			return true
		}
	}
	if st.Next != "" && (continueWords[key] || m.s.anyKey(m.s.texts["nav_next"], key)) {
		m.enter(f.ID, st.Next, from)
		return true
	}
	return false
}

// consent records the resident's answer about broadcasts and confirms it.
// Answered at a step with subscribe/unsubscribe buttons, that flow is
// completed and the main menu follows; answered from anywhere else in a
// guide (the button under a broadcast), the resident stays there, with the
// way-out buttons under the confirmation.
func (m *machine) consent(yes bool) {
	m.res.Consent = "no"
	key := "consent_no"
	if yes {
		m.res.Consent, key = "yes", "consent_yes"
	}
	if m.st.Flow == "" {
		m.say(key)
		m.menu()
		return
	}
	_, st, _ := m.s.step(m.st.Flow, m.st.Step)
	if st != nil && slices.ContainsFunc(st.Buttons, func(b StepButton) bool { return b.Action != "" }) {
		m.say(key)
		m.event(EventFlowCompleted, m.st.Flow, m.st.Step)
		m.idle()
		m.out(m.s.menuOut(m.lang, m.st.Vars))
		return
	}
	m.out(Output{Text: m.text(key), Buttons: [][]Button{m.navRow()}})
}

// ConsentQuestion is the question asked of a resident who has never said
// whether they want broadcasts and reminders.
func (s *Set) ConsentQuestion(lang string) Output {
	return Output{Text: s.Text(lang, "consent_ask", nil), Buttons: [][]Button{{
		{Text: s.Text(lang, "consent_yes_button", nil), Data: DataSubscribe},
		{Text: s.Text(lang, "consent_no_button", nil), Data: DataUnsubscribe},
	}}}
}

// press acts as if button i of a message step was tapped.
func (m *machine) press(f *Flow, st *Step, i int) {
	b := st.Buttons[i]
	from := f.ID + "/" + st.ID
	switch {
	case b.Goto != "":
		m.enter(f.ID, b.Goto, from)
	case b.Flow != "":
		m.enterFlow(b.Flow, from)
	case b.Action != "":
		m.consent(b.Action == ActionSubscribe)
	case b.Remind != "":
		m.askWhen(f.ID, st.ID, b.Remind)
	default: // a link cannot be opened by typing: send it on its own
		label := m.loc(b.Label)
		m.out(Output{Text: label, Buttons: [][]Button{{{Text: label, URL: b.URL}}, m.navRow()}})
	}
}

// --- answers ----------------------------------------------------------------

// answer reads typed text as an answer to a question.
func (m *machine) answer(a *Ask, text, key string) (string, bool) {
	switch a.Type {
	case "choice":
		if n, ok := ordinal(key); ok {
			if n <= len(a.Choices) {
				return a.Choices[n-1].Value, true
			}
			return "", false
		}
		best, bestScore, tie := -1, 0, false
		for i, ch := range a.Choices {
			switch sc := m.s.choiceScore(ch, key); {
			case sc > bestScore:
				best, bestScore, tie = i, sc, false
			case sc == bestScore && sc > 0:
				tie = true
			}
		}
		if best >= 0 && !tie {
			return a.Choices[best].Value, true
		}
	case "yesno":
		if n, ok := ordinal(key); ok && n <= 2 {
			return []string{answerYes, answerNo}[n-1], true
		}
		if key != "" && m.s.anyKey(m.s.texts["yes"], key) {
			return answerYes, true
		}
		if key != "" && m.s.anyKey(m.s.texts["no"], key) {
			return answerNo, true
		}
		return yesNo(key)
	case "number":
		digits := strings.ReplaceAll(key, " ", "")
		if digits == "" || len(digits) > 18 || strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return "", false
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || (a.Min != nil && n < int64(*a.Min)) || (a.Max != nil && n > int64(*a.Max)) {
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	case "text":
		t := strings.TrimSpace(text)
		if t == "" {
			return "", false
		}
		if a.re != nil && !a.re.MatchString(t) {
			compact := strings.Join(strings.Fields(t), "")
			if !a.re.MatchString(compact) {
				return "", false
			}
			t = compact
		}
		return clipRunes(t, maxAnswer), true
	case "link":
		m.link = m.s.CheckLink(text)
		return m.link.Host, m.link.Host != ""
	}
	return "", false
}

// choiceScore rates how well a typed match key names a choice: an exact
// label, value or keyword beats a phrase found inside the text, which beats
// the text found inside a label.
func (s *Set) choiceScore(ch Choice, key string) int {
	if key == "" {
		return 0
	}
	best := candScore(s.matchKey(choiceValueText(ch.Value)), key)
	for _, v := range ch.Label {
		best = max(best, candScore(s.matchKey(v), key))
	}
	for _, kws := range ch.Keywords {
		for _, kw := range kws {
			best = max(best, candScore(s.matchKey(kw), key))
		}
	}
	return best
}

// choiceValueText is a choice's value as a resident could type it.
func choiceValueText(v string) string { return strings.ReplaceAll(v, "_", " ") }

// candScore is choiceScore for one of a choice's match keys, c.
func candScore(c, key string) int {
	switch {
	case c == "":
		return 0
	case c == key:
		return 1000 + len(c)
	case containsWords(key, c):
		return len(c)
	case len(key) >= 3 && containsWords(c, key):
		return len(key)
	}
	return 0
}

// save stores an answer; a link question's verdict and reason too.
func (m *machine) save(st *Step, v string) {
	if st.Ask != nil && st.Ask.Save != "" {
		m.st.Vars[st.Ask.Save] = v
	}
	if st.Ask != nil && st.Ask.Type == "link" {
		m.st.Vars[VarLinkVerdict], m.st.Vars[VarLinkReason] = m.link.Verdict, m.link.Reason
	}
}

// invalid answers a wrong answer: the invalid text and the question again,
// and after too many tries on_fail or an offer of a volunteer.
func (m *machine) invalid(f *Flow, st *Step) {
	a := st.Ask
	msg := m.text("invalid_answer")
	if a.Invalid != nil {
		msg = m.loc(a.Invalid)
	}
	retries := defaultRetries
	if a.Retries != nil {
		retries = *a.Retries
	}
	m.st.Attempts++
	if m.st.Attempts > retries {
		m.st.Attempts = 0
		if a.OnFail != "" {
			m.enter(f.ID, a.OnFail, f.ID+"/"+st.ID)
			return
		}
		m.offer("escalate_stuck")
		return
	}
	m.out(Output{Text: msg})
	m.reshow()
}

// offer offers a volunteer without opening a ticket: a short message with
// the volunteer button, "Thử lại" (the current step again, or the menu)
// and the main menu. The resident stays where they are.
func (m *machine) offer(key string) {
	m.out(Output{Text: m.text(key), Buttons: [][]Button{
		{{Text: m.text("nav_human"), Data: dataHuman}},
		{{Text: m.text("nav_retry"), Data: dataRetry}, {Text: m.text("nav_menu"), Data: dataMenu}},
	}})
}

// --- moves ------------------------------------------------------------------

// enter shows a step (following branches), pushing from on the back stack.
func (m *machine) enter(flow, step, from string) {
	for hops := 0; ; hops++ {
		f, st, ok := m.s.step(flow, step)
		if !ok || hops > branchHops {
			m.say("error")
			m.menu()
			return
		}
		if st.Branch != nil {
			step = pickCase(st.Branch, m.st.Vars)
			continue
		}
		if flow != m.st.Flow {
			if m.st.Flow != "" {
				m.event(EventFlowAbandoned, m.st.Flow, m.st.Step)
			}
			m.event(EventFlowStarted, flow, step)
			m.st.Flow = flow
		}
		if from != "" && from != flow+"/"+step {
			m.push(from)
		}
		m.st.Step, m.st.Attempts = step, 0
		m.event(EventStepEntered, flow, step)
		switch {
		case st.Handoff != nil:
			m.out(m.s.handoffOut(st, m.lang, m.st.Vars))
			m.res.Handoff = &Handoff{Flow: flow, Step: step, Reason: st.Handoff.Reason, At: flow + "/" + step}
			m.event(EventEscalated, flow, step)
			m.idle()
		case st.End != nil:
			m.out(Output{Text: m.loc(st.End), Image: st.image})
			m.event(EventFlowCompleted, flow, step)
			m.idle()
			m.res.Out = append(m.res.Out, m.s.menuOut(m.lang, m.st.Vars))
		default:
			o := m.s.render(f, st, m.lang, m.st.Vars)
			o.Image = st.image
			m.out(o)
		}
		return
	}
}

// enterFlow follows a `flow:` target ("flow" or "flow#step").
func (m *machine) enterFlow(target, from string) {
	id, step, _ := strings.Cut(target, "#")
	f, ok := m.s.flows[id]
	if !ok {
		m.stale()
		return
	}
	if step == "" {
		step = f.Start
	}
	m.enter(id, step, from)
}

func pickCase(cases []Case, vars map[string]string) string {
	for _, c := range cases {
		if c.If == nil {
			return c.Else
		}
		if c.If.holds(vars) {
			return c.Goto
		}
	}
	return ""
}

// holds evaluates the condition; comparisons ignore case and diacritics.
func (c *Cond) holds(vars map[string]string) bool {
	v, set := vars[c.Var]
	set = set && v != ""
	nv := Normalize(v)
	switch {
	case c.Eq != nil:
		return set && nv == Normalize(*c.Eq)
	case c.Ne != nil:
		return nv != Normalize(*c.Ne)
	case c.In != nil:
		return set && slices.ContainsFunc(c.In, func(x string) bool { return Normalize(x) == nv })
	case c.Set != nil:
		return *c.Set == set
	}
	return false
}

func (m *machine) back() {
	for len(m.st.Back) > 0 {
		top := m.st.Back[len(m.st.Back)-1]
		m.st.Back = m.st.Back[:len(m.st.Back)-1]
		flow, step, _ := strings.Cut(top, "/")
		if _, st, ok := m.s.step(flow, step); ok && (st.Say != nil || st.Ask != nil) {
			m.enter(flow, step, "")
			return
		}
	}
	m.menu()
}

func (m *machine) human() {
	f, ok := m.s.flows[VolunteerFlow]
	if !ok {
		m.say("error")
		m.menu()
		return
	}
	wasFlow, wasStep := m.st.Flow, m.st.Step
	m.enter(f.ID, f.Start, "")
	if h := m.res.Handoff; h != nil && wasFlow != "" {
		h.Flow, h.Step = wasFlow, wasStep
	}
}

func (m *machine) langPrompt() {
	names := m.s.texts["lang_name"]
	rows := make([][]Button, 0, len(m.s.langs)+1)
	for _, l := range m.s.langs {
		label := strings.TrimSpace(names[l])
		if label == "" {
			label = strings.ToUpper(l)
		}
		rows = append(rows, []Button{{Text: label, Data: dataLang + l}})
	}
	rows = append(rows, []Button{{Text: m.text("nav_menu"), Data: dataMenu}})
	m.out(Output{Text: m.text("lang_prompt"), Buttons: rows})
}

func (m *machine) setLang(code string) {
	m.st.Lang, m.lang = code, code
	m.say("lang_set")
	if m.st.Flow != "" {
		m.reshow()
		return
	}
	m.menu()
}

// retry shows the current step again with a fresh count of wrong answers
// (the main menu when idle).
func (m *machine) retry() {
	if m.st.Flow == "" {
		m.menu()
		return
	}
	m.st.Attempts = 0
	m.reshow()
}

func (m *machine) stale() {
	m.res.Stale = true
	m.say("stale_button")
	m.menu()
}

func (m *machine) welcomeBack() {
	m.say("welcome_back")
	m.reshow()
}

// reshow shows the current step again, without events.
func (m *machine) reshow() {
	f, st, ok := m.s.step(m.st.Flow, m.st.Step)
	if !ok {
		m.menu()
		return
	}
	m.out(m.s.render(f, st, m.lang, m.st.Vars))
}

// menu leaves any flow and shows the main menu.
func (m *machine) menu() {
	m.leave()
	m.out(m.s.menuOut(m.lang, m.st.Vars))
}

// leave abandons the current flow, if any.
func (m *machine) leave() {
	if m.st.Flow != "" {
		m.event(EventFlowAbandoned, m.st.Flow, m.st.Step)
	}
	m.idle()
}

func (m *machine) idle() {
	m.st.Flow, m.st.Step, m.st.Attempts, m.st.Back = "", "", 0, nil
}

func (m *machine) push(loc string) {
	if n := len(m.st.Back); n > 0 && m.st.Back[n-1] == loc {
		return
	}
	m.st.Back = append(m.st.Back, loc)
	if n := len(m.st.Back); n > maxBack {
		m.st.Back = slices.Clone(m.st.Back[n-maxBack:])
	}
}

func (m *machine) event(kind EventKind, flow, step string) {
	e := Event{Kind: kind, Flow: flow, Step: step, At: m.now}
	if f, ok := m.s.flows[flow]; ok {
		e.Version = f.Version
	}
	m.res.Events = append(m.res.Events, e)
}

func (m *machine) out(o Output) { m.res.Out = append(m.res.Out, o) }

func (m *machine) say(key string) { m.out(Output{Text: m.text(key)}) }

func (m *machine) text(key string) string { return m.s.Text(m.lang, key, m.st.Vars) }

func (m *machine) loc(t Text) string { return m.s.format(t, m.lang, m.st.Vars) }

func (m *machine) navRow() []Button { return m.s.navRow(m.lang, m.st.Vars) }

// --- rendering ----------------------------------------------------------------

// Text returns a locale text in lang (falling back to vi) with {var}
// placeholders substituted from vars. An unknown key returns the key itself.
func (s *Set) Text(lang, key string, vars map[string]string) string {
	t, ok := s.texts[key]
	if !ok {
		return key
	}
	return s.format(t, lang, vars)
}

// HandoffOutput is the message of the handoff step at ("flow/step", as in
// Handoff.At), rendered for lang with vars: what Advance shows when the
// step is reached. The core shows it later when it first asks a question
// or two before opening the ticket.
func (s *Set) HandoffOutput(at, lang string, vars map[string]string) (Output, bool) {
	flow, step, _ := strings.Cut(at, "/")
	_, st, ok := s.step(flow, step)
	if !ok || st.Handoff == nil {
		return Output{}, false
	}
	return s.handoffOut(st, lang, vars), true
}

func (s *Set) handoffOut(st *Step, lang string, vars map[string]string) Output {
	return Output{Text: s.format(st.Handoff.Say, lang, vars),
		Buttons: [][]Button{{{Text: s.Text(lang, "handoff_cancel", vars), Data: dataCancel}}}}
}

// Menu returns the main menu: the prompt with one button per menu flow, the
// language button and the volunteer button.
func (s *Set) Menu(lang string) []Output { return []Output{s.menuOut(lang, nil)} }

func (s *Set) menuOut(lang string, vars map[string]string) Output {
	rows := make([][]Button, 0, len(s.menu)+2)
	for _, f := range s.menu {
		rows = append(rows, []Button{{Text: s.format(f.Title, lang, vars), Data: s.menuData[f.ID]}})
	}
	rows = append(rows,
		[]Button{{Text: s.Text(lang, "menu_lang", vars), Data: dataLang}},
		[]Button{{Text: s.Text(lang, "nav_human", vars), Data: dataHuman}},
	)
	return Output{Text: s.Text(lang, "menu", vars), Buttons: rows}
}

func (s *Set) navRow(lang string, vars map[string]string) []Button {
	return []Button{
		{Text: s.Text(lang, "nav_back", vars), Data: dataBack},
		{Text: s.Text(lang, "nav_menu", vars), Data: dataMenu},
		{Text: s.Text(lang, "nav_human", vars), Data: dataHuman},
	}
}

// render shows a message or question step with its buttons and the way-out row.
func (s *Set) render(f *Flow, st *Step, lang string, vars map[string]string) Output {
	var o Output
	if a := st.Ask; a != nil {
		o.Text = s.format(a.Text, lang, vars)
		switch a.Type {
		case "choice":
			for i, ch := range a.Choices {
				o.Buttons = append(o.Buttons, []Button{{Text: s.format(ch.Label, lang, vars), Data: st.answers[i]}})
			}
		case "yesno":
			o.Buttons = append(o.Buttons, []Button{
				{Text: s.Text(lang, "yes", vars), Data: st.answers[0]},
				{Text: s.Text(lang, "no", vars), Data: st.answers[1]},
			})
		}
	} else {
		o.Text = s.format(st.Say, lang, vars)
		for i, b := range st.Buttons {
			btn := Button{Text: s.format(b.Label, lang, vars), Data: st.data[i]}
			if b.URL != "" {
				btn = Button{Text: btn.Text, URL: b.URL}
			}
			o.Buttons = append(o.Buttons, []Button{btn})
		}
		if st.nextData != "" {
			o.Buttons = append(o.Buttons, []Button{{Text: s.Text(lang, "nav_next", vars), Data: st.nextData}})
		}
	}
	o.Buttons = append(o.Buttons, s.navRow(lang, vars))
	return o
}

// format picks the language (falling back to vi) and substitutes {var}s.
func (s *Set) format(t Text, lang string, vars map[string]string) string {
	v := t[lang]
	if strings.TrimSpace(v) == "" {
		v = t[defaultLang]
	}
	if !strings.Contains(v, "{") {
		return v
	}
	return s.subst(v, lang, vars)
}

// subst replaces {var} with vars[var]. {name} without a name becomes the
// optional locale text name_default (or nothing, taking a space with it);
// other unknown placeholders are left as they are.
func (s *Set) subst(v, lang string, vars map[string]string) string {
	var b []byte
	for i := 0; i < len(v); {
		open := strings.IndexByte(v[i:], '{')
		if open < 0 {
			b = append(b, v[i:]...)
			break
		}
		open += i
		b = append(b, v[i:open]...)
		end := strings.IndexByte(v[open:], '}')
		if end < 0 {
			b = append(b, v[open:]...)
			break
		}
		end += open
		name := v[open+1 : end]
		val, ok := vars[name]
		if name == "name" && strings.TrimSpace(val) == "" {
			val, ok = strings.TrimSpace(s.texts["name_default"][lang]), true
			if val == "" {
				val = strings.TrimSpace(s.texts["name_default"][defaultLang])
			}
		}
		switch {
		case !ok || !varPattern.MatchString(name):
			b = append(b, v[open:end+1]...)
		case val == "":
			// Drop a space left dangling before a removed placeholder.
			if len(b) > 0 && b[len(b)-1] == ' ' && (end+1 == len(v) || strings.ContainsRune(" ,.!?:;)", rune(v[end+1]))) {
				b = b[:len(b)-1]
			}
		default:
			b = append(b, val...)
		}
		i = end + 1
	}
	return string(b)
}

// global returns the way-out action the typed text asks for: an exact way-out
// word or label, or (unless exact) one inside a short message.
func (s *Set) global(key string, exact bool) string {
	if key == "" {
		return ""
	}
	if a := globalAction(key); a != "" {
		return a
	}
	for _, nav := range []struct{ key, act string }{{"nav_menu", actMenu}, {"nav_back", actBack}, {"nav_human", actHuman}} {
		if s.anyKey(s.texts[nav.key], key) {
			return nav.act
		}
	}
	if exact || strings.Count(key, " ")+1 > maxGlobalWords {
		return ""
	}
	for _, g := range s.globals {
		if containsWords(key, g.key) {
			return g.flow
		}
	}
	return ""
}

// signal returns the longest signal phrase found in a match key.
func (s *Set) signal(key string) (keyword, bool) {
	for _, sg := range s.signals {
		if containsWords(key, sg.key) {
			return sg, true
		}
	}
	return keyword{}, false
}

// clipRunes cuts s to at most n runes.
func clipRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return strings.TrimRightFunc(s[:pos], unicode.IsSpace)
		}
		i++
	}
	return s
}

// --- reminders ----------------------------------------------------------------

// pendingRemind is a "remind me later" question waiting for a typed answer
// (State.Remind).
type pendingRemind struct {
	date       bool   // the date was asked ("🗓️ Chọn ngày"); else the when-question
	flow, step string // where the reminder resumes; "" = nothing pending
}

// State.Remind prefixes.
const (
	remindAskedWhen = "w:"
	remindAskedDate = "d:"
)

// pendingRemind reads State.Remind; a target the content no longer has is
// nothing pending.
func (s *Set) pendingRemind(marker string) pendingRemind {
	var p pendingRemind
	rest, ok := strings.CutPrefix(marker, remindAskedWhen)
	if !ok {
		rest, ok = strings.CutPrefix(marker, remindAskedDate)
		p.date = true
	}
	flow, step, _ := strings.Cut(rest, "#")
	if _, _, found := s.step(flow, step); !ok || !found || flow == VolunteerFlow {
		return pendingRemind{}
	}
	p.flow, p.step = flow, step
	return p
}

// askWhen asks when to remind, for a remind button of flow's step resuming
// at target. The resident stays where they are.
func (m *machine) askWhen(flow, step, target string) {
	m.st.Remind = remindAskedWhen + flow + "#" + target
	rows := make([][]Button, 0, len(remindWhens)+1)
	for _, w := range remindWhens {
		rows = append(rows, []Button{{Text: m.text(remindLabels[w]), Data: remindWhenData(flow, step, target, w)}})
	}
	m.out(Output{Text: m.text("remind_when"), Buttons: append(rows, m.remindNav())})
}

// askDate asks for the date of a reminder resuming flow at target.
func (m *machine) askDate(flow, target string) {
	m.st.Remind = remindAskedDate + flow + "#" + target
	m.out(Output{Text: m.text("remind_date_ask"), Buttons: [][]Button{m.remindNav()}})
}

// remindChoice answers the when-question. A reminder is reported in
// Result.Remind with nothing said: the core confirms it.
func (m *machine) remindChoice(flow, target, when string) {
	if when == remindPickDate {
		m.askDate(flow, target)
		return
	}
	m.res.Remind = &Remind{Flow: flow, Step: target, When: when}
}

// remindNav is the way-out row under the reminder questions: back shows the
// step the resident is at again (they never left it).
func (m *machine) remindNav() []Button {
	row := m.navRow()
	row[0].Data = dataRetry
	return row
}

// remindTyped reads typed text while a reminder question is pending: a
// when-answer or a date answers it. After the when-question anything else
// is read as usual; after the date question, a signal or a way-out word
// leaves, and anything else is asked again (unless the resident comes back
// after a while with something else to say).
func (m *machine) remindTyped(key string, away bool) bool {
	p := m.pending
	if w := m.remindWord(key); w != "" {
		m.remindChoice(p.flow, p.step, w)
		return true
	}
	date, looks := remindDate(key, m.now)
	if date != "" {
		m.res.Remind = &Remind{Flow: p.flow, Step: p.step, When: date}
		return true
	}
	if !p.date && !looks {
		return false
	}
	if sg, ok := m.s.signal(key); ok {
		m.signalled(sg)
		return true
	}
	switch m.s.global(key, false) {
	case actMenu:
		m.menu()
		return true
	case actBack:
		m.retry()
		return true
	case actHuman:
		m.human()
		return true
	}
	for _, kw := range m.s.offers {
		if containsWords(key, kw.key) {
			m.offer("escalate_offer")
			return true
		}
	}
	if away && !looks {
		return false
	}
	m.say("remind_date_invalid")
	m.askDate(p.flow, p.step)
	return true
}

// remindWords are typed answers to the when-question besides its labels.
var remindWords = map[string]string{
	"mai": RemindTomorrow, "ngay mai": RemindTomorrow, "sang mai": RemindTomorrow, "sang ngay mai": RemindTomorrow,
	"tomorrow": RemindTomorrow, "tomorrow morning": RemindTomorrow,
	"3 ngay": RemindIn3Days, "3 ngay nua": RemindIn3Days, "ba ngay": RemindIn3Days, "ba ngay nua": RemindIn3Days,
	"3 days": RemindIn3Days, "in 3 days": RemindIn3Days,
}

// remindWord reads typed text as an answer of the when-question: its
// number (right after the question), its label or a common phrase.
func (m *machine) remindWord(key string) string {
	if n, ok := ordinal(key); ok {
		if !m.pending.date && n <= len(remindWhens) {
			return remindWhens[n-1]
		}
		return ""
	}
	if key == "" {
		return ""
	}
	for _, w := range remindWhens {
		if m.s.anyKey(m.s.texts[remindLabels[w]], key) {
			return w
		}
	}
	return remindWords[key]
}

// remindDatePattern is a typed day and month, optionally a year, as a match
// key: "15/12", "05-01", "15.12.2026", "ngày 15/12", "mùng 5 tháng 1",
// "nhắc tôi ngày 15/12 nhé" ("/", "-" and "." are spaces in a match key).
var remindDatePattern = regexp.MustCompile(`^(?:nhac (?:toi |bac )?)?(?:vao )?(?:ngay )?(?:mung )?` +
	`(\d{1,2}) (?:thang )?(\d{1,2})(?: (?:nam )?(\d{4}|\d{2}))?(?: (?:a|nhe|nha|nhen))?$`)

// remindDate reads a typed reminder date (a match key) on now's calendar:
// the ISO date, or "" with looks reporting whether the text is written like
// a date at all. Without a year it is the next such day on or after today;
// a day that does not exist, is past, or is more than a year ahead is
// refused.
func remindDate(key string, now time.Time) (iso string, looks bool) {
	sub := remindDatePattern.FindStringSubmatch(key)
	if sub == nil {
		return "", false
	}
	day, _ := strconv.Atoi(sub[1])
	month, _ := strconv.Atoi(sub[2])
	y, mo, d := now.Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC) // a calendar day: no clock, no zone
	on := func(year int) (time.Time, bool) {
		t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return t, month >= 1 && month <= 12 && t.Day() == day && t.Month() == time.Month(month)
	}
	var t time.Time
	ok := false
	if sub[3] != "" {
		year, _ := strconv.Atoi(sub[3])
		if len(sub[3]) == 2 {
			year += 2000
		}
		t, ok = on(year)
	} else {
		for year := y; year <= y+1 && !ok; year++ {
			t, ok = on(year)
			ok = ok && !t.Before(today)
		}
	}
	if !ok || t.Before(today) || t.After(today.AddDate(1, 0, 0)) {
		return "", true
	}
	return t.Format(time.DateOnly), true
}
