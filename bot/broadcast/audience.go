// Package broadcast sends organizers' announcements and residents' reminders:
// an organizer writes a message and picks who receives it, and residents who
// stalled in a flow get a nudge. This file holds the audience expressions that
// do the picking — terms such as area:19771, lang:vi or stuck:install>3d
// joined with and, or and not — with their parser, their canonical form and a
// check of the names they use against a deployment. The package does no I/O:
// the store compiles an Audience's AST to SQL.
package broadcast

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
)

// Limits on an expression; Parse reports each violation as an *Error.
const (
	maxLen   = 1000 // bytes, of the source and of its canonical form
	maxDepth = 32   // nested parentheses and nots
	maxTerms = 64
	maxItems = 50 // items in one list, as written
	maxDays  = 3650
)

// Audience is a parsed audience expression. The zero Audience is empty (see
// IsZero); Parse never returns it without an error.
type Audience struct {
	// Root is the expression's tree. Parse builds only the node types of this
	// file, as values (never pointers), And and Or with at least two nodes
	// and no And directly inside an And, nor Or inside an Or.
	Root Node

	src  string
	cols []int // 1-based rune column of each term, in the order walk visits them
}

// Node is a node of an audience tree: And, Or and Not combine the terms All,
// Areas, Langs, Channels, Started, Completed, Stuck, Resolved and Seen. The
// set is closed: no other package can add a node type.
type Node interface{ node() }

// All matches every subscriber ("all").
type All struct{}

// And matches residents matched by every one of Nodes ("a and b and c" is
// one And with three nodes).
type And struct{ Nodes []Node }

// Or matches residents matched by at least one of Nodes ("a or b or c" is
// one Or with three nodes).
type Or struct{ Nodes []Node }

// Not matches residents Node does not match ("not a").
type Not struct{ Node Node }

// Areas matches residents whose area is one of Codes ("area:19771,19774").
// Codes are kept as written and compare case-sensitively; the code "none"
// stands for residents whose area is not known.
type Areas struct{ Codes []string }

// Langs matches residents whose language is one of Langs ("lang:vi,en"),
// lower-case codes.
type Langs struct{ Langs []string }

// Channels matches residents who write on one of Channels
// ("channel:telegram,zalo-oa").
type Channels struct{ Channels []bot.Channel }

// Started matches residents who started the flow at some point
// ("started:install").
type Started struct{ Flow string }

// Completed matches residents who completed the flow at some point
// ("completed:install").
type Completed struct{ Flow string }

// Stuck matches residents whose last step entered belongs to Flow (and is
// Step, unless Step is empty), entered more than Days days ago, and who have
// not completed Flow since ("stuck:install>3d", "stuck:install#otp>3d").
type Stuck struct {
	Flow string
	Step string // "" for any step of Flow
	Days int
}

// Resolved matches residents with a handoff ticket resolved in the last Days
// days ("resolved<7d").
type Resolved struct{ Days int }

// Seen matches residents by their last message: less than Days days ago when
// Within ("seen<30d"), more than Days days ago otherwise ("seen>30d").
type Seen struct {
	Within bool
	Days   int
}

func (All) node()       {}
func (And) node()       {}
func (Or) node()        {}
func (Not) node()       {}
func (Areas) node()     {}
func (Langs) node()     {}
func (Channels) node()  {}
func (Started) node()   {}
func (Completed) node() {}
func (Stuck) node()     {}
func (Resolved) node()  {}
func (Seen) node()      {}

// Error is a mistake in an audience expression. Col is the 1-based column,
// counted in runes from the start of the source, where the mistake starts;
// 0 when it concerns the whole expression (empty, too long) or a tree not
// built by Parse.
type Error struct {
	Col int
	Msg string
}

// Error returns "audience: column 7: unknown term ..." (or "audience: ..."
// without a column).
func (e *Error) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("audience: column %d: %s", e.Col, e.Msg)
	}
	return "audience: " + e.Msg
}

