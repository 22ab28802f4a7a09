package areas

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/unicode/norm"

	"github.com/gocua/gocua/flows"
)

// Limits of a file.
const (
	MaxFileSize = 4 << 20 // bytes; a province's file is some hundred kilobytes
	maxName     = 200     // bytes of a name or an alias
	maxText     = 1000    // bytes of an address or hours
	maxURL      = 2000    // bytes of a source
	maxAliases  = 50      // per area
	maxOffices  = 20      // per area
)

// file is the decoded document.
type file struct {
	Province Province `yaml:"province"`
	Verified string   `yaml:"verified"` // YYYY-MM-DD
	Sources  []string `yaml:"sources"`
	Areas    []Area   `yaml:"areas"`
}

// Parse reads an areas file. name is how issues refer to the file (its
// path). If anything is wrong it returns an error wrapping Issues.
//
// Parse reads no clock, so a verified date after today is not refused here
// (Check does): a date a few hours ahead in another time zone must not stop
// a running bot.
func Parse(name string, data []byte) (*Set, error) {
	s, issues := compile(name, data, time.Time{})
	if len(issues) > 0 {
		return nil, fmt.Errorf("areas: %w", Issues(issues))
	}
	return s, nil
}

// Load reads the areas file at path in fsys; issues name it path.
func Load(fsys fs.FS, path string) (*Set, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("areas: %w", err)
	}
	return Parse(path, data)
}

// LoadFile reads the areas file at a path of the operating system, such as
// GOCUA_AREAS_FILE.
func LoadFile(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("areas: %w", err)
	}
	return Parse(path, data)
}

// Check is Parse's validation without keeping the Set, plus the check that
// depends on the date: a verified date after today (in today's location) is
// reported. The zero today skips it, as Parse does. It returns every problem
// in line order; nil means the file is valid.
func Check(today time.Time, name string, data []byte) []Issue {
	_, issues := compile(name, data, today)
	return issues
}

var (
	codePattern = regexp.MustCompile(`^[a-z0-9_]+$`)
	lineNumber  = regexp.MustCompile(`line (\d+)`)
	unknownKey  = regexp.MustCompile(`field (\S+) not found in type (\S+)`)
	yamlMsgHead = regexp.MustCompile(`^(yaml: )?(line \d+: )?`)
)

// checker collects the issues of one file.
type checker struct {
	name   string
	lines  map[string]int // dotted YAML path → line
	syntax map[int]bool   // lines with a decoding error: other checks stay quiet there
	issues []Issue
}

