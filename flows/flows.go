// Package flows is gocua's conversation content and the pure engine that
// walks a resident through it.
//
// Content is YAML (see docs/flows.md): one file per flow plus locale.yaml for
// system texts. Load reads layers of files (the bundled ones, then an
// organizer's directory), decodes them strictly, validates everything and
// returns an immutable Set. Set.Advance takes a conversation State and one
// Input and returns the next State, the messages to send and the analytics
// events; it does no I/O and reads no clock.
package flows

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"time"
)

// Text is a translatable text: language code → text. "vi" is required; other
// languages fall back to it.
type Text map[string]string

// Keywords are phrases per language that start a flow or pick a choice when a
// resident types them (matched without case and diacritics).
type Keywords map[string][]string

// Flow is one guide: a titled sequence of steps. It is read-only after Load.
type Flow struct {
	ID       string   `yaml:"id"`
	Title    Text     `yaml:"title"`
	Menu     int      `yaml:"menu"` // position on the main menu; 0 = not on the menu
	Keywords Keywords `yaml:"keywords"`
	// Signals are keywords that take precedence over everything a resident may
	// type: a message containing one opens its flow (or step) before any answer,
	// typed button or ordinary keyword is considered. They are for danger — the
	// bundled scam warning opens on "có người gọi", "xin mã otp", "chuyển tiền" —
	// so that a how-to keyword in the same message ("kích hoạt", "mức 2") cannot
	// win. The longest signal in the message wins; while the resident is in the
	// signal's own flow, that flow's answers and buttons come first.
	Signals Keywords `yaml:"signals"`
	// Offer are phrases that, typed by a resident who seems stuck ("gặp
	// người", "không làm được"), offer a volunteer: a short message with the
	// volunteer button and a way back, not a ticket. Signals win over them.
	Offer Keywords `yaml:"offer"`
	// Topic is the desk category a resident in this flow most likely needs
	// help with (vneid, dvc, scam or other: the locale text
	// desk_category_<topic> names it). Asking for a volunteer from the flow
	// then skips the "what is the problem" question.
	Topic    string   `yaml:"topic"`
	Sources  []string `yaml:"sources"`
	Verified string   `yaml:"verified"` // YYYY-MM-DD: when the content was last checked against Sources
	// Owner is who keeps the flow true (a team or a person to ask).
	Owner string `yaml:"owner"`
	// Notes are for the people who maintain the flow, never shown to
	// residents: where sources disagree, what to re-check and when.
	Notes string  `yaml:"notes"`
	Start string  `yaml:"start"`
	Steps []*Step `yaml:"steps"`

	// Version names the flow's content: the first 12 hex digits of the
	// SHA-256 of its defining file. Flow events carry it, so an edit's
	// effect on the funnel can be seen (the dashboard compares versions).
	Version string `yaml:"-"`

	file   string         // issue path of the defining file
	layer  fs.FS          // the layer of the defining file (step images are read from it)
	strict bool           // from a Strict layer: provenance is required
	seq    int            // load order (layer, then file name)
	lines  map[string]int // YAML path → line, see lineOf
	steps  map[string]*Step
	index  map[string]int // step id → position in Steps
}

// Step is one thing the resident sees (message, question, handoff, end) or
// an invisible branch. Exactly one of Say, Ask, Branch, Handoff, End is set.
type Step struct {
	ID      string       `yaml:"id"`
	Say     Text         `yaml:"say"`
	Buttons []StepButton `yaml:"buttons"`
	Next    string       `yaml:"next"`
	Ask     *Ask         `yaml:"ask"`
	Branch  []Case       `yaml:"branch"`
	Handoff *HandoffStep `yaml:"handoff"`
	End     Text         `yaml:"end"`
	// Keywords open the flow directly at this step ("quên mật khẩu" →
	// troubleshoot#forgot_password), like the flow's own keywords.
	Keywords Keywords `yaml:"keywords"`
	// Signals open the flow at this step before anything else the typed
	// text could mean (see Flow.Signals).
	Signals Keywords `yaml:"signals"`
	// Image is a picture shown with the step's message (a say, ask or end
	// step), its text becoming the caption: a PNG or JPEG file path relative
	// to the flows directory that defines the flow ("images/step.png"), or
	// an https:// URL. See Output.Image.
	Image string `yaml:"image"`

	// image is the resolved ref of Image ("" when none or invalid) and
	// imageProblem what is wrong with it, both set by Load.
	image, imageProblem string

	// Precomputed callback data, built by Load.
	data     []string // per Buttons entry ("" for URL buttons)
	nextData string   // the "continue" button
	answers  []string // per choice, or [yes, no] for yesno questions
}

