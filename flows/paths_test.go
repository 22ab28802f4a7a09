package flows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Channel limits the path walk checks every message against.
const (
	maxButtonLabel = 100 // characters: Zalo OA's button title (Telegram allows more)
	maxPathStates  = 200_000
	maxStepSigs    = 32 // variable combinations told apart at one step; more are merged
)

// pathNow is the fixed clock of the path walk.
var pathNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("ICT", 7*60*60))

// pathPlace fills the office placeholders with long but real-looking
// values, so a message that names them is measured at its longest.
var pathPlace = map[string]string{
	"office_police":         "Công an Phường Phú Xuân (số 12 đường Nguyễn Trãi, tổ dân phố 5, Phường Phú Xuân, Thành phố Huế)",
	"office_public_service": "Trung tâm Phục vụ hành chính công Phường Phú Xuân (số 1 đường Lê Lợi, Phường Phú Xuân, Thành phố Huế)",
}

// pathName is a long display name.
var pathName = strings.Repeat("Nguyễn Thị Minh Khai ", 3)

// Sample typed answers: every number and text question is tried with each
// that it accepts, every link question with one link per verdict.
var (
	pathNumbers = []string{"0", "1", "2", "3", "5", "12", "18", "65", "100", "2026"}
	pathTexts   = []string{"Nguyễn Văn An", "001234567890", "0912345678", "15/12/2026", "Samsung A12", "xong"}
	pathLinks   = []string{
		"https://dichvucong.gov.vn/p/home", "congan.hanoi.gov.vn", "https://play.google.com/store/apps/details?id=x",
		"vietgcv.cc", "https://dichvucong.gov.vn@evil.com", "dichvuc0ng.com", "bit.ly/abc", "xn--dchvcng-x0a0689dsha.vn",
		"http://103.21.4.7/vneid.apk", "congan-hotro.com", "example.com",
	}
)

// pathNode is one place a resident can be: its state and how the walk got
// there.
type pathNode struct {
	st     State
	parent string // key of the node before ("" = a root)
	via    string // what the resident did to get here
	out    []string
	exits  bool // an input from here ends the conversation (end, handoff, completion)
}

// pathWalk is an exploration of every path through a set.
type pathWalk struct {
	errorf func(format string, args ...any)
	s      *Set
	tested map[string][]string        // flow → the variables its branches test: the only ones that change where a path in it goes
	sigs   map[string]map[string]bool // flow/step@lang → the signatures seen there
	nodes  map[string]*pathNode
	order  []string
	failed map[string]bool // one failure per kind and place
}

// key is a node's identity: flow, step, language and the variables the
// flow's branches test. (Answers saved in another flow and tested there do
// not tell nodes apart: that bounds the walk, at the price of not trying
// every combination of answers across flows.)
func (w *pathWalk) key(st State) string {
	base := st.Flow + "/" + st.Step + "@" + st.Lang
	var b strings.Builder
	for _, v := range w.tested[st.Flow] {
		if x, ok := st.Vars[v]; ok {
			b.WriteString(" " + v + "=" + x)
		}
	}
	sig := b.String()
	seen := w.sigs[base]
	if seen == nil {
		seen = map[string]bool{}
		w.sigs[base] = seen
	}
	if !seen[sig] {
		if len(seen) >= maxStepSigs {
			return base + " …" // enough combinations tried here
		}
		seen[sig] = true
	}
	return base + sig
}

// path describes how the walk reached key.
func (w *pathWalk) path(key string) string {
	var steps []string
	for k := key; k != ""; {
		n := w.nodes[k]
		steps = append(steps, n.st.Flow+"/"+n.st.Step+" ← "+n.via)
		k = n.parent
	}
	slices.Reverse(steps)
	return strings.Join(steps, "\n\t\t")
}

func (w *pathWalk) fail(kind, where, from, format string, args ...any) {
	if w.failed[kind+where] {
		return
	}
	w.failed[kind+where] = true
	path := "(from the start)"
	if from != "" {
		path = w.path(from)
	}
	w.errorf("%s: %s\n\tpath:\n\t\t%s", where, fmt.Sprintf(format, args...), path)
}