func (c *checker) add(line int, area string, kind IssueKind, format string, args ...any) {
	if kind != IssueSyntax && kind != IssueUnknownKey && c.syntax[line] {
		return
	}
	c.issues = append(c.issues, Issue{File: c.name, Line: line, Area: area, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// at reports at the line of the deepest existing prefix of path.
func (c *checker) at(path []any, area string, kind IssueKind, format string, args ...any) {
	c.add(c.lineOf(path...), area, kind, format, args...)
}

func compile(name string, data []byte, today time.Time) (*Set, []Issue) {
	c := &checker{name: name, lines: map[string]int{}, syntax: map[int]bool{}}
	f, ok := c.decode(data)
	if ok {
		c.file(f, today)
	}
	sortIssues(c.issues)
	if len(c.issues) > 0 {
		return nil, c.issues
	}
	return build(f), nil
}

// decode parses data strictly; ok is false when nothing can be checked.
func (c *checker) decode(data []byte) (*file, bool) {
	if len(data) > MaxFileSize {
		c.add(0, "", IssueSyntax, "the file is %d bytes; at most %d are read (split the province's list?)", len(data), MaxFileSize)
		return nil, false
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			c.add(0, "", IssueSyntax, "empty file: it needs province: and areas:")
		} else {
			c.yamlErr(err)
		}
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		c.add(extra.Line, "", IssueSyntax, "only one YAML document per file (remove the extra ---)")
		return nil, false
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		c.add(root.Line, "", IssueSyntax, "expected a mapping with province: and areas:")
		return nil, false
	}
	flows.KeyLines(root.Content[0], "", c.lines)
	// yaml.v3 drops a null item of a list of mappings, which would shift
	// every later line: refuse it before anything else
	if line := nullItem(root.Content[0]); line > 0 {
		c.add(line, "", IssueSyntax, "an empty list item (a lone -): remove it or fill it in")
		return nil, false
	}
	f := &file{}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(f); err != nil {
		c.yamlErr(err)
	}
	return f, true
}

// yamlErr converts a yaml.v3 error into issues.
func (c *checker) yamlErr(err error) {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		// yaml.v3 quotes a long value cut at a byte count, which can split a
		// Vietnamese letter in two
		m = strings.ToValidUTF8(m, "")
		line := 0
		if sub := lineNumber.FindStringSubmatch(m); sub != nil {
			line, _ = strconv.Atoi(sub[1])
		}
		c.syntax[line] = true
		if sub := unknownKey.FindStringSubmatch(m); sub != nil {
			c.add(line, "", IssueUnknownKey, "unknown key %q (allowed here: %s)", sub[1], strings.Join(knownKeys(sub[2]), ", "))
		} else {
			c.add(line, "", IssueSyntax, "%s", yamlMsgHead.ReplaceAllString(m, ""))
		}
	}
}

// knownKeys lists the YAML keys of the named decode type ("areas.Office").
func knownKeys(typeName string) []string {
	return flows.YAMLKeys(typeName, reflect.TypeFor[file](), reflect.TypeFor[Province](), reflect.TypeFor[Area](), reflect.TypeFor[Office]())
}

// nullItem is the line of the first null item of a list under n, or 0.
// Aliases are not followed.
func nullItem(n *yaml.Node) int {
	for _, item := range n.Content {
		if n.Kind == yaml.SequenceNode && item.Kind == yaml.ScalarNode && item.Tag == "!!null" {
			return item.Line
		}
		if l := nullItem(item); l > 0 {
			return l
		}
	}
	return 0
}

func joinPath(parts []any) string {
	strs := make([]string, len(parts))
	for i, p := range parts {
		strs[i] = fmt.Sprint(p)
	}
	return strings.Join(strs, ".")
}

// lineOf returns the line of the deepest existing prefix of the path.
func (c *checker) lineOf(parts ...any) int {
	for n := len(parts); n > 0; n-- {
		if l, ok := c.lines[joinPath(parts[:n])]; ok {
			return l
		}
	}
	return 0
}

func (c *checker) has(parts ...any) bool {
	_, ok := c.lines[joinPath(parts)]
	return ok
}

func (c *checker) file(f *file, today time.Time) {
	p := f.Province
	p.Code, p.Name = strings.TrimSpace(p.Code), strings.TrimSpace(p.Name)
	switch {
	case !c.has("province"):
		c.add(1, "", IssueMissing, "no province: write province: {code: …, name: \"Tỉnh …\"}")
	default:
		c.code([]any{"province", "code"}, "", "province code", p.Code)
		c.oneLine([]any{"province", "name"}, "", "province name", p.Name)
	}
	if c.has("verified") {
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(f.Verified))
		switch {
		case err != nil:
			c.at([]any{"verified"}, "", IssueSyntax, "verified %q must be a date like 2026-01-15", f.Verified)
		case !today.IsZero() && d.Format(time.DateOnly) > today.Format(time.DateOnly):
			c.at([]any{"verified"}, "", IssueFutureDate, "verified %s is after today (%s): write the day the offices were really checked against their sources",
				d.Format(time.DateOnly), today.Format(time.DateOnly))
		}
	}
	for i, src := range f.Sources {
		c.url([]any{"sources", i}, "", "source", src)
	}
	if len(f.Areas) == 0 {
		c.at([]any{"areas"}, "", IssueMissing, "no areas: list the communes and wards served under areas:")
	}
	codes := map[string]int{} // code → line
	names := map[string]int{} // kind + name key → line
	fulls := map[string]int{} // full match key → line
	for i := range f.Areas {
		c.area(&f.Areas[i], i, codes, names, fulls)
	}
}

// code checks a code; it reports nothing for an empty one when it is not
// there at all (the caller says what is missing).
func (c *checker) code(path []any, area, what, code string) bool {
	switch {
	case code == "":
		c.at(path, area, IssueMissing, "%s is missing: write one of a-z, 0-9 and _ (e.g. phuong_phu_xuan)", what)
	case !codePattern.MatchString(code):
		c.at(path, area, IssueBadCode, "%s %q must use only a-z, 0-9 and _ (no capitals, spaces or diacritics)", what, clip(code))
	case len(code) > MaxCode:
		c.at(path, area, IssueBadCode, "%s %q is %d bytes; a Telegram /start link carries at most %d", what, clip(code), len(code), MaxCode)
	default:
		return true
	}
	return false
}