// StepButton is a button of a message step: a label and exactly one of Goto
// (a step of the same flow), Flow ("flow" or "flow#step"), URL, Action or
// Remind.
type StepButton struct {
	Label Text   `yaml:"label"`
	Goto  string `yaml:"goto"`
	Flow  string `yaml:"flow"`
	URL   string `yaml:"url"`
	// Action is something the core does: ActionSubscribe or
	// ActionUnsubscribe (broadcasts and reminders).
	Action string `yaml:"action"`
	// Remind is "remind me later": a step of the same flow the reminder
	// resumes at. Tapping it does not move the resident; it asks when
	// (tomorrow morning, in three days, on a date) and Advance reports the
	// answer in Result.Remind.
	Remind string `yaml:"remind"`
}

// Button actions (StepButton.Action).
const (
	ActionSubscribe   = "subscribe"
	ActionUnsubscribe = "unsubscribe"
)

// Button data of the consent answers: the question asked at first contact,
// a flow's subscribe/unsubscribe buttons and the unsubscribe button under
// every broadcast all send one of these.
const (
	DataSubscribe   = "consent:yes"
	DataUnsubscribe = "consent:no"
)

// DataOpen is the button data that opens a flow at a step from outside the
// flows ("flow" or "flow#step"): a broadcast's or a reminder's button. An
// unknown target answers like a stale button.
func DataOpen(target string) string { return dataOpen + target }

const dataOpen = "o:"

// OpenTarget checks a "flow" or "flow#step" target for DataOpen: the flow
// and step must exist, and the target may not be the volunteer flow.
func (s *Set) OpenTarget(target string) error {
	id, step, _ := strings.Cut(target, "#")
	f, ok := s.flows[id]
	switch {
	case !ok:
		return fmt.Errorf("flows: no flow %q", id)
	case id == VolunteerFlow:
		return fmt.Errorf("flows: %q cannot be opened by a button", id)
	case step != "" && f.steps[step] == nil:
		return fmt.Errorf("flows: flow %s has no step %q", id, step)
	}
	return nil
}

// Ask is a question step.
type Ask struct {
	Text    Text     `yaml:"text"`
	Type    string   `yaml:"type"` // choice, number, yesno, text, link
	Save    string   `yaml:"save"`
	Choices []Choice `yaml:"choices"`
	Min     *int     `yaml:"min"`
	Max     *int     `yaml:"max"`
	Pattern string   `yaml:"pattern"`
	Retries *int     `yaml:"retries"` // wrong answers tolerated; default 2
	Invalid Text     `yaml:"invalid"`
	OnFail  string   `yaml:"on_fail"`

	re *regexp.Regexp // compiled Pattern
}

// Choice is one answer of a choice question.
type Choice struct {
	Value    string   `yaml:"value"`
	Label    Text     `yaml:"label"`
	Keywords Keywords `yaml:"keywords"`
}

// Case is one arm of a branch step: If + Goto, or a final Else.
type Case struct {
	If   *Cond  `yaml:"if"`
	Goto string `yaml:"goto"`
	Else string `yaml:"else"`
}

// Cond tests a saved variable. Exactly one of Eq, Ne, In, Set is given;
// comparisons ignore case and diacritics.
type Cond struct {
	Var string   `yaml:"var"`
	Eq  *string  `yaml:"eq"`
	Ne  *string  `yaml:"ne"`
	In  []string `yaml:"in"`
	Set *bool    `yaml:"set"`
}

// HandoffStep asks for a human volunteer.
type HandoffStep struct {
	Reason string `yaml:"reason"` // for the volunteer, not shown to the resident
	Say    Text   `yaml:"say"`
}

// Step returns the step with this id.
func (f *Flow) Step(id string) (*Step, bool) {
	s, ok := f.steps[id]
	return s, ok
}