// TestEveryPath walks every path of every flow of the bundled content from
// its start (and from every step a button, reminder or keyword opens), in
// every language, pressing every button, answering every choice and yes/no
// and sample numbers, texts and links, and fails on a message over a
// channel's limit, a message with no way out, a step with no way forward, a
// loop that never reaches an end or a handoff, and any engine error.
func TestEveryPath(t *testing.T) {
	start := time.Now()
	s := loadBundled(t)
	n := walkPaths(t.Errorf, s)
	t.Logf("%d places walked", n)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the walk took %v", d)
	}
}

// TestEveryPathFindsProblems runs the walk on broken content: every kind of
// problem is reported, naming the flow, step and path.
func TestEveryPathFindsProblems(t *testing.T) {
	flow := `id: broken
keywords: {vi: ["hỏng"]}
start: a
steps:
  - id: a
    ask:
      type: yesno
      text: {vi: "Có không?"}
      save: x
    next: pick
  - id: pick
    branch:
      - if: {var: x, eq: "yes"}
        goto: long
      - else: spin
  - id: long
    say: {vi: "` + strings.Repeat("a", 1950) + ` {office_police}"}
    buttons:
      - label: {vi: "` + strings.Repeat("b", 101) + `"}
        url: https://dichvucong.gov.vn
  - id: spin
    say: {vi: "Vòng"}
    next: spin2
  - id: spin2
    say: {vi: "Vòng nữa"}
    next: spin
`
	layer := goodFS(t)
	layer["broken.yaml"] = &fstest.MapFile{Data: []byte(flow)}
	s, err := Load(Named("good", layer))
	if err != nil {
		t.Fatal(err)
	}
	var rec strings.Builder
	walkPaths(func(format string, args ...any) { fmt.Fprintf(&rec, format+"\n", args...) }, s)
	for _, want := range []string{
		"broken/long: after tap «Có»: a message is 2046 characters: Zalo allows 2000",
		"broken/long: after tap «Có»: button label \"bbbb",
		"broken/long: dead end",
		"broken/spin: loop with no exit: spin → spin2",
		"path:\n\t\tbroken/a ← open broken (vi)\n\t\tbroken/long ← tap «Có»",
	} {
		if !strings.Contains(rec.String(), want) {
			t.Errorf("missing %q in:\n%s", want, rec.String())
		}
	}
}

// walkPaths explores s and reports every problem on t.
// It returns the number of places (nodes) walked.
func walkPaths(errorf func(format string, args ...any), s *Set) int {
	w := &pathWalk{errorf: errorf, s: s, nodes: map[string]*pathNode{}, failed: map[string]bool{}, sigs: map[string]map[string]bool{}}
	w.tested = map[string][]string{}
	type root struct{ data, via string }
	var roots []root
	for _, f := range s.order {
		if f.ID == VolunteerFlow {
			roots = append(roots, root{dataHuman, "tap " + quoteLabel("nav_human")})
		} else {
			roots = append(roots, root{DataOpen(f.ID), "open " + f.ID})
		}
		for _, st := range f.Steps {
			if st == nil {
				continue
			}
			for _, c := range st.Branch {
				if c.If != nil && !slices.Contains(w.tested[f.ID], c.If.Var) {
					w.tested[f.ID] = append(w.tested[f.ID], c.If.Var)
				}
			}
			if f.ID == VolunteerFlow {
				continue
			}
			opens := len(st.Keywords) > 0 || len(st.Signals) > 0
			for _, b := range st.Buttons {
				if b.Remind != "" {
					roots = append(roots, root{DataOpen(f.ID + "#" + b.Remind), "a reminder of " + f.ID + "/" + st.ID})
				}
			}
			if opens {
				roots = append(roots, root{DataOpen(f.ID + "#" + st.ID), "a keyword of " + f.ID + "/" + st.ID})
			}
		}
		for _, other := range s.order {
			for _, st := range other.Steps {
				if st == nil {
					continue
				}
				for _, b := range st.Buttons {
					if id, step, ok := strings.Cut(b.Flow, "#"); ok && id == f.ID && id != VolunteerFlow {
						roots = append(roots, root{DataOpen(id + "#" + step), "a button of " + other.ID + "/" + st.ID})
					}
				}
			}
		}
	}
	for _, vars := range w.tested {
		slices.Sort(vars)
	}

	var queue []string
	visit := func(from string, st State, via string, in Input) {
		in.Place, in.Name = pathPlace, pathName
		r := s.Advance(st, in, pathNow)
		where := r.State.Flow + "/" + r.State.Step // the step the messages show
		if r.State.Flow == "" {
			where = st.Flow + "/" + st.Step + " (leaving)"
		}
		w.checkOut(r, st.Lang, from, where, via)
		if r.State.Flow == "" || r.Handoff != nil {
			if from != "" {
				w.nodes[from].exits = true
			}
			return
		}
		if r.State.Attempts > 0 || r.Remind != nil {
			return // a wrong sample answer, or a reminder: nowhere new
		}
		k := w.key(r.State)
		if from != "" {
			w.nodes[from].out = append(w.nodes[from].out, k)
		}
		if _, seen := w.nodes[k]; seen {
			return
		}
		if len(w.nodes) >= maxPathStates {
			w.fail("bound", "the walk", from, "over %d states: a flow saves too many different answers that branches test", maxPathStates)
			return
		}
		next := r.State
		next.Back, next.Seen = nil, time.Time{}
		w.nodes[k] = &pathNode{st: next, parent: from, via: via}
		w.order = append(w.order, k)
		queue = append(queue, k)
	}
	for _, lang := range s.langs {
		for _, rt := range roots {
			visit("", State{Lang: lang}, rt.via+" ("+lang+")", Input{Kind: InputButton, Data: rt.data})
		}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		n := w.nodes[k]
		for _, in := range w.inputs(n.st) {
			visit(k, n.st, in.via, in.in)
		}
	}
	if !w.failed["boundthe walk"] {
		w.exits()
	}
	return len(w.nodes)
}