// oneLine checks a name or an alias: one line, with a letter or digit.
func (c *checker) oneLine(path []any, area, what, s string) bool {
	switch {
	case s == "":
		c.at(path, area, IssueMissing, "%s is missing", what)
	case len(s) > maxName:
		c.at(path, area, IssueBadText, "%s is %d bytes; at most %d", what, len(s), maxName)
	case strings.ContainsFunc(s, unicode.IsControl) || !utf8.ValidString(s):
		c.at(path, area, IssueBadText, "%s %q has a line break or control character", what, clip(s))
	case flows.MatchKey(s) == "":
		c.at(path, area, IssueBadText, "%s %q has no letter or digit to match", what, clip(s))
	default:
		return true
	}
	return false
}

// text checks an address or opening hours: line breaks are allowed.
func (c *checker) text(path []any, area, what, s string) {
	switch {
	case len(s) > maxText:
		c.at(path, area, IssueBadText, "%s is %d bytes; at most %d", what, len(s), maxText)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) || !utf8.ValidString(s):
		c.at(path, area, IssueBadText, "%s has a control character", what)
	}
}

func (c *checker) url(path []any, area, what, s string) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if len(s) > maxURL || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		c.at(path, area, IssueBadURL, "%s %q is not an http(s) address", what, clip(s))
	}
}

func (c *checker) area(a *Area, i int, codes, names, fulls map[string]int) {
	p := func(rest ...any) []any { return append([]any{"areas", i}, rest...) }
	a.Code, a.Name, a.Kind = strings.TrimSpace(a.Code), strings.TrimSpace(a.Name), Kind(strings.TrimSpace(string(a.Kind)))
	id := ""
	if c.code(p("code"), "", "area code", a.Code) {
		id = a.Code
		if line, dup := codes[a.Code]; dup {
			c.at(p("code"), id, IssueDuplicate, "code %q is also used at line %d", a.Code, line)
		} else {
			codes[a.Code] = c.lineOf(p("code")...)
		}
	}
	if !c.oneLine(p("name"), id, "name", a.Name) {
		return
	}
	key, said := fold(a.Name)
	switch {
	case a.Kind == "" && said != "":
		a.Kind = said // "Phường …" is a ward without saying so twice
	case a.Kind == "":
		c.at(p("name"), id, IssueMissing, "kind is missing: write kind: ward, commune or special_zone (or start the name with Phường, Xã or Đặc khu)")
	case a.Kind != KindWard && a.Kind != KindCommune && a.Kind != KindSpecialZone:
		c.at(p("kind"), id, IssueBadKind, "kind %q is not ward, commune or special_zone", clip(string(a.Kind)))
	case said != "" && said != a.Kind:
		c.at(p("kind"), id, IssueBadKind, "kind is %s but the name %q says %s", a.Kind, a.Name, said)
	}
	full := flows.MatchKey(a.Name)
	if line, dup := fulls[full]; dup {
		c.at(p("name"), id, IssueDuplicate, "name %q is also used at line %d (case and diacritics aside)", a.Name, line)
	} else if line, dup := names[string(a.Kind)+" "+key]; dup {
		c.at(p("name"), id, IssueDuplicate, "name %q is also used at line %d (case, diacritics and the kind word aside)", a.Name, line)
	} else {
		line := c.lineOf(p("name")...)
		fulls[full] = line
		names[string(a.Kind)+" "+key] = line
	}
	if len(a.Aliases) > maxAliases {
		c.at(p("aliases"), id, IssueBadText, "%d aliases; at most %d", len(a.Aliases), maxAliases)
	}
	// aliases are compared with their diacritics: the old wards Hương Văn
	// and Hương Vân were two
	own := map[string]bool{sameText(a.Name): true}
	for j, al := range a.Aliases {
		al = strings.TrimSpace(al)
		a.Aliases[j] = al
		if !c.oneLine(p("aliases", j), id, "alias", al) {
			continue
		}
		if k := sameText(al); own[k] {
			c.at(p("aliases", j), id, IssueDuplicate, "alias %q repeats the name or another alias of this area", al)
		} else {
			own[k] = true
		}
	}
	if len(a.Offices) > maxOffices {
		c.at(p("offices"), id, IssueBadText, "%d offices; at most %d", len(a.Offices), maxOffices)
	}
	for j := range a.Offices {
		c.office(&a.Offices[j], id, p("offices", j))
	}
}