func errAt(col int, format string, args ...any) *Error {
	return &Error{Col: col, Msg: fmt.Sprintf(format, args...)}
}

var (
	langs    = []string{"vi", "en"}
	channels = []bot.Channel{bot.ChannelTelegram, bot.ChannelWeb, bot.ChannelZaloBot, bot.ChannelZaloOA}
)

const termList = "terms: all, area:, lang:, channel:, started:, completed:, stuck:, resolved<, seen<, seen>"

// Parse reads an audience expression:
//
//	expr  := or
//	or    := and { "or" and }
//	and   := unary { "and" unary }
//	unary := "not" unary | "(" expr ")" | term
//	term  := "all" | "area:" LIST | "lang:" LIST | "channel:" LIST
//	       | "started:" FLOW | "completed:" FLOW | "stuck:" FLOW ["#" STEP] ">" N "d"
//	       | "resolved<" N "d" | "seen<" N "d" | "seen>" N "d"
//	LIST  := item { "," item }
//
// Keywords are case-insensitive; "và"/"va", "hoặc"/"hoac" and "không"/"khong"
// may replace and, or and not. A term is one word: no spaces inside it. N is
// a whole number from 1 to 3650; FLOW and STEP are [a-z0-9_]+, lower-cased;
// area codes are [A-Za-z0-9_-]+, kept as written; lang is vi or en; channel is
// telegram, web, zalo-bot or zalo-oa. Duplicates in a list are dropped.
//
// The error, when not nil, is an *Error.
func Parse(src string) (Audience, error) {
	if len(src) > maxLen {
		return Audience{}, &Error{Msg: fmt.Sprintf("too long: %d bytes (at most %d)", len(src), maxLen)}
	}
	if !utf8.ValidString(src) {
		col := 1
		for i, r := range src {
			if r == utf8.RuneError {
				if _, size := utf8.DecodeRuneInString(src[i:]); size == 1 {
					return Audience{}, errAt(col, "invalid UTF-8 (byte %#x)", src[i])
				}
			}
			col++
		}
		return Audience{}, &Error{Msg: "invalid UTF-8"} // not reached
	}
	if strings.TrimSpace(src) == "" {
		return Audience{}, &Error{Msg: "empty; write all for every subscriber"}
	}
	p := parser{toks: lex(src)}
	root, err := p.or()
	if err != nil {
		return Audience{}, err
	}
	switch t := p.peek(); t.kind {
	case tEOF:
	case tRParen:
		return Audience{}, errAt(t.col, `")" without a matching "("`)
	default:
		return Audience{}, errAt(t.col, "expected and/or between terms")
	}
	a := Audience{Root: root, src: src, cols: p.cols}
	// the canonical form spaces out what the source may have packed, as in
	// "(a or b)and(c or d)"; it must parse back too
	if n := len(a.String()); n > maxLen {
		return Audience{}, &Error{Msg: fmt.Sprintf("too long: %d bytes once written out in full (at most %d)", n, maxLen)}
	}
	return a, nil
}

// IsZero reports whether a is the zero Audience, which matches no one and has
// no written form.
func (a Audience) IsZero() bool { return a.Root == nil }

// Source returns the text a was parsed from ("" unless it came from Parse).
func (a Audience) Source() string { return a.src }

// String returns a's canonical form: lower-case and, or and not, one space
// around each, parentheses only where needed, lists comma-joined without
// duplicates. Parse accepts it back and builds an equal Root. An And or Or
// without nodes (which Parse never builds) is written as nothing.
func (a Audience) String() string {
	var b strings.Builder
	write(&b, a.Root)
	return b.String()
}

