package flows

import (
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Set is a loaded, validated collection of flows and locale texts. It is
// immutable and safe for concurrent use.
type Set struct {
	version string
	flows   map[string]*Flow
	order   []*Flow // by id
	menu    []*Flow // menu flows by (Menu, ID)
	texts   map[string]Text
	langs   []string // offered languages, "vi" first

	refs     map[string]ref    // callback data → what the button does
	menuData map[string]string // flow id → main-menu button data
	keywords []keyword         // longest first
	signals  []keyword         // keywords that win over everything typed, longest first
	globals  []keyword         // way-out phrases (flow = action), longest first
	offers   []keyword         // phrases that offer a volunteer, longest first

	images   map[string]*flowImage // "flow:" ref → image file, see OpenImage
	links    *Links                // the link checker's lists
	warnings []Issue               // what Load found worth fixing (see Warnings)

	// matchKeys holds MatchKey of every menu title, button label and
	// locale text, computed once here rather than for every typed message
	// (Normalize's Unicode decomposition dominated the engine's time).
	matchKeys map[string]string
}

// Warnings returns the warnings Load found (issues with Warning set: long
// messages, missing provenance outside Strict layers). Load reads no clock,
// so old verified dates are only reported by Check.
func (s *Set) Warnings() []Issue { return slices.Clone(s.warnings) }

// refKind says what a content button does.
type refKind uint8

const (
	refGoto       refKind = iota + 1 // goto a step of the same flow
	refFlow                          // start another flow (target "flow" or "flow#step")
	refNext                          // the "continue" button of a message step
	refAnswer                        // an answer of a question (target = saved value)
	refMenu                          // a main-menu button (flow = the flow to start)
	refRemind                        // a "remind me later" button (target = the step to resume at)
	refRemindWhen                    // an answer of its when-question (target as refRemind, when = the answer)
)

// ref is what a callback data string points at.
type ref struct {
	kind   refKind
	flow   string
	step   string
	target string
	when   string // refRemindWhen: RemindTomorrow, RemindIn3Days or remindPickDate
}

// The answers of the when-question of a "remind me later" button, in the
// order shown, and their locale labels.
const remindPickDate = "date" // "🗓️ Chọn ngày": ask for a date

var (
	remindWhens  = []string{RemindTomorrow, RemindIn3Days, remindPickDate}
	remindLabels = map[string]string{RemindTomorrow: "remind_tomorrow", RemindIn3Days: "remind_3days", remindPickDate: "remind_date"}
)

// remindWhenData is the data of an answer of the when-question asked by a
// remind button of flow's step (resuming at target).
func remindWhenData(flow, step, target, when string) string {
	return buttonData("s:", flow, step, "remind\x00"+target+"\x00"+when)
}

// keyword is a normalized phrase that starts a flow.
type keyword struct {
	key  string
	flow string
	step string // "" = the flow's start
}

// Reserved button data, shared with the core.
const (
	dataBack   = "nav:back"
	dataMenu   = "nav:menu"
	dataHuman  = "nav:human"
	dataCancel = "nav:cancel"
	dataRetry  = "nav:retry" // the way back from an offer of a volunteer: the current step again
	dataLang   = "lang:"     // + code; "lang:" alone opens the language prompt

	// VolunteerFlow is the flow nav:human starts; its start must be a handoff step.
	VolunteerFlow = "volunteer"
)

// MaxCallbackData is Telegram's limit on button data, in bytes.
const MaxCallbackData = 64

// Answer values saved by yes/no questions.
const (
	answerYes = "yes"
	answerNo  = "no"
)

// buttonData derives a stable, short callback data string from what the
// button is: the same content always yields the same data.
func buttonData(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + base32.StdEncoding.EncodeToString(sum[:8])[:12]
}

// build makes a Set from content, tolerating invalid content (validate
// reports it).
func build(c *content) *Set {
	s := &Set{
		version:  shortHash(c.hash),
		flows:    c.flows,
		texts:    c.texts,
		refs:     map[string]ref{},
		menuData: map[string]string{},
		links:    &c.links.lists,
		images:   map[string]*flowImage{},
	}
	for _, id := range sortedKeys(c.flows) {
		f := c.flows[id]
		s.order = append(s.order, f)
		f.steps, f.index = map[string]*Step{}, map[string]int{}
		for i, st := range f.Steps {
			if st == nil {
				continue
			}
			if _, dup := f.steps[st.ID]; !dup {
				f.steps[st.ID], f.index[st.ID] = st, i
			}
		}
		if f.Menu > 0 && f.ID != VolunteerFlow { // the menu always ends with the volunteer button
			s.menu = append(s.menu, f)
			d := buttonData("m:", "menu", f.ID)
			s.menuData[f.ID] = d
			s.refs[d] = ref{kind: refMenu, flow: f.ID, step: f.Start}
		}
		for _, st := range f.Steps {
			if st == nil {
				continue
			}
			s.stepData(f, st)
			if st.Image != "" {
				st.image, st.imageProblem = loadImage(f.layer, st.Image, s.images)
			}
			if a := st.Ask; a != nil && a.Pattern != "" {
				a.re, _ = regexp.Compile(a.Pattern) // nil if invalid: reported by validate
			}
		}
		s.keywords = appendKeywords(s.keywords, f, f.Keywords, func(st *Step) Keywords { return st.Keywords })
		s.signals = appendKeywords(s.signals, f, f.Signals, func(st *Step) Keywords { return st.Signals })
		s.offers = appendKeywords(s.offers, f, f.Offer, func(*Step) Keywords { return nil })
	}
	s.indexMatchKeys()
	if len(s.images) > 0 { // an image file changed changes the version too
		h := sha256.New()
		h.Write(c.hash)
		for _, ref := range sortedKeys(s.images) {
			h.Write([]byte("\x00" + ref))
		}
		s.version = shortHash(h.Sum(nil))
	}
	slices.SortStableFunc(s.menu, func(a, b *Flow) int { return cmp.Or(cmp.Compare(a.Menu, b.Menu), cmp.Compare(a.ID, b.ID)) })
	s.keywords, s.signals, s.offers = sortKeywords(s.keywords), sortKeywords(s.signals), sortKeywords(s.offers)

	for k, act := range globalWords {
		s.globals = append(s.globals, keyword{key: k, flow: act})
	}
	for _, nav := range []struct{ key, act string }{{"nav_menu", actMenu}, {"nav_back", actBack}, {"nav_human", actHuman}} {
		for _, l := range sortedKeys(c.texts[nav.key]) {
			if k := MatchKey(c.texts[nav.key][l]); k != "" {
				s.globals = append(s.globals, keyword{key: k, flow: nav.act})
			}
		}
	}
	slices.SortFunc(s.globals, func(a, b keyword) int {
		return cmp.Or(cmp.Compare(len(b.key), len(a.key)), cmp.Compare(a.key, b.key), cmp.Compare(a.flow, b.flow))
	})
	s.globals = slices.Compact(s.globals)

	if t := c.texts["lang_set"]; len(t) > 0 {
		for _, l := range sortedKeys(t) {
			if strings.TrimSpace(t[l]) != "" {
				s.langs = append(s.langs, l)
			}
		}
	}
	if !slices.Contains(s.langs, defaultLang) {
		s.langs = append(s.langs, defaultLang)
	}
	slices.SortStableFunc(s.langs, func(a, b string) int {
		rank := func(l string) int {
			if l == defaultLang {
				return 0
			}
			return 1
		}
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
	})
	return s
}

// appendKeywords adds the match keys of a flow's phrases (flowKw) and of its
// steps' (stepKw of each step) to list.
func appendKeywords(list []keyword, f *Flow, flowKw Keywords, stepKw func(*Step) Keywords) []keyword {
	add := func(kws Keywords, step string) {
		for _, lang := range sortedKeys(kws) {
			for _, kw := range kws[lang] {
				if k := MatchKey(kw); k != "" {
					list = append(list, keyword{key: k, flow: f.ID, step: step})
				}
			}
		}
	}
	add(flowKw, "")
	for _, st := range f.Steps {
		if st != nil {
			add(stepKw(st), st.ID)
		}
	}
	return list
}

// sortKeywords orders keywords longest first (the most specific phrase wins),
// then by flow, phrase and step, without duplicates.
func sortKeywords(list []keyword) []keyword {
	slices.SortFunc(list, func(a, b keyword) int {
		return cmp.Or(cmp.Compare(len(b.key), len(a.key)), cmp.Compare(a.flow, b.flow), cmp.Compare(a.key, b.key), cmp.Compare(a.step, b.step))
	})
	return slices.Compact(list)
}

// stepData assigns callback data to the buttons of one step.
func (s *Set) stepData(f *Flow, st *Step) {
	add := func(r ref, what string) string {
		d := buttonData("s:", f.ID, st.ID, what)
		s.refs[d] = r
		return d
	}
	st.data = make([]string, len(st.Buttons))
	for i, b := range st.Buttons {
		switch {
		case b.Goto != "":
			st.data[i] = add(ref{kind: refGoto, flow: f.ID, step: st.ID, target: b.Goto}, strconv.Itoa(i)+"\x00goto\x00"+b.Goto)
		case b.Flow != "":
			st.data[i] = add(ref{kind: refFlow, flow: f.ID, step: st.ID, target: b.Flow}, strconv.Itoa(i)+"\x00flow\x00"+b.Flow)
		case b.Action == ActionSubscribe:
			st.data[i] = DataSubscribe
		case b.Action == ActionUnsubscribe:
			st.data[i] = DataUnsubscribe
		case b.Remind != "":
			st.data[i] = add(ref{kind: refRemind, flow: f.ID, step: st.ID, target: b.Remind}, strconv.Itoa(i)+"\x00remind\x00"+b.Remind)
			for _, w := range remindWhens {
				s.refs[remindWhenData(f.ID, st.ID, b.Remind, w)] = ref{kind: refRemindWhen, flow: f.ID, step: st.ID, target: b.Remind, when: w}
			}
		}
	}
	if st.Next != "" && st.Ask == nil {
		st.nextData = add(ref{kind: refNext, flow: f.ID, step: st.ID, target: st.Next}, "next\x00"+st.Next)
	}
	if a := st.Ask; a != nil {
		switch a.Type {
		case "choice":
			st.answers = make([]string, len(a.Choices))
			for i, ch := range a.Choices {
				st.answers[i] = add(ref{kind: refAnswer, flow: f.ID, step: st.ID, target: ch.Value}, strconv.Itoa(i)+"\x00choice\x00"+ch.Value)
			}
		case "yesno":
			st.answers = []string{
				add(ref{kind: refAnswer, flow: f.ID, step: st.ID, target: answerYes}, "0\x00yesno\x00"+answerYes),
				add(ref{kind: refAnswer, flow: f.ID, step: st.ID, target: answerNo}, "1\x00yesno\x00"+answerNo),
			}
		}
	}
}

// Flow returns the flow with this id.
func (s *Set) Flow(id string) (*Flow, bool) {
	f, ok := s.flows[id]
	return f, ok
}

// Flows returns every flow, sorted by id.
func (s *Set) Flows() []*Flow { return slices.Clone(s.order) }

// Langs returns the languages residents can choose, "vi" first.
func (s *Set) Langs() []string { return slices.Clone(s.langs) }

// step looks up a flow and one of its steps.
func (s *Set) step(flow, step string) (*Flow, *Step, bool) {
	f, ok := s.flows[flow]
	if !ok {
		return nil, nil, false
	}
	st, ok := f.steps[step]
	return f, st, ok
}

// WayOut reports whether typed text asks for a way out (main menu, back,
// a volunteer) as a whole message, so a question asked outside the flows
// (the core's) can step aside for it.
func (s *Set) WayOut(text string) bool { return s.global(MatchKey(clip(text, maxInput)), true) != "" }

// indexMatchKeys fills s.matchKeys with the match keys of what typed text
// is compared with: menu titles, button labels, a question's choices
// (values, labels, keywords), locale texts.
func (s *Set) indexMatchKeys() {
	s.matchKeys = map[string]string{}
	add := func(t Text) {
		for _, v := range t {
			if _, ok := s.matchKeys[v]; !ok {
				s.matchKeys[v] = MatchKey(v)
			}
		}
	}
	for _, f := range s.order {
		add(f.Title)
		for _, st := range f.Steps {
			if st == nil {
				continue
			}
			for _, b := range st.Buttons {
				add(b.Label)
			}
			if st.Ask != nil {
				for _, ch := range st.Ask.Choices {
					add(Text{"": choiceValueText(ch.Value)})
					add(ch.Label)
					for _, kws := range ch.Keywords {
						for _, kw := range kws {
							add(Text{"": kw})
						}
					}
				}
			}
		}
	}
	for _, t := range s.texts {
		add(t)
	}
}

// matchKey is MatchKey(v), from the index when v is one of the set's texts.
func (s *Set) matchKey(v string) string {
	if k, ok := s.matchKeys[v]; ok {
		return k
	}
	return MatchKey(v)
}

// anyKey reports whether key equals the match key of t in any language.
func (s *Set) anyKey(t Text, key string) bool {
	for _, l := range sortedKeys(t) {
		if s.matchKey(t[l]) == key {
			return true
		}
	}
	return false
}
