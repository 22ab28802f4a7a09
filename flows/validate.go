package flows

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Channel text limits.
const (
	MaxTextZalo     = 2000 // characters
	MaxTextTelegram = 4096 // UTF-16 code units
)

// requiredTexts are the locale.yaml keys the engine and the core use.
var requiredTexts = []string{
	"greeting", "menu", "menu_lang", "lang_prompt", "lang_set", "help", "nav_back", "nav_menu", "nav_human",
	"nav_next", "not_understood", "stale_button", "restart", "welcome_back", "invalid_answer", "yes", "no",
	"pii_warning", "handoff_waiting", "handoff_cancel", "handoff_cancelled", "handoff_none", "edited", "media",
	"error", "stopped", "nav_retry", "escalate_offer", "escalate_stuck",
	"consent_ask", "consent_yes_button", "consent_no_button", "consent_yes", "consent_no",
	"unsubscribe_button", "broadcast_progress", "broadcast_report",
	"remind_when", "remind_tomorrow", "remind_3days", "remind_date", "remind_date_ask", "remind_date_invalid",
	"remind_set", "remind_cancel_button", "remind_cancelled", "remind_gone", "remind_message", "remind_open_button",
	"menu_reply", "menu_more", "menu_or", "menu_range", "protected",
}

// RequiredTexts returns the locale keys every deployment must define.
func RequiredTexts() []string { return slices.Clone(requiredTexts) }

var askTypes = []string{"choice", "number", "yesno", "text", "link"}

// branchHops bounds how many branch steps one transition may chain.
const branchHops = 32

// validator collects issues for one content set.
type validator struct {
	c      *content
	s      *Set
	today  string // YYYY-MM-DD; "" = no date checks
	maxAge int    // days a verified date may be old; < 0 = no age check
	issues []Issue
}

// validate checks everything; with a non-zero opts.Now, dates too.
func validate(c *content, s *Set, opts CheckOptions) []Issue {
	v := &validator{c: c, s: s, maxAge: -1}
	if !opts.Now.IsZero() {
		v.today = opts.Now.Format(time.DateOnly)
		switch {
		case opts.MaxAge == 0:
			v.maxAge = int(DefaultMaxAge / (24 * time.Hour))
		case opts.MaxAge > 0:
			v.maxAge = int(opts.MaxAge / (24 * time.Hour))
		}
	}
	for _, f := range s.order {
		v.flow(f)
	}
	v.links()
	v.reachability()
	v.keywords()
	v.locale()
	v.volunteer()
	v.callbacks()
	return v.issues
}

// at reports an issue in flow f at the YAML path.
func (v *validator) at(f *Flow, step string, kind IssueKind, path []any, format string, args ...any) {
	v.issues = append(v.issues, Issue{
		File: f.file, Line: lineOf(f.lines, path...), Flow: f.ID, Step: step, Kind: kind,
		Msg: fmt.Sprintf(format, args...),
	})
}

// text checks one translatable text: vi present, no language over a
// channel's limit.
func (v *validator) text(file string, line int, flow, step, what string, t Text) {
	if strings.TrimSpace(t["vi"]) == "" {
		v.issues = append(v.issues, Issue{File: file, Line: line, Flow: flow, Step: step, Kind: IssueMissingVi,
			Msg: what + " has no vi text"})
	}
	for _, lang := range sortedKeys(t) {
		chars := utf8.RuneCountInString(t[lang])
		units := len(utf16.Encode([]rune(t[lang])))
		if chars > MaxTextZalo || units > MaxTextTelegram {
			v.issues = append(v.issues, Issue{File: file, Line: line, Flow: flow, Step: step, Kind: IssueTooLong,
				Msg: fmt.Sprintf("%s (%s) is %d characters; Zalo allows %d, Telegram %d: split it into steps",
					what, lang, chars, MaxTextZalo, MaxTextTelegram)})
		}
	}
}

func (v *validator) ftext(f *Flow, step, what string, t Text, path ...any) {
	v.text(f.file, lineOf(f.lines, path...), f.ID, step, what, t)
}

