package bot

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Taps counts taps on a broadcast's buttons (the broadcast ledger).
type Taps interface {
	// Tapped records that key tapped a button of broadcast run run.
	Tapped(ctx context.Context, run int64, key ConvKey, at time.Time) error
}

// TapData is the button data of a broadcast's button: the run (to count
// the tap) and the flow step it opens ("flow" or "flow#step").
func TapData(run int64, target string) string {
	return tapPrefix + strconv.FormatInt(run, 10) + ":" + target
}

const tapPrefix = "b:"

// ParseTap reads TapData back.
func ParseTap(data string) (run int64, target string, ok bool) {
	rest, ok := strings.CutPrefix(data, tapPrefix)
	if !ok {
		return 0, "", false
	}
	id, target, ok := strings.Cut(rest, ":")
	run, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || run <= 0 || target == "" {
		return 0, "", false
	}
	return run, target, true
}