// pathInput is one thing the walk does at a step.
type pathInput struct {
	in  Input
	via string
}

// inputs lists what a resident can do at a step besides the way-out row:
// its buttons, answers and sample typed answers.
func (w *pathWalk) inputs(st State) []pathInput {
	_, step, ok := w.s.step(st.Flow, st.Step)
	if !ok {
		return nil
	}
	lang := st.Lang
	tap := func(data string, label Text) pathInput {
		return pathInput{Input{Kind: InputButton, Data: data}, "tap «" + w.s.format(label, lang, nil) + "»"}
	}
	typed := func(text string) pathInput {
		return pathInput{Input{Kind: InputText, Text: text}, "type «" + text + "»"}
	}
	var out []pathInput
	if a := step.Ask; a != nil {
		switch a.Type {
		case "choice":
			for i, ch := range a.Choices {
				out = append(out, tap(step.answers[i], ch.Label))
			}
		case "yesno":
			out = append(out, tap(step.answers[0], w.s.texts["yes"]), tap(step.answers[1], w.s.texts["no"]))
		case "number":
			nums := slices.Clone(pathNumbers)
			for _, b := range []*int{a.Min, a.Max} {
				if b != nil {
					nums = append(nums, strconv.Itoa(*b))
				}
			}
			if a.Min != nil && a.Max != nil {
				nums = append(nums, strconv.Itoa((*a.Min+*a.Max)/2))
			}
			for _, n := range nums {
				out = append(out, typed(n))
			}
		case "text":
			for _, x := range pathTexts {
				out = append(out, typed(x))
			}
		case "link":
			for _, x := range pathLinks {
				out = append(out, typed(x))
			}
		}
		return out
	}
	for i, b := range step.Buttons {
		if b.URL == "" && b.Remind == "" {
			out = append(out, tap(step.data[i], b.Label))
		}
	}
	if step.nextData != "" {
		out = append(out, tap(step.nextData, w.s.texts["nav_next"]))
	}
	return out
}