func (v *validator) flow(f *Flow) {
	if has(f.lines, "title") || f.Menu > 0 {
		v.ftext(f, "", "title", f.Title, "title")
	}
	if has(f.lines, "menu") && f.Menu <= 0 {
		v.at(f, "", IssueSyntax, []any{"menu"}, "menu must be a position ≥ 1 (leave it out to keep the flow off the main menu)")
	}
	v.provenance(f.strict, f.lines, nil, []any{"id"}, "the flow", f.Sources, f.Verified, f.Owner,
		func(warning bool, kind IssueKind, path []any, msg string) {
			v.issues = append(v.issues, Issue{File: f.file, Line: lineOf(f.lines, path...), Flow: f.ID, Kind: kind, Msg: msg, Warning: warning})
		})
	if f.Topic != "" {
		if _, ok := v.s.texts["desk_category_"+f.Topic]; !ok || !idPattern.MatchString(f.Topic) {
			v.at(f, "", IssueSyntax, []any{"topic"}, "topic %q is not a desk category (a locale text desk_category_%s)", f.Topic, f.Topic)
		}
	}
	switch {
	case f.Start == "":
		v.at(f, "", IssueMissingStart, []any{"id"}, "no start: name the first step with `start:`")
	case f.steps[f.Start] == nil:
		v.at(f, "", IssueMissingStart, []any{"start"}, "start %q names no step of this flow", f.Start)
	}
	if len(f.Steps) == 0 {
		v.at(f, "", IssueBadStep, []any{"steps"}, "the flow has no steps")
	}
	seen := map[string]bool{}
	for i, st := range f.Steps {
		p := []any{"steps", i}
		if st == nil {
			v.at(f, "", IssueBadStep, p, "empty step")
			continue
		}
		switch {
		case st.ID == "":
			v.at(f, "", IssueBadStep, p, "step %d has no id", i+1)
		case !idPattern.MatchString(st.ID):
			v.at(f, st.ID, IssueBadStep, append(p, "id"), "step id %q must use only a-z, 0-9 and _", st.ID)
		case seen[st.ID]:
			v.at(f, st.ID, IssueBadStep, append(p, "id"), "step id %q is used twice in this flow", st.ID)
		}
		seen[st.ID] = true
		v.step(f, st, i)
	}
}

func (v *validator) step(f *Flow, st *Step, i int) {
	p := func(rest ...any) []any { return append([]any{"steps", i}, rest...) }
	var kinds []string
	for _, k := range []string{"say", "ask", "branch", "handoff", "end"} {
		if has(f.lines, p(k)...) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		found := "none"
		if len(kinds) > 0 {
			found = strings.Join(kinds, ", ")
		}
		v.at(f, st.ID, IssueBadStep, p(), "a step needs exactly one of say, ask, branch, handoff, end (found: %s)", found)
		return
	}
	kind := kinds[0]
	if has(f.lines, p("image")...) {
		switch {
		case kind != "say" && kind != "ask" && kind != "end":
			v.at(f, st.ID, IssueBadImage, p("image"), "only a say, ask or end step shows an image")
		case st.imageProblem != "":
			v.at(f, st.ID, IssueBadImage, p("image"), "%s", st.imageProblem)
		case st.image == "":
			v.at(f, st.ID, IssueBadImage, p("image"), "image is empty: name a PNG or JPEG file or an https:// address")
		}
	}
	if len(st.Buttons) > 0 && kind != "say" {
		v.at(f, st.ID, IssueBadStep, p("buttons"), "only a say step has buttons")
	}
	if st.Next != "" {
		if kind != "say" && kind != "ask" {
			v.at(f, st.ID, IssueBadStep, p("next"), "a %s step has no next", kind)
		} else {
			v.target(f, st.ID, st.Next, p("next"))
		}
	}
	switch kind {
	case "say":
		v.ftext(f, st.ID, "say", st.Say, p("say")...)
		v.long(f, st.ID, "say", st.Say, p("say"))
		if len(st.Buttons) == 0 && st.Next == "" {
			v.at(f, st.ID, IssueBadStep, p(), "a message needs buttons or next (use end: for the last message)")
		}
		for j, b := range st.Buttons {
			v.button(f, st, i, j, b)
		}
	case "ask":
		v.ask(f, st, i)
	case "branch":
		v.branch(f, st, i)
	case "handoff":
		if st.Handoff == nil || st.Handoff.Say == nil {
			v.at(f, st.ID, IssueBadStep, p("handoff"), "a handoff needs say: telling the resident what happens next")
		} else {
			v.ftext(f, st.ID, "handoff say", st.Handoff.Say, p("handoff", "say")...)
			v.long(f, st.ID, "handoff say", st.Handoff.Say, p("handoff", "say"))
		}
	case "end":
		v.ftext(f, st.ID, "end", st.End, p("end")...)
		v.long(f, st.ID, "end", st.End, p("end"))
	}
}