func (c *checker) office(o *Office, id string, path []any) {
	p := func(k string) []any { return append(path[:len(path):len(path)], k) }
	o.Kind = OfficeKind(strings.TrimSpace(string(o.Kind)))
	o.Name, o.Address, o.Hours = strings.TrimSpace(o.Name), strings.TrimSpace(o.Address), strings.TrimSpace(o.Hours)
	o.Phone, o.Source = strings.TrimSpace(o.Phone), strings.TrimSpace(o.Source)
	switch o.Kind {
	case OfficePolice, OfficePublicService:
	case "":
		c.at(p("kind"), id, IssueMissing, "office kind is missing: write kind: police or public_service")
	default:
		c.at(p("kind"), id, IssueBadKind, "office kind %q is not police or public_service", clip(string(o.Kind)))
	}
	c.oneLine(p("name"), id, "office name", o.Name)
	c.text(p("address"), id, "address", o.Address)
	c.text(p("hours"), id, "hours", o.Hours)
	if o.Phone != "" {
		if msg := checkPhone(o.Phone); msg != "" {
			c.at(p("phone"), id, IssueBadPhone, "phone %q %s", clip(o.Phone), msg)
		}
	}
	if o.Source != "" || c.has(p("source")...) {
		c.url(p("source"), id, "source", o.Source)
	}
}

// checkPhone accepts one or more Vietnamese numbers separated by , ; or /,
// each written with digits, spaces, dots, dashes or brackets: 0 and 9 or
// 10 more digits, +84 and 9 or 10 digits, or a 1800/1900 line of 8 or 10
// digits. It returns what is wrong, or "".
func checkPhone(s string) string {
	if len(s) > maxName {
		return "is too long"
	}
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ';' || r == '/' }) {
		part = strings.TrimSpace(part)
		var digits strings.Builder
		for i, r := range part {
			switch {
			case r >= '0' && r <= '9':
				digits.WriteRune(r)
			case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
			case r == '+' && i == 0:
			default:
				return "may hold only digits, spaces, dots, dashes, brackets and a leading +84"
			}
		}
		d := digits.String()
		n := len(d)
		switch {
		case strings.HasPrefix(part, "+"):
			if !strings.HasPrefix(d, "84") || n-2 < 9 || n-2 > 10 || d[2] == '0' {
				return "is not a Vietnamese number: +84 and 9 or 10 digits (without the 0)"
			}
		case strings.HasPrefix(d, "1800") || strings.HasPrefix(d, "1900"):
			if n != 8 && n != 10 {
				return "is not a whole 1800/1900 number (8 or 10 digits)"
			}
		case strings.HasPrefix(d, "0"):
			if n < 10 || n > 11 {
				return fmt.Sprintf("has %d digits; a Vietnamese number has 10 (mobile) or 11 (landline with area code)", n)
			}
		default:
			return "must start with 0, +84, 1800 or 1900"
		}
	}
	if strings.TrimFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '/' || r == ' ' }) == "" {
		return "has no number"
	}
	return ""
}

// sameText is s lower case, in NFC, with its runs of space made one: two
// texts with the same sameText are written the same.
func sameText(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(norm.NFC.String(s))), " ")
}

// clip shortens a quoted value in a message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// build makes the Set of a valid file.
func build(f *file) *Set {
	s := &Set{
		province: Province{Code: strings.TrimSpace(f.Province.Code), Name: strings.TrimSpace(f.Province.Name)},
		verified: strings.TrimSpace(f.Verified),
		byCode:   make(map[string]int, len(f.Areas)),
	}
	for _, src := range f.Sources {
		s.sources = append(s.sources, strings.TrimSpace(src))
	}
	if s.verified != "" {
		if d, err := time.Parse(time.DateOnly, s.verified); err == nil {
			s.verified = d.Format(time.DateOnly)
		}
	}
	for i, a := range f.Areas {
		if len(a.Aliases) == 0 {
			a.Aliases = nil
		}
		if len(a.Offices) == 0 {
			a.Offices = nil
		}
		s.areas = append(s.areas, a)
		s.byCode[a.Code] = i
		k := areaKeys{}
		k.name, _ = fold(a.Name)
		for _, al := range a.Aliases {
			ak, _ := fold(al)
			k.aliases = append(k.aliases, ak)
		}
		s.keys = append(s.keys, k)
	}
	return s
}
