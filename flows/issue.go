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
)

// Issue is one content problem, located as precisely as possible.
type Issue struct {
	File string // layer name + path, e.g. "bundled/install_vneid.yaml"
	Line int    // 1-based; 0 when unknown
	Flow string
	Step string
	Kind IssueKind
	Msg  string
}

// String formats the issue as "file:line: flow/step: msg".
func (i Issue) String() string {
	var b strings.Builder
	if i.File != "" {
		b.WriteString(i.File)
		if i.Line > 0 {
			b.WriteString(":" + strconv.Itoa(i.Line))
		}
		b.WriteString(": ")
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