func write(b *strings.Builder, n Node) {
	group := func(n Node) {
		b.WriteByte('(')
		write(b, n)
		b.WriteByte(')')
	}
	switch n := n.(type) {
	case Or:
		for i, c := range n.Nodes {
			if i > 0 {
				b.WriteString(" or ")
			}
			write(b, c)
		}
	case And:
		for i, c := range n.Nodes {
			if i > 0 {
				b.WriteString(" and ")
			}
			if _, ok := c.(Or); ok {
				group(c)
			} else {
				write(b, c)
			}
		}
	case Not:
		b.WriteString("not ")
		switch n.Node.(type) {
		case And, Or:
			group(n.Node)
		default:
			write(b, n.Node)
		}
	case All:
		b.WriteString("all")
	case Areas:
		b.WriteString("area:" + joinUnique(n.Codes))
	case Langs:
		b.WriteString("lang:" + joinUnique(n.Langs))
	case Channels:
		b.WriteString("channel:" + joinUnique(n.Channels))
	case Started:
		b.WriteString("started:" + n.Flow)
	case Completed:
		b.WriteString("completed:" + n.Flow)
	case Stuck:
		b.WriteString("stuck:" + n.Flow)
		if n.Step != "" {
			b.WriteString("#" + n.Step)
		}
		fmt.Fprintf(b, ">%dd", n.Days)
	case Resolved:
		fmt.Fprintf(b, "resolved<%dd", n.Days)
	case Seen:
		op := ">"
		if n.Within {
			op = "<"
		}
		fmt.Fprintf(b, "seen%s%dd", op, n.Days)
	}
}

func joinUnique[S ~string](items []S) string {
	var b strings.Builder
	for i, s := range items {
		if slices.Index(items, s) < i {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(s))
	}
	return b.String()
}

// walk calls f for each term under n (every node but And, Or and Not), left
// to right, which is the order they are written in.
func walk(n Node, f func(term Node)) {
	switch n := n.(type) {
	case nil:
	case And:
		for _, c := range n.Nodes {
			walk(c, f)
		}
	case Or:
		for _, c := range n.Nodes {
			walk(c, f)
		}
	case Not:
		walk(n.Node, f)
	default:
		f(n)
	}
}

// Known is what a deployment has, for Validate. A nil func or a nil Langs
// means "do not check that".
type Known struct {
	// Flows reports whether a flow exists and lists its step ids.
	Flows func(id string) (steps []string, ok bool)
	// FlowIDs are the flows' ids, only to suggest a spelling for an unknown one.
	FlowIDs []string
	// Areas reports whether an area code exists (it is not asked about "none").
	Areas func(code string) bool
	// Langs are the languages residents speak here, lower-case codes.
	Langs []string
}

// Validate checks the flows, steps, areas and languages a names against k and
// returns every problem, each an *Error with the column of its term, or nil.
func Validate(a Audience, k Known) []error {
	var errs []error
	i := 0
	walk(a.Root, func(term Node) {
		col := 0
		if i < len(a.cols) {
			col = a.cols[i]
		}
		i++
		switch n := term.(type) {
		case Areas:
			if k.Areas == nil {
				return
			}
			for _, c := range n.Codes {
				if c != "none" && !k.Areas(c) {
					errs = append(errs, errAt(col, "unknown area %q", c))
				}
			}
		case Langs:
			if k.Langs == nil {
				return
			}
			here := strings.Join(k.Langs, ", ")
			if here == "" {
				here = "none"
			}
			for _, l := range n.Langs {
				if !slices.Contains(k.Langs, l) {
					errs = append(errs, errAt(col, "no residents speak %q here (languages: %s)", l, here))
				}
			}
		case Started:
			errs = k.checkFlow(errs, col, n.Flow, "")
		case Completed:
			errs = k.checkFlow(errs, col, n.Flow, "")
		case Stuck:
			errs = k.checkFlow(errs, col, n.Flow, n.Step)
		}
	})
	return errs
}

func (k Known) checkFlow(errs []error, col int, flow, step string) []error {
	if k.Flows == nil {
		return errs
	}
	steps, ok := k.Flows(flow)
	switch {
	case !ok:
		return append(errs, errAt(col, "unknown flow %q%s", flow, suggest(flow, k.FlowIDs)))
	case step != "" && !slices.Contains(steps, step):
		return append(errs, errAt(col, "flow %q has no step %q%s", flow, step, suggest(step, steps)))
	}
	return errs
}