// target checks a step id of the same flow.
func (v *validator) target(f *Flow, step, target string, path []any) {
	if f.steps[target] == nil {
		v.at(f, step, IssueDangling, path, "%q names no step of flow %s", target, f.ID)
	}
}

func (v *validator) button(f *Flow, st *Step, i, j int, b StepButton) {
	p := []any{"steps", i, "buttons", j}
	if b.Label == nil {
		v.at(f, st.ID, IssueBadStep, p, "button %d has no label", j+1)
	} else {
		v.ftext(f, st.ID, fmt.Sprintf("button %d label", j+1), b.Label, append(p, "label")...)
	}
	n := 0
	for _, s := range []string{b.Goto, b.Flow, b.URL, b.Action, b.Remind} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		v.at(f, st.ID, IssueBadStep, p, "button %d needs exactly one of goto, flow, url, action, remind", j+1)
		return
	}
	switch {
	case b.Goto != "":
		v.target(f, st.ID, b.Goto, append(p, "goto"))
	case b.Remind != "":
		if f.ID == VolunteerFlow {
			v.at(f, st.ID, IssueBadStep, append(p, "remind"), "button %d: the volunteer flow cannot be resumed by a reminder", j+1)
		} else {
			v.target(f, st.ID, b.Remind, append(p, "remind"))
		}
	case b.Flow != "":
		id, step, _ := strings.Cut(b.Flow, "#")
		tf, ok := v.s.flows[id]
		switch {
		case !ok:
			v.at(f, st.ID, IssueDangling, append(p, "flow"), "flow %q does not exist", id)
		case step != "" && tf.steps[step] == nil:
			v.at(f, st.ID, IssueDangling, append(p, "flow"), "flow %s has no step %q", id, step)
		}
	case b.URL != "":
		if u, err := url.Parse(b.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.at(f, st.ID, IssueBadURL, append(p, "url"), "url %q must be an https:// address", b.URL)
		}
	case b.Action != ActionSubscribe && b.Action != ActionUnsubscribe:
		v.at(f, st.ID, IssueBadStep, append(p, "action"), "button %d: action %q is not %s or %s",
			j+1, b.Action, ActionSubscribe, ActionUnsubscribe)
	}
}

