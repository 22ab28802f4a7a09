package broadcast

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/netguard"
	"github.com/gocua/gocua/flows"
)

// Draft is a broadcast as an organizer writes it (on the command line or
// in a chat with the bot), before it is checked.
type Draft struct {
	Text string
	// Image is an https:// address or a stored file ("telegram:<file_id>",
	// "web:<upload id>"); "" for none.
	Image string
	// Buttons are "label=flow" or "label=flow:step" (also flow#step).
	Buttons []string
	// Audience is an audience expression; "" means all.
	Audience string
	// Exactly one of At ("2026-12-05 07:30", in the deployment's
	// timezone), Cron (a five-field schedule) and Now.
	At      string
	Cron    string
	Now     bool
	Paid    bool
	Expires time.Duration
	By      string // "cli" or "<channel>:<user id>"
}

// Env is what a draft is checked against.
type Env struct {
	Flows    *flows.Set
	Known    Known // areas, languages (flows are taken from Flows)
	Location *time.Location
	Now      time.Time
	// MaxText and MaxCaption are the strictest limits of the channels a
	// broadcast may reach (UTF-16 units, as Telegram counts; a caption is
	// the text sent with an image).
	MaxText, MaxCaption int
}

// Limits on a broadcast's buttons.
const (
	MaxButtons     = 3
	maxButtonLabel = 40 // characters
	maxTapData     = 64 // bytes: Telegram's callback_data
)

// Compose checks a draft and returns the broadcast and its parsed audience,
// or every problem found (each names the field: text, button 2, audience,
// at…).
func Compose(d Draft, env Env) (Broadcast, Audience, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	b := Broadcast{Text: strings.TrimSpace(d.Text), Paid: d.Paid, Expires: d.Expires, CreatedBy: d.By, State: Active}
	loc := env.Location
	if loc == nil {
		loc = time.UTC
	}

	limit, what := env.MaxText, "text"
	if d.Image != "" {
		limit, what = env.MaxCaption, "text with an image"
	}
	switch n := bot.TextLen(b.Text); {
	case b.Text == "":
		bad("text: empty; write what residents should read")
	case !utf8.ValidString(b.Text):
		bad("text: not valid UTF-8")
	case limit > 0 && n > limit:
		bad("text: %d characters; a %s may have at most %d", n, what, limit)
	}

	if img := strings.TrimSpace(d.Image); img != "" {
		switch {
		case strings.HasPrefix(img, "https://") && len(img) > len("https://"):
			// gocua downloads it itself for the channels that upload photos
			if err := netguard.CheckURL(img); err != nil {
				bad("image: %q must be a public address: %s", clipText(img), netguard.Reason(err))
			}
		case strings.HasPrefix(img, "telegram:"), strings.HasPrefix(img, "web:"):
		default:
			bad("image: %q is not an https:// address or a stored file", clipText(img))
		}
		b.Image = img
	}

	if len(d.Buttons) > MaxButtons {
		bad("buttons: %d; at most %d", len(d.Buttons), MaxButtons)
	}
	for i, spec := range d.Buttons {
		btn, err := parseButton(spec, env.Flows)
		if err != nil {
			bad("button %d: %v", i+1, err)
			continue
		}
		b.Buttons = append(b.Buttons, btn)
	}

	src := strings.TrimSpace(d.Audience)
	if src == "" {
		src = "all"
	}
	aud, err := Parse(src)
	if err != nil {
		errs = append(errs, err)
	} else {
		k := knownFor(env)
		errs = append(errs, Validate(aud, k)...)
		b.Audience = aud.String()
	}

	n := 0
	if strings.TrimSpace(d.At) != "" {
		n++
		at, err := time.ParseInLocation("2006-01-02 15:04", strings.TrimSpace(d.At), loc)
		switch {
		case err != nil:
			bad("at: %q is not a date and time like 2026-12-05 07:30", clipText(d.At))
		case !env.Now.IsZero() && at.Before(env.Now.Add(-time.Minute)):
			bad("at: %s has passed (now %s)", at.Format("2006-01-02 15:04"), env.Now.In(loc).Format("2006-01-02 15:04"))
		default:
			b.At = at
		}
	}
	if strings.TrimSpace(d.Cron) != "" {
		n++
		if _, err := ParseCron(strings.TrimSpace(d.Cron)); err != nil {
			bad("cron: %v", strings.TrimPrefix(err.Error(), "broadcast: "))
		}
		b.Cron = strings.TrimSpace(d.Cron)
	}
	if d.Now {
		n++
		b.At = env.Now
	}
	if n != 1 {
		bad("schedule: give exactly one of at, cron and now")
	}
	if d.Expires < 0 {
		bad("expires: %s is negative", d.Expires)
	}
	return b, aud, errs
}

// parseButton reads "label=flow[:step]".
func parseButton(spec string, set *flows.Set) (Button, error) {
	label, target, ok := strings.Cut(spec, "=")
	label, target = strings.TrimSpace(label), strings.TrimSpace(target)
	if !ok || label == "" || target == "" {
		return Button{}, fmt.Errorf("%q: write label=flow or label=flow:step", clipText(spec))
	}
	if n := utf8.RuneCountInString(label); n > maxButtonLabel {
		return Button{}, fmt.Errorf("label of %d characters; at most %d", n, maxButtonLabel)
	}
	target = strings.Replace(target, ":", "#", 1)
	flow, step, _ := strings.Cut(target, "#")
	btn := Button{Label: label, Flow: flow, Step: step}
	if set != nil {
		if err := set.OpenTarget(btn.Target()); err != nil {
			return Button{}, errors.New(strings.TrimPrefix(err.Error(), "flows: "))
		}
	}
	if n := len(bot.TapData(1e12-1, btn.Target())); n > maxTapData {
		return Button{}, fmt.Errorf("%q is too long for a button (%d bytes with the run; at most %d)", btn.Target(), n, maxTapData)
	}
	return btn, nil
}

func clipText(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "…"
}