// suggest returns ` (did you mean "x"?)` for the first of known closest to s
// when it is at most 2 edits away, or "".
func suggest(s string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := distance(s, k); d > 0 && d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// The lexer: words (terms and keywords) separated by spaces and parentheses.

type tokKind int

const (
	tEOF tokKind = iota
	tTerm
	tAnd
	tOr
	tNot
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string // as written
	col  int    // 1-based, in runes
}

// keywords maps a lower-cased word to its operator: the English keywords and
// the Vietnamese ones, composed (NFC) or decomposed (NFD, and for hoặc the
// two half-composed spellings some keyboards type).
var keywords = map[string]tokKind{
	"and": tAnd, "và": tAnd, "va\u0300": tAnd, "va": tAnd,
	"or": tOr, "hoặc": tOr, "hoa\u0323\u0306c": tOr, "ho\u1ea1\u0306c": tOr, "ho\u0103\u0323c": tOr, "hoac": tOr,
	"not": tNot, "không": tNot, "kho\u0302ng": tNot, "khong": tNot,
}

func lex(src string) []token {
	var toks []token
	col := 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
			col++
		case r == '(' || r == ')':
			kind := tLParen
			if r == ')' {
				kind = tRParen
			}
			toks = append(toks, token{kind, src[i : i+1], col})
			i++
			col++
		default:
			start, startCol := i, col
			for i < len(src) {
				r, size := utf8.DecodeRuneInString(src[i:])
				if unicode.IsSpace(r) || r == '(' || r == ')' {
					break
				}
				i += size
				col++
			}
			w := src[start:i]
			kind, ok := keywords[strings.ToLower(w)]
			if !ok {
				kind = tTerm
			}
			toks = append(toks, token{kind, w, startCol})
		}
	}
	return append(toks, token{kind: tEOF, col: col})
}

// The parser: recursive descent over the tokens.

type parser struct {
	toks  []token
	pos   int
	depth int   // parentheses and nots open
	cols  []int // column of each term parsed
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) or() (Node, error) {
	n, err := p.and()
	if err != nil || p.peek().kind != tOr {
		return n, err
	}
	nodes := flat(nil, n, true)
	for p.peek().kind == tOr {
		p.next()
		m, err := p.and()
		if err != nil {
			return nil, err
		}
		nodes = flat(nodes, m, true)
	}
	return Or{Nodes: nodes}, nil
}

func (p *parser) and() (Node, error) {
	n, err := p.unary()
	if err != nil || p.peek().kind != tAnd {
		return n, err
	}
	nodes := flat(nil, n, false)
	for p.peek().kind == tAnd {
		p.next()
		m, err := p.unary()
		if err != nil {
			return nil, err
		}
		nodes = flat(nodes, m, false)
	}
	return And{Nodes: nodes}, nil
}

// flat appends n to nodes, or n's nodes when n is an Or and or is set (an And
// and or is not), so that "(a and b) and c" is one And of three.
func flat(nodes []Node, n Node, or bool) []Node {
	switch g := n.(type) {
	case Or:
		if or {
			return append(nodes, g.Nodes...)
		}
	case And:
		if !or {
			return append(nodes, g.Nodes...)
		}
	}
	return append(nodes, n)
}