func (v *validator) ask(f *Flow, st *Step, i int) {
	p := func(rest ...any) []any { return append([]any{"steps", i, "ask"}, rest...) }
	a := st.Ask
	if a == nil {
		v.at(f, st.ID, IssueBadStep, p(), "ask is empty")
		return
	}
	if a.Text == nil {
		v.at(f, st.ID, IssueBadStep, p(), "ask needs text")
	} else {
		v.ftext(f, st.ID, "ask text", a.Text, p("text")...)
		v.long(f, st.ID, "ask text", a.Text, p("text"))
		if a.Type == "text" || a.Type == "number" {
			v.secret(f, st.ID, a.Text, p("text"))
		}
	}
	if a.Invalid != nil {
		v.ftext(f, st.ID, "invalid", a.Invalid, p("invalid")...)
	}
	if !slices.Contains(askTypes, a.Type) {
		v.at(f, st.ID, IssueBadStep, p("type"), "ask type %q must be one of %s", a.Type, strings.Join(askTypes, ", "))
	}
	if st.Next == "" {
		v.at(f, st.ID, IssueBadStep, p(), "a question needs next: where to go after the answer")
	}
	if a.Save != "" && !varPattern.MatchString(a.Save) {
		v.at(f, st.ID, IssueBadStep, p("save"), "save %q must use only letters, digits and _", a.Save)
	}
	if strings.HasPrefix(a.Save, "office_") {
		v.at(f, st.ID, IssueBadStep, p("save"), "save %q: names starting with office_ are the resident's offices, filled by gocua", a.Save)
	}
	if a.Save == VarLinkVerdict || a.Save == VarLinkReason {
		v.at(f, st.ID, IssueBadStep, p("save"), "save %q: %s and %s are set by every link question", a.Save, VarLinkVerdict, VarLinkReason)
	}
	if a.Type == "link" && len(v.c.links.lists.Official) == 0 {
		v.at(f, st.ID, IssueBadStep, p("type"), "a link question needs a links file (links.yaml) with an official: list")
	}
	if a.Type == "choice" && len(a.Choices) == 0 {
		v.at(f, st.ID, IssueBadStep, p("type"), "a choice question needs choices")
	}
	if a.Type != "choice" && len(a.Choices) > 0 {
		v.at(f, st.ID, IssueBadStep, p("choices"), "choices are only for type: choice")
	}
	values := map[string]bool{}
	for j, ch := range a.Choices {
		cp := p("choices", j)
		if ch.Value == "" {
			v.at(f, st.ID, IssueBadStep, cp, "choice %d has no value", j+1)
		} else if values[ch.Value] {
			v.at(f, st.ID, IssueBadStep, append(cp, "value"), "choice value %q is used twice", ch.Value)
		}
		values[ch.Value] = true
		if ch.Label == nil {
			v.at(f, st.ID, IssueBadStep, cp, "choice %d has no label", j+1)
		} else {
			v.ftext(f, st.ID, fmt.Sprintf("choice %d label", j+1), ch.Label, append(cp, "label")...)
		}
	}
	if (a.Min != nil || a.Max != nil) && a.Type != "number" {
		v.at(f, st.ID, IssueBadStep, p("type"), "min and max are only for type: number")
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		v.at(f, st.ID, IssueBadStep, p("min"), "min %d is greater than max %d", *a.Min, *a.Max)
	}
	if a.Pattern != "" {
		if a.Type != "text" {
			v.at(f, st.ID, IssueBadStep, p("pattern"), "pattern is only for type: text")
		}
		if _, err := regexp.Compile(a.Pattern); err != nil {
			v.at(f, st.ID, IssueBadPattern, p("pattern"), "pattern %q: %v", a.Pattern, err)
		}
	}
	if a.Retries != nil && *a.Retries < 0 {
		v.at(f, st.ID, IssueBadStep, p("retries"), "retries must be 0 or more")
	}
	if a.OnFail != "" {
		v.target(f, st.ID, a.OnFail, p("on_fail"))
	}
}

func (v *validator) branch(f *Flow, st *Step, i int) {
	p := func(rest ...any) []any { return append([]any{"steps", i, "branch"}, rest...) }
	if len(st.Branch) == 0 {
		v.at(f, st.ID, IssueBadStep, p(), "a branch needs cases and a final else")
		return
	}
	for j, c := range st.Branch {
		cp := p(j)
		last := j == len(st.Branch)-1
		switch {
		case c.Else != "" && c.If == nil && c.Goto == "":
			if !last {
				v.at(f, st.ID, IssueBadStep, cp, "else must be the last case")
			}
			v.target(f, st.ID, c.Else, append(cp, "else"))
		case c.If != nil && c.Goto != "" && c.Else == "":
			v.cond(f, st, c.If, append(cp, "if"))
			v.target(f, st.ID, c.Goto, append(cp, "goto"))
			if last {
				v.at(f, st.ID, IssueBadStep, cp, "a branch must end with else: so it always goes somewhere")
			}
		default:
			v.at(f, st.ID, IssueBadStep, cp, "each case is either if + goto, or else")
		}
	}
}

func (v *validator) cond(f *Flow, st *Step, c *Cond, path []any) {
	if c.Var == "" {
		v.at(f, st.ID, IssueBadStep, path, "if needs var")
	}
	n := 0
	if c.Eq != nil {
		n++
	}
	if c.Ne != nil {
		n++
	}
	if c.In != nil {
		n++
	}
	if c.Set != nil {
		n++
	}
	if n != 1 {
		v.at(f, st.ID, IssueBadStep, path, "if needs exactly one of eq, ne, in, set")
	}
}