// checkOut checks the messages of one answer against the channels' limits
// and for a way out.
func (w *pathWalk) checkOut(r Result, lang, from, where, via string) {
	if r.Stale {
		w.fail("stale", where, from, "%s: the button is stale", via)
	}
	errText := w.s.Text(lang, "error", nil)
	for _, o := range r.Out {
		if o.Text == errText {
			w.fail("error", where, from, "%s: the engine answered with the error text (a target that does not exist, or too many branches in a row)", via)
		}
		chars, units := utf8.RuneCountInString(o.Text), len(utf16.Encode([]rune(o.Text)))
		if chars > MaxTextZalo {
			w.fail("zalo"+o.Text, where, from, "after %s: a message is %d characters: Zalo allows %d (%.40q…)", via, chars, MaxTextZalo, o.Text)
		}
		if units > MaxTextTelegram {
			w.fail("telegram"+o.Text, where, from, "after %s: a message is %d UTF-16 units: Telegram allows %d", via, units, MaxTextTelegram)
		}
		for _, row := range o.Buttons {
			for _, b := range row {
				if n := utf8.RuneCountInString(b.Text); n > maxButtonLabel || n == 0 {
					w.fail("label"+b.Text, where, from, "after %s: button label %q is %d characters: Zalo allows 1 to %d", via, b.Text, n, maxButtonLabel)
				}
				if len(b.Data) > MaxCallbackData {
					w.fail("data"+b.Data, where, from, "after %s: button %q has %d bytes of data: Telegram allows %d", via, b.Text, len(b.Data), MaxCallbackData)
				}
			}
		}
	}
	if len(r.Out) == 0 {
		return // a reminder: the core confirms it
	}
	last := r.Out[len(r.Out)-1]
	wayOut := slices.ContainsFunc(last.Buttons, func(row []Button) bool {
		return slices.ContainsFunc(row, func(b Button) bool {
			return slices.Contains([]string{dataBack, dataMenu, dataHuman, dataCancel}, b.Data)
		})
	})
	if !wayOut {
		at := r.State.Flow + "/" + r.State.Step
		w.fail("wayout", at, from, "after %s: the last message offers no way out (back, menu, volunteer) and is not an end or a handoff", via)
	}
}

// exits reports the nodes from which no sequence of buttons and answers
// reaches an end, a handoff or a completion: a step with no way forward
// (only the way-out row), or a loop with no exit.
func (w *pathWalk) exits() {
	reaches := map[string]bool{}
	into := map[string][]string{}
	var queue []string
	for _, k := range w.order {
		n := w.nodes[k]
		for _, o := range n.out {
			into[o] = append(into[o], k)
		}
		if n.exits {
			reaches[k] = true
			queue = append(queue, k)
		}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, p := range into[k] {
			if !reaches[p] {
				reaches[p] = true
				queue = append(queue, p)
			}
		}
	}
	// Report the dead ends and each loop once (at its first node met), not
	// the steps that merely lead to them.
	inLoop := map[string]bool{}
	for _, k := range w.order {
		if reaches[k] || inLoop[k] {
			continue
		}
		n := w.nodes[k]
		where := n.st.Flow + "/" + n.st.Step
		if !slices.ContainsFunc(n.out, func(o string) bool { return o != k }) {
			w.fail("dead", where, k, "dead end: no button, answer or next leads on from here, only the way-out row (make it an end: step, or add next)")
			continue
		}
		// The nodes reachable from k; k is in a loop if it is among them.
		seen := map[string]bool{}
		stack := slices.Clone(n.out)
		for len(stack) > 0 {
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[o] {
				continue
			}
			seen[o] = true
			stack = append(stack, w.nodes[o].out...)
		}
		if !seen[k] {
			continue // leads into a problem reported where it is
		}
		var loop []string
		for _, o := range w.order {
			if seen[o] && slices.Contains(w.reachFrom(o), k) {
				inLoop[o] = true
				loop = append(loop, w.nodes[o].st.Step)
			}
		}
		w.fail("loop", where, k, "loop with no exit: %s — every button and answer here comes back around and never reaches an end or a handoff",
			strings.Join(slices.Compact(loop), " → "))
	}
}

// reachFrom lists the nodes reachable from k.
func (w *pathWalk) reachFrom(k string) []string {
	seen := map[string]bool{}
	var out []string
	stack := slices.Clone(w.nodes[k].out)
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[o] {
			continue
		}
		seen[o] = true
		out = append(out, o)
		stack = append(stack, w.nodes[o].out...)
	}
	return out
}

// quoteLabel is a locale label for a path description.
func quoteLabel(key string) string { return "«" + key + "»" }