// State is a resident's position in the flows. It is stored by the core
// between messages (JSON) and must stay small.
type State struct {
	Flow     string            `json:"f,omitempty"` // current flow id ("" = idle at the main menu)
	Step     string            `json:"s,omitempty"` // current step id
	Vars     map[string]string `json:"v,omitempty"` // saved answers
	Lang     string            `json:"l,omitempty"` // "vi" (default) or "en"
	Attempts int               `json:"a,omitempty"` // wrong answers at the current question
	Back     []string          `json:"b,omitempty"` // "flow/step" history for the back button, bounded (≤ 20)
	Seen     time.Time         `json:"t,omitempty"` // last input time (set by Advance from now)
	// Remind is a pending "remind me later" question, kept for one input:
	// "w:flow#step" after the when-question (a typed "sáng mai", "1" or a
	// date answers it), "d:flow#step" after "🗓️ Chọn ngày" (the next typed
	// text is the date). Any other input clears it.
	Remind string `json:"r,omitempty"`
}

// InputKind says what the resident did.
type InputKind int

// Input kinds.
const (
	InputStart   InputKind = iota + 1 // /start (or a brand-new resident): greeting + main menu
	InputText                         // free text (Text)
	InputButton                       // a tapped button (Data)
	InputCommand                      // /menu, /help, /lang or an unknown command (Command = "menu"…, Args)
)

// Input is one thing the resident did.
type Input struct {
	Kind    InputKind
	Text    string // typed text (InputText)
	Data    string // button data (InputButton)
	Command string // command name without "/" (InputCommand)
	Args    string // text after the command
	Name    string // display name, stored as the {name} variable when given
	// Place fills {placeholders} in this turn's texts without saving them
	// (the resident's offices: {office_police}, {office_public_service}).
	// A saved answer of the same name wins.
	Place map[string]string
}

// Button is an inline button: Data (≤ 64 bytes, stable across restarts for
// the same content) or URL.
type Button struct {
	Text string
	Data string
	URL  string
}

// Output is one message to send.
type Output struct {
	Text    string
	Buttons [][]Button
	// Image, when set, is a picture to send with the message, Text being its
	// caption. It is only set on the message a step with `image:` shows when
	// the step is entered (not when it is shown again after a wrong answer or
	// a long absence). A "flow:…" ref (ImageRefPrefix and 24 hex digits of
	// the SHA-256 of the file) is opened with Set.OpenImage; any other value
	// is an https:// URL to send as it is.
	Image string `json:",omitempty"`
}

// EventKind names an analytics event.
type EventKind string

// Event kinds.
const (
	EventFlowStarted   EventKind = "flow_started"
	EventStepEntered   EventKind = "step_entered"
	EventFlowCompleted EventKind = "flow_completed"
	EventFlowAbandoned EventKind = "flow_abandoned"
	EventEscalated     EventKind = "escalated"
)

// Event is something worth counting: where residents go and where they stop.
type Event struct {
	Kind EventKind
	Flow string
	Step string
	// Version is the flow's Version when the event happened.
	Version string
	At      time.Time
}

// Handoff says a resident asked for a human: a handoff step was reached or
// nav:human was tapped. Flow and Step name where the resident was (for
// nav:human in the middle of a flow, the step they were stuck at).
type Handoff struct {
	Flow   string
	Step   string
	Reason string
	// At is the handoff step itself ("flow/step"): its message is the last
	// Output of the Result (see Set.HandoffOutput).
	At string
}

// Remind is a personal reminder the resident asked for: remind them When,
// with a button resuming Flow at Step (flows.DataOpen(Flow + "#" + Step)).
// When is RemindTomorrow, RemindIn3Days or a date "2026-12-15" (on or after
// the day of Advance's now, in now's location, at most a year later). The
// core knows the timezone and the clock: it picks the hour, stores the
// reminder and confirms it (locale text remind_set).
type Remind struct {
	Flow, Step string
	When       string
}

// Remind.When values besides a date.
const (
	RemindTomorrow = "tomorrow" // tomorrow morning
	RemindIn3Days  = "3d"       // three days from today
)

// Result is what Advance decided.
type Result struct {
	State State
	// Out is the messages to send, in order. It is never empty, except
	// when Remind is set: then the engine says nothing and the core writes
	// the confirmation.
	Out     []Output
	Events  []Event
	Handoff *Handoff // non-nil: the core creates a waiting ticket
	Stale   bool     // the tapped button belongs to no current content (friendly text + menu were output)
	// Consent is the resident's answer about broadcasts and reminders when
	// they gave one ("yes" or "no"; "" otherwise): the core records it. The
	// confirmation is already in Out.
	Consent string
	// Remind is a reminder the resident asked for; the resident's place
	// (State.Flow, State.Step) is unchanged.
	Remind *Remind
}