func (p *parser) unary() (Node, error) {
	t := p.peek()
	switch t.kind {
	case tNot, tLParen:
		if p.depth == maxDepth {
			return nil, errAt(t.col, "nested too deeply (at most %d levels of parentheses and not)", maxDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
		p.next()
		if t.kind == tNot {
			n, err := p.unary()
			if err != nil {
				return nil, err
			}
			return Not{Node: n}, nil
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		switch c := p.peek(); c.kind {
		case tRParen:
			p.next()
			return n, nil
		case tEOF:
			return nil, errAt(t.col, `"(" is never closed`)
		default:
			return nil, errAt(c.col, "expected and/or between terms")
		}
	case tTerm:
		p.next()
		if len(p.cols) == maxTerms {
			return nil, errAt(t.col, "too many terms (at most %d)", maxTerms)
		}
		n, err := parseTerm(t.text, t.col)
		if err != nil {
			return nil, err
		}
		p.cols = append(p.cols, t.col)
		return n, nil
	}
	// a term is missing: at the start, after an operator or after "("
	var prev token
	if p.pos > 0 {
		prev = p.toks[p.pos-1]
	}
	switch {
	case t.kind == tEOF && prev.kind == tLParen:
		return nil, errAt(prev.col, `"(" is never closed`)
	case t.kind == tEOF:
		return nil, errAt(prev.col, "%q at the end needs a term after it", prev.text)
	case t.kind == tRParen && p.pos == 0:
		return nil, errAt(t.col, `")" without a matching "("`)
	case t.kind == tRParen && prev.kind == tLParen:
		return nil, errAt(prev.col, "empty parentheses")
	case prev.kind == tAnd || prev.kind == tOr || prev.kind == tNot:
		return nil, errAt(t.col, "expected a term after %q, found %q", prev.text, t.text)
	}
	return nil, errAt(t.col, "expected a term, found %q", t.text)
}

// The terms.

var heads = []string{"area:", "lang:", "channel:", "started:", "completed:", "stuck:", "resolved<", "seen<", "seen>"}

// parseTerm parses the word w, which starts at column col.
func parseTerm(w string, col int) (Node, error) {
	lw := asciiLower(w)
	if lw == "all" {
		return All{}, nil
	}
	for _, h := range heads {
		if !strings.HasPrefix(lw, h) {
			continue
		}
		rest, rcol := w[len(h):], col+len(h)
		switch h {
		case "area:":
			var codes []string
			err := list(h, rest, col, "area:19771,19774", func(s string, col int) error {
				if !isID(s, true) {
					return errAt(col, "bad area code %q (letters, digits, _ and - only)", clip(s))
				}
				codes = appendNew(codes, s)
				return nil
			})
			return Areas{Codes: codes}, err
		case "lang:":
			var ls []string
			err := list(h, rest, col, "lang:vi,en", func(s string, col int) error {
				l := asciiLower(s)
				if !slices.Contains(langs, l) {
					return errAt(col, "unknown language %q (languages: %s)", clip(s), strings.Join(langs, ", "))
				}
				ls = appendNew(ls, l)
				return nil
			})
			return Langs{Langs: ls}, err
		case "channel:":
			var chs []bot.Channel
			err := list(h, rest, col, "channel:telegram,zalo-oa", func(s string, col int) error {
				ch := bot.Channel(asciiLower(s))
				if !slices.Contains(channels, ch) {
					return errAt(col, "unknown channel %q (channels: telegram, web, zalo-bot, zalo-oa)", clip(s))
				}
				chs = appendNew(chs, ch)
				return nil
			})
			return Channels{Channels: chs}, err
		case "started:", "completed:":
			if strings.Contains(rest, ",") {
				return nil, errAt(rcol, "%s takes one flow, not a list (write %sa or %sb)", h, h, h)
			}
			if rest == "" {
				return nil, errAt(col, "missing flow after %q (e.g. %sinstall)", h, h)
			}
			flow, err := parseID("flow", rest, rcol)
			if err != nil {
				return nil, err
			}
			if h == "started:" {
				return Started{Flow: flow}, nil
			}
			return Completed{Flow: flow}, nil
		case "stuck:":
			return parseStuck(w, rest, col, rcol)
		case "resolved<":
			days, err := parseDays(h, rest, rcol)
			return Resolved{Days: days}, err
		case "seen<", "seen>":
			days, err := parseDays(h, rest, rcol)
			return Seen{Within: h == "seen<", Days: days}, err
		}
	}
	head := w
	if i := strings.IndexAny(w, ":<>"); i >= 0 {
		head = w[:i+1]
	}
	return nil, errAt(col, "unknown term %q (%s)", clip(head), termList)
}

// parseStuck parses "stuck:FLOW[#STEP]>Nd"; rest follows "stuck:", at rcol.
func parseStuck(w, rest string, col, rcol int) (Node, error) {
	fs, days, hasDays := strings.Cut(rest, ">")
	flowPart, step, hasStep := strings.Cut(fs, "#")
	if flowPart == "" {
		return nil, errAt(col, `missing flow after "stuck:" (e.g. stuck:install>3d)`)
	}
	flow, err := parseID("flow", flowPart, rcol)
	if err != nil {
		return nil, err
	}
	if hasStep {
		hcol := rcol + utf8.RuneCountInString(flowPart)
		if step == "" {
			return nil, errAt(hcol, `missing step after "#" (e.g. stuck:install#otp>3d)`)
		}
		if step, err = parseID("step", step, hcol+1); err != nil {
			return nil, err
		}
	}
	dcol := rcol + utf8.RuneCountInString(fs)
	if !hasDays {
		return nil, errAt(dcol, `missing ">" and days after %q (e.g. %s>3d)`, clip(w), clip(w))
	}
	n, err := parseDays(w[:len(w)-len(days)], days, dcol+1)
	if err != nil {
		return nil, err
	}
	return Stuck{Flow: flow, Step: step, Days: n}, nil
}

// parseID checks and lower-cases the flow or step id s, at column col.
func parseID(kind, s string, col int) (string, error) {
	if !isID(s, false) {
		return "", errAt(col, "bad %s id %q (letters, digits and _ only)", kind, clip(s))
	}
	return asciiLower(s), nil
}

// parseDays parses "Nd", N a whole number 1..3650, that follows head; s is at
// column col.
func parseDays(head, s string, col int) (int, error) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		if s == "" {
			return 0, errAt(col, "missing number of days after %q (e.g. %s3d)", clip(head), clip(head))
		}
		return 0, errAt(col, "expected a number of days after %q, found %q", clip(head), clip(s))
	}
	digits, rest := s[:i], s[i:]
	n, err := strconv.Atoi(digits)
	switch {
	case err != nil || n < 1 || n > maxDays:
		return 0, errAt(col, "days must be a whole number from 1 to %d, not %s", maxDays, clip(digits))
	case rest == "":
		return 0, errAt(col+i, `missing "d" after %s (write %sd for %s days)`, digits, digits, digits)
	case rest[0] != 'd' && rest[0] != 'D':
		return 0, errAt(col+i, `expected "d" (days) after %s, found %q`, digits, clip(rest))
	case len(rest) > 1:
		return 0, errAt(col+i+1, "unexpected %q after %sd", clip(rest[1:]), digits)
	}
	return n, nil
}

// list calls item for each item of the comma-separated list rest that follows
// head; the term starts at col.
func list(head, rest string, col int, example string, item func(s string, col int) error) error {
	if rest == "" {
		return errAt(col, "missing list after %q (e.g. %s, no spaces inside a term)", head, example)
	}
	icol := col + len(head)
	for n := 1; ; n++ {
		s, more, found := strings.Cut(rest, ",")
		switch {
		case n > maxItems:
			return errAt(icol, "too many items after %q (at most %d)", head, maxItems)
		case s == "":
			return errAt(icol, "empty item in the list after %q", head)
		}
		if err := item(s, icol); err != nil {
			return err
		}
		if !found {
			return nil
		}
		rest, icol = more, icol+utf8.RuneCountInString(s)+1
	}
}

func appendNew[S comparable](items []S, s S) []S {
	if slices.Contains(items, s) {
		return items
	}
	return append(items, s)
}

// isID reports whether s is made of ASCII letters, digits and _ (and - when
// dash).
func isID(s string, dash bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || dash && c == '-') {
			return false
		}
	}
	return s != ""
}

// asciiLower lower-cases A-Z only, so that byte offsets stay put and no
// non-ASCII letter folds into an ASCII one.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// clip shortens user text quoted in a message to 40 runes.
func clip(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}