// reachability reports steps that no path reaches: roots are every flow's
// start and every flow#step target; edges are goto, next, on_fail and branch
// targets. It also reports loops made only of branch steps.
func (v *validator) reachability() {
	reached := map[*Step]bool{}
	var visit func(f *Flow, id string)
	visit = func(f *Flow, id string) {
		st := f.steps[id]
		if st == nil || reached[st] {
			return
		}
		reached[st] = true
		for _, t := range stepTargets(st) {
			visit(f, t)
		}
	}
	for _, f := range v.s.order {
		visit(f, f.Start)
		for _, st := range f.Steps {
			if st == nil {
				continue
			}
			for _, b := range st.Buttons {
				if id, step, ok := strings.Cut(b.Flow, "#"); ok {
					if tf := v.s.flows[id]; tf != nil {
						visit(tf, step)
					}
				}
				if b.Remind != "" { // the reminder's button opens it
					visit(f, b.Remind)
				}
			}
		}
	}
	for _, f := range v.s.order {
		if f.steps[f.Start] == nil {
			continue // reported as missing-start; every step would be unreachable
		}
		for i, st := range f.Steps {
			if st != nil && f.index[st.ID] == i && !reached[st] {
				v.at(f, st.ID, IssueUnreachable, []any{"steps", i}, "step %q is never reached: no start, goto, next, on_fail, branch, remind or flow#step leads here", st.ID)
			}
		}
		v.branchLoops(f)
	}
}

// stepTargets lists the same-flow steps a step can lead to.
func stepTargets(st *Step) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	for _, b := range st.Buttons {
		add(b.Goto)
	}
	add(st.Next)
	if st.Ask != nil {
		add(st.Ask.OnFail)
	}
	for _, c := range st.Branch {
		add(c.Goto)
		add(c.Else)
	}
	return out
}

// branchLoops reports cycles made only of branch steps (they would never
// show anything).
func (v *validator) branchLoops(f *Flow) {
	for i, st := range f.Steps {
		if st == nil || st.Branch == nil || f.index[st.ID] != i {
			continue
		}
		// Depth-first search from st through branch steps, looking for st.
		var path []string
		onPath := map[string]bool{}
		var dfs func(id string) bool
		dfs = func(id string) bool {
			cur := f.steps[id]
			if cur == nil || cur.Branch == nil {
				return false
			}
			if id == st.ID && len(path) > 0 {
				return true
			}
			if onPath[id] {
				return false
			}
			onPath[id] = true
			path = append(path, id)
			for _, t := range stepTargets(cur) {
				if dfs(t) {
					return true
				}
			}
			path = path[:len(path)-1]
			return false
		}
		if !dfs(st.ID) {
			continue
		}
		// Report each loop once, at its first step in file order.
		first := true
		for _, id := range path {
			if f.index[id] < i {
				first = false
			}
		}
		if first {
			v.at(f, st.ID, IssueBadStep, []any{"steps", i, "branch"}, "branch loop: %s → %s shows nothing to the resident", strings.Join(path, " → "), st.ID)
		}
	}
}

