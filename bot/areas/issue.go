package areas

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// IssueKind classifies a problem in an areas file.
type IssueKind string

// Issue kinds reported by Check and the loaders.
const (
	IssueSyntax     IssueKind = "syntax"      // not valid YAML, a wrong value type, a file too large
	IssueUnknownKey IssueKind = "unknown-key" // a key the format does not know
	IssueMissing    IssueKind = "missing"     // a required key absent or empty
	IssueDuplicate  IssueKind = "duplicate"   // a code or name used twice, an alias repeating a name
	IssueBadCode    IssueKind = "bad-code"    // a code outside [a-z0-9_] or over 64 bytes
	IssueBadKind    IssueKind = "bad-kind"    // an area or office kind the format does not know, or one the name contradicts
	IssueBadPhone   IssueKind = "bad-phone"   // a phone number that is not a Vietnamese number
	IssueBadURL     IssueKind = "bad-url"     // a source that is not an http(s) address
	IssueBadText    IssueKind = "bad-text"    // a text too long, with control characters, or without a letter or digit
	IssueFutureDate IssueKind = "future-date" // a verified date after today (Check only)
)

// Issue is one problem in an areas file, located as precisely as possible.
type Issue struct {
	File string // the name given to the loader, e.g. "/etc/gocua/areas.yaml"
	Line int    // 1-based; 0 when unknown
	Area string // code of the area the problem is in, when known
	Kind IssueKind
	Msg  string // a sentence for the person who edits the file
}

// String formats the issue as "file:line: area: msg".
func (i Issue) String() string {
	var b strings.Builder
	if i.File != "" {
		b.WriteString(i.File)
		if i.Line > 0 {
			b.WriteString(":" + strconv.Itoa(i.Line))
		}
		b.WriteString(": ")
	}
	if i.Area != "" {
		b.WriteString(i.Area + ": ")
	}
	b.WriteString(i.Msg)
	return b.String()
}

// Issues is every problem found; it is the error the loaders return.
type Issues []Issue

// Error lists the issues, one per line.
func (is Issues) Error() string {
	lines := make([]string, len(is))
	for i, x := range is {
		lines[i] = x.String()
	}
	return strconv.Itoa(len(is)) + " problem(s) in areas:\n" + strings.Join(lines, "\n")
}

func sortIssues(is []Issue) {
	slices.SortStableFunc(is, func(a, b Issue) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Area, b.Area),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}
