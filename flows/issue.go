package flows

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// IssueKind classifies a content problem.
type IssueKind string

// Issue kinds reported by Check and Load.
const (
	IssueSyntax           IssueKind = "syntax"             // not valid YAML, a wrong value type, a bad id
	IssueUnknownKey       IssueKind = "unknown-key"        // a key the format does not know
	IssueMissingStart     IssueKind = "missing-start"      // no start, or a start naming no step
	IssueDangling         IssueKind = "dangling"           // a target (goto, next, on_fail, branch, flow:) that does not exist
	IssueUnreachable      IssueKind = "unreachable"        // a step no path reaches
	IssueMissingVi        IssueKind = "missing-vi"         // a text without Vietnamese
	IssueTooLong          IssueKind = "too-long"           // a text longer than a channel allows
	IssueCallbackTooLong  IssueKind = "callback-too-long"  // button data over 64 bytes
	IssueDuplicateKeyword IssueKind = "duplicate-keyword"  // a keyword used by two flows, or a reserved word
	IssueBadStep          IssueKind = "bad-step"           // a step with zero or several kinds, or inconsistent keys
	IssueMissingLocaleKey IssueKind = "missing-locale-key" // a required locale.yaml text is missing
	IssueBadPattern       IssueKind = "bad-pattern"        // an invalid regular expression
	IssueBadURL           IssueKind = "bad-url"            // a button URL that is not https, or an unusable source
	IssueFutureDate       IssueKind = "future-date"        // a verified date after today (Check only)
	IssueProvenance       IssueKind = "provenance"         // no sources, owner or verified date (an error in a Strict layer, else a warning)
	IssueStale            IssueKind = "stale"              // a verified date older than CheckOptions.MaxAge (warning, Check only)
	IssueLongMessage      IssueKind = "long-message"       // a message over MaxMessageRunes in Vietnamese (warning)
	IssueAsksSecret       IssueKind = "asks-secret"        // a question asking the resident to type an ID number, OTP or password
	IssueBadLinks         IssueKind = "bad-links"          // a links file (links.yaml) entry that is not a host name or word
	IssueBadImage         IssueKind = "bad-image"          // a step image that is missing, not a PNG/JPEG, too big or small, or not an https URL
)

// Issue is one content problem, located as precisely as possible.
type Issue struct {
	File string // layer name + path, e.g. "bundled/install_vneid.yaml"
	Line int    // 1-based; 0 when unknown
	Flow string
	Step string
	Kind IssueKind
	Msg  string
	// Warning marks a problem worth fixing that does not stop the content
	// from loading (an old verified date, a long message). Load fails only
	// on issues without it.
	Warning bool
}

// String formats the issue as "file:line: flow/step: msg", with
// "warning: " before the flow for a warning.
func (i Issue) String() string {
	var b strings.Builder
	if i.File != "" {
		b.WriteString(i.File)
		if i.Line > 0 {
			b.WriteString(":" + strconv.Itoa(i.Line))
		}
		b.WriteString(": ")
	}
	if i.Warning {
		b.WriteString("warning: ")
	}
	if i.Flow != "" {
		b.WriteString(i.Flow)
		if i.Step != "" {
			b.WriteString("/" + i.Step)
		}
		b.WriteString(": ")
	}
	b.WriteString(i.Msg)
	return b.String()
}

// Issues is every problem found; it is the error Load returns.
type Issues []Issue

// Error lists the issues, one per line.
func (is Issues) Error() string {
	lines := make([]string, len(is))
	for i, x := range is {
		lines[i] = x.String()
	}
	return strconv.Itoa(len(is)) + " problem(s) in flows:\n" + strings.Join(lines, "\n")
}

// Errors returns the issues that are not warnings (nil if none).
func (is Issues) Errors() Issues { return is.filter(false) }

// Warnings returns the warnings (nil if none).
func (is Issues) Warnings() Issues { return is.filter(true) }

func (is Issues) filter(warning bool) Issues {
	var out Issues
	for _, x := range is {
		if x.Warning == warning {
			out = append(out, x)
		}
	}
	return out
}

func sortIssues(is []Issue) {
	slices.SortStableFunc(is, func(a, b Issue) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Flow, b.Flow),
			cmp.Compare(a.Step, b.Step),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}