// keywords checks the typed phrases: keywords and signals share one
// namespace (a phrase belongs to one flow), way-out words are reserved, and a
// keyword that contains a signal leading elsewhere is reported, because the
// signal always wins and the keyword could never match.
func (v *validator) keywords() {
	type phrase struct {
		f      *Flow
		step   string // "" = the flow's own keywords or signals
		path   []any
		what   string // "keyword" or "signal"
		kw     string
		choice bool // a choice's keyword: only typed at that question
	}
	var all []phrase
	add := func(f *Flow, step, what string, kws Keywords, path ...any) {
		for _, lang := range sortedKeys(kws) {
			for j, kw := range kws[lang] {
				all = append(all, phrase{f: f, step: step, path: append(slices.Clone(path), lang, j), what: what, kw: kw})
			}
		}
	}
	// In load order, so the flow added later (an organizer's) is the one blamed.
	byLoad := slices.Clone(v.s.order)
	slices.SortFunc(byLoad, func(a, b *Flow) int { return a.seq - b.seq })
	for _, f := range byLoad {
		add(f, "", "keyword", f.Keywords, "keywords")
		add(f, "", "signal", f.Signals, "signals")
		add(f, "", "offer phrase", f.Offer, "offer")
		for i, st := range f.Steps {
			if st == nil {
				continue
			}
			add(f, st.ID, "keyword", st.Keywords, "steps", i, "keywords")
			add(f, st.ID, "signal", st.Signals, "steps", i, "signals")
		}
	}

	type owner struct{ flow, kw string }
	owners := map[string]owner{}
	mine := map[*Flow]map[string]bool{}
	written := map[string]string{} // a signal's match key → the phrase as written
	for _, p := range all {
		k := MatchKey(p.kw)
		if _, ok := written[k]; !ok && p.what == "signal" {
			written[k] = p.kw
		}
		if mine[p.f] == nil {
			mine[p.f] = map[string]bool{}
		}
		switch {
		case k == "":
			v.at(p.f, p.step, IssueSyntax, p.path, "%s %q has no letters or digits", p.what, p.kw)
		case globalAction(k) != "":
			v.at(p.f, p.step, IssueDuplicateKeyword, p.path, "%s %q is reserved for the way-out buttons", p.what, p.kw)
		case mine[p.f][k]:
		default:
			if o, ok := owners[k]; ok {
				v.at(p.f, p.step, IssueDuplicateKeyword, p.path, "%s %q is also used by flow %s (%q)", p.what, p.kw, o.flow, o.kw)
			} else {
				owners[k] = owner{p.f.ID, p.kw}
			}
		}
		mine[p.f][k] = true
	}

	// Choice keywords are typed at their question only, where the signals of
	// the question's own flow wait for the answer.
	for _, f := range byLoad {
		for i, st := range f.Steps {
			if st == nil || st.Ask == nil {
				continue
			}
			for j, ch := range st.Ask.Choices {
				for _, lang := range sortedKeys(ch.Keywords) {
					for n, kw := range ch.Keywords[lang] {
						all = append(all, phrase{f: f, step: st.ID, path: []any{"steps", i, "ask", "choices", j, "keywords", lang, n},
							what: "keyword", kw: kw, choice: true})
					}
				}
			}
		}
	}
	dest := func(flow, step string) string {
		if f := v.s.flows[flow]; f != nil && step == "" {
			step = f.Start
		}
		return flow + "#" + step
	}
	for _, p := range all {
		k := MatchKey(p.kw)
		if p.what != "keyword" || k == "" {
			continue
		}
		for _, sg := range v.s.signals {
			exempt := sg.flow == p.f.ID && (p.choice || dest(sg.flow, sg.step) == dest(p.f.ID, p.step))
			if !exempt && containsWords(k, sg.key) {
				v.at(p.f, p.step, IssueDuplicateKeyword, p.path, "keyword %q contains the signal %q, which opens %s first: the keyword can never match (remove it, or make it a signal)",
					p.kw, written[sg.key], dest(sg.flow, sg.step))
				break
			}
		}
	}
}

func (v *validator) locale() {
	c := v.c
	if c.localeFile == "" {
		v.issues = append(v.issues, Issue{Kind: IssueMissingLocaleKey,
			Msg: "there is no locale.yaml with texts: (needs " + strings.Join(requiredTexts, ", ") + ")"})
	} else {
		for _, k := range requiredTexts {
			if _, ok := c.texts[k]; !ok {
				v.issues = append(v.issues, Issue{File: c.localeFile, Line: c.localeLine, Kind: IssueMissingLocaleKey,
					Msg: fmt.Sprintf("locale text %q is missing", k)})
			}
		}
	}
	for _, k := range sortedKeys(c.texts) {
		v.text(c.textFile[k], c.textLines[k], "", "", "locale text "+k, c.texts[k])
	}
}

func (v *validator) volunteer() {
	f, ok := v.s.flows[VolunteerFlow]
	if !ok {
		v.issues = append(v.issues, Issue{Flow: VolunteerFlow, Kind: IssueDangling,
			Msg: "there is no flow with id volunteer: the 🙋 button on every step needs one whose start is a handoff step"})
		return
	}
	if st := f.steps[f.Start]; st != nil && st.Handoff == nil {
		v.at(f, st.ID, IssueBadStep, []any{"steps", f.index[st.ID]}, "the volunteer flow must start with a handoff step")
	}
}

// callbacks checks every button's data against Telegram's 64-byte limit.
func (v *validator) callbacks() {
	for _, d := range sortedKeys(v.s.refs) {
		if len(d) <= MaxCallbackData {
			continue
		}
		r := v.s.refs[d]
		f := v.s.flows[r.flow]
		v.at(f, r.step, IssueCallbackTooLong, []any{"steps", f.index[r.step]}, "button data %q is %d bytes; Telegram allows %d", d, len(d), MaxCallbackData)
	}
	for _, l := range v.s.langs {
		if d := dataLang + l; len(d) > MaxCallbackData {
			v.issues = append(v.issues, Issue{File: v.c.textFile["lang_set"], Line: v.c.textLines["lang_set"], Kind: IssueCallbackTooLong,
				Msg: fmt.Sprintf("language %q makes the button data %q %d bytes; Telegram allows %d", l, d, len(d), MaxCallbackData)})
		}
	}
}
