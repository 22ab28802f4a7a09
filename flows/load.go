package flows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// namedFS is a layer with a display name for issue paths.
type namedFS struct {
	fsys   fs.FS
	name   string
	strict bool // see Strict
}

func (n namedFS) Open(name string) (fs.File, error)          { return n.fsys.Open(name) }
func (n namedFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(n.fsys, name) }
func (n namedFS) ReadFile(name string) ([]byte, error)       { return fs.ReadFile(n.fsys, name) }

// Named gives a layer a display name used in issue paths
// ("bundled/install_vneid.yaml"). A Strict layer stays strict.
func Named(name string, fsys fs.FS) fs.FS {
	return namedFS{fsys: fsys, name: name, strict: isStrict(fsys)}
}

// Strict marks a layer as published content, as Bundled is: there a flow
// (and the links file) without `sources:`, `owner:` or `verified:` is an
// error. In other layers (an organizer's directory) it is a warning, so
// that a quick local flow still loads.
func Strict(fsys fs.FS) fs.FS {
	if n, ok := fsys.(namedFS); ok {
		n.strict = true
		return n
	}
	return namedFS{fsys: fsys, strict: true}
}

func isStrict(fsys fs.FS) bool {
	n, ok := fsys.(namedFS)
	return ok && n.strict
}

// LayerName is the name given to fsys by Named, or "".
func LayerName(fsys fs.FS) string {
	if n, ok := fsys.(namedFS); ok {
		return n.name
	}
	return ""
}

// Load reads every *.yaml file at the root of each layer (a flow file has a
// top-level `id:`; a locale file holds `texts:`; a links file holds
// `links:`). Later layers override earlier ones: a flow replaces the flow
// with the same id, a locale text replaces the text with the same key, a
// links list replaces the list of the same name. Everything is validated;
// if any error is found Load returns an error wrapping Issues (errors
// only). Warnings do not stop loading: Set.Warnings returns them.
//
// Load reads no clock, so it does not compare `verified:` dates with today
// (Check does): a date a few hours ahead in another time zone must not stop
// a running bot from loading its content, nor an old one.
func Load(layers ...fs.FS) (*Set, error) {
	s, issues := compile(layers, CheckOptions{})
	if errs := Issues(issues).Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("flows: %w", errs)
	}
	s.warnings = Issues(issues).Warnings()
	return s, nil
}

// DefaultMaxAge is how old a `verified:` date may be before Check warns
// that the flow should be checked against its sources again.
const DefaultMaxAge = 180 * 24 * time.Hour

// CheckOptions are the checks that depend on the day, which pure code
// cannot know: the caller passes it.
type CheckOptions struct {
	// Now is the day of the check, in the location whose calendar counts
	// (a verified date after it is an error, one older than MaxAge a
	// warning). The zero Now skips the date checks, as Load does.
	Now time.Time
	// MaxAge is the age of a verified date that draws a warning: zero means
	// DefaultMaxAge, a negative age never warns. Ages count whole days.
	MaxAge time.Duration
}

// Check is CheckOptions{Now: today}.Check: Load's validation plus the date
// checks, with the default MaxAge.
func Check(today time.Time, layers ...fs.FS) []Issue {
	return CheckOptions{Now: today}.Check(layers...)
}

// Check is Load's validation without keeping the Set, plus the checks that
// depend on the date: a `verified:` date after o.Now is an error, one older
// than o.MaxAge a warning. It returns every problem found, errors and
// warnings (Issue.Warning), in file and line order; nil means nothing to
// report. Load succeeds on the same layers exactly when no issue is an
// error.
func (o CheckOptions) Check(layers ...fs.FS) []Issue {
	_, issues := compile(layers, o)
	return issues
}

// content is everything read from the layers after overriding.
type content struct {
	flows      map[string]*Flow
	texts      map[string]Text
	textFile   map[string]string // locale key → file that defined it
	textLines  map[string]int    // locale key → line
	localeFile string            // last locale file read ("" if none)
	localeLine int               // line of its `texts:`
	issues     []Issue
	hash       []byte
	seq        int // flows read so far
	links      linksContent
}

// localeDoc is a locale.yaml file.
type localeDoc struct {
	Texts map[string]Text `yaml:"texts"`
}

func compile(layers []fs.FS, opts CheckOptions) (*Set, []Issue) {
	c := read(layers)
	s := build(c)
	c.issues = append(c.issues, validate(c, s, opts)...)
	sortIssues(c.issues)
	return s, c.issues
}

func read(layers []fs.FS) *content {
	c := &content{
		flows:     map[string]*Flow{},
		texts:     map[string]Text{},
		textFile:  map[string]string{},
		textLines: map[string]int{},
	}
	h := sha256.New()
	for li, layer := range layers {
		name := LayerName(layer)
		entries, err := fs.ReadDir(layer, ".")
		if err != nil {
			c.issues = append(c.issues, Issue{File: name, Kind: IssueSyntax, Msg: "cannot read layer: " + err.Error()})
			continue
		}
		seen := map[string]string{} // flow id → file, within this layer
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				continue
			}
			path := e.Name()
			if name != "" {
				path = name + "/" + path
			}
			data, err := fs.ReadFile(layer, e.Name())
			if err != nil {
				c.issues = append(c.issues, Issue{File: path, Kind: IssueSyntax, Msg: "cannot read: " + err.Error()})
				continue
			}
			fmt.Fprintf(h, "%d\x00%s\x00%d\x00", li, e.Name(), len(data))
			h.Write(data)
			c.readFile(path, data, seen, layer)
		}
	}
	c.hash = h.Sum(nil)
	return c
}

// readFile decodes one file into c.
func (c *content) readFile(path string, data []byte, seen map[string]string, layer fs.FS) {
	strictLayer := isStrict(layer)
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			c.issues = append(c.issues, Issue{File: path, Kind: IssueSyntax, Msg: "empty file"})
			return
		}
		c.issues = append(c.issues, yamlIssues(path, err, nil)...)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		c.issues = append(c.issues, Issue{File: path, Line: extra.Line, Kind: IssueSyntax, Msg: "only one YAML document per file (remove the extra ---)"})
		return
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		c.issues = append(c.issues, Issue{File: path, Line: root.Line, Kind: IssueSyntax, Msg: "expected a mapping with `id:` (a flow), `texts:` (locale) or `links:` (the link checker's lists)"})
		return
	}
	top := root.Content[0]
	lines := map[string]int{}
	KeyLines(top, "", lines)

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if _, isLinks := lines["links"]; isLinks {
		c.readLinks(path, data, lines, strictLayer)
		return
	}
	if _, isLocale := lines["texts"]; isLocale {
		var doc localeDoc
		if err := strict.Decode(&doc); err != nil {
			c.issues = append(c.issues, yamlIssues(path, err, nil)...)
		}
		c.localeFile, c.localeLine = path, lines["texts"]
		for _, k := range sortedKeys(doc.Texts) {
			c.texts[k] = doc.Texts[k]
			c.textFile[k] = path
			c.textLines[k] = lineOf(lines, "texts", k)
		}
		return
	}

	f := &Flow{}
	if err := strict.Decode(f); err != nil {
		c.issues = append(c.issues, yamlIssues(path, err, func(line int) (string, string) {
			i := stepAt(lines, line)
			if i >= 0 && i < len(f.Steps) && f.Steps[i] != nil {
				return f.ID, f.Steps[i].ID
			}
			return f.ID, ""
		})...)
	}
	f.file, f.lines, f.strict, f.layer = path, lines, strictLayer, layer
	sum := sha256.Sum256(data)
	f.Version = hex.EncodeToString(sum[:6])
	if _, ok := lines["id"]; !ok || f.ID == "" {
		c.issues = append(c.issues, Issue{File: path, Line: top.Line, Kind: IssueSyntax, Msg: "a flow needs an `id:` (or a locale file `texts:`)"})
		return
	}
	if !idPattern.MatchString(f.ID) {
		c.issues = append(c.issues, Issue{File: path, Line: lines["id"], Flow: f.ID, Kind: IssueSyntax,
			Msg: fmt.Sprintf("flow id %q must use only a-z, 0-9 and _", f.ID)})
	}
	if other, dup := seen[f.ID]; dup {
		c.issues = append(c.issues, Issue{File: path, Line: lines["id"], Flow: f.ID, Kind: IssueSyntax,
			Msg: fmt.Sprintf("flow id %q is also defined in %s", f.ID, other)})
		return
	}
	seen[f.ID] = path
	f.seq = c.seq
	c.seq++
	c.flows[f.ID] = f
}

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9_]+$`)
	varPattern  = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	lineNumber  = regexp.MustCompile(`line (\d+)`)
	unknownKey  = regexp.MustCompile(`field (\S+) not found in type (\S+)`)
	yamlMsgHead = regexp.MustCompile(`^(yaml: )?(line \d+: )?`)
)

// yamlIssues converts a yaml.v3 error into issues. where (may be nil) names
// the flow and step at a line.
func yamlIssues(path string, err error, where func(line int) (flow, step string)) []Issue {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]Issue, 0, len(msgs))
	for _, m := range msgs {
		// yaml.v3 quotes a long value cut at a byte count, which can split a
		// Vietnamese letter in two: mend it so the message stays valid text
		m = strings.ToValidUTF8(m, "")
		is := Issue{File: path, Kind: IssueSyntax}
		if sub := lineNumber.FindStringSubmatch(m); sub != nil {
			is.Line, _ = strconv.Atoi(sub[1])
		}
		if sub := unknownKey.FindStringSubmatch(m); sub != nil {
			is.Kind = IssueUnknownKey
			is.Msg = fmt.Sprintf("unknown key %q (allowed here: %s)", sub[1], strings.Join(knownKeys(sub[2]), ", "))
		} else {
			is.Msg = yamlMsgHead.ReplaceAllString(m, "")
		}
		if where != nil {
			is.Flow, is.Step = where(is.Line)
		}
		out = append(out, is)
	}
	return out
}

// knownKeys lists the YAML keys of the named decode type ("flows.Step").
func knownKeys(typeName string) []string {
	return YAMLKeys(typeName, reflect.TypeFor[Flow](), reflect.TypeFor[Step](), reflect.TypeFor[StepButton](),
		reflect.TypeFor[Ask](), reflect.TypeFor[Choice](), reflect.TypeFor[Case](),
		reflect.TypeFor[Cond](), reflect.TypeFor[HandoffStep](), reflect.TypeFor[localeDoc](),
		reflect.TypeFor[linksDoc](), reflect.TypeFor[linksData]())
}

// YAMLKeys lists the YAML keys of whichever of types is named typeName (as
// yaml.v3's "field X not found in type T" names it), for an unknown-key
// message; nil when none is. Other strict YAML loaders (areas) share it.
func YAMLKeys(typeName string, types ...reflect.Type) []string {
	for _, t := range types {
		if t.String() != typeName {
			continue
		}
		var keys []string
		for f := range t.Fields() {
			if tag := f.Tag.Get("yaml"); tag != "" && tag != "-" {
				keys = append(keys, strings.Split(tag, ",")[0])
			}
		}
		return keys
	}
	return nil
}

// KeyLines records the line of every mapping key and sequence item under n,
// by dotted path ("steps.3.buttons.0.goto"); the first of duplicate keys
// wins. Aliases are not followed.
func KeyLines(n *yaml.Node, path string, lines map[string]int) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(n.Content[i].Value)
			if _, dup := lines[p]; !dup {
				lines[p] = n.Content[i].Line
			}
			KeyLines(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := join(strconv.Itoa(i))
			lines[p] = item.Line
			KeyLines(item, p, lines)
		}
	}
}

// lineOf returns the line of the deepest existing prefix of the path.
func lineOf(lines map[string]int, parts ...any) int {
	strs := make([]string, len(parts))
	for i, p := range parts {
		strs[i] = fmt.Sprint(p)
	}
	for n := len(strs); n > 0; n-- {
		if l, ok := lines[strings.Join(strs[:n], ".")]; ok {
			return l
		}
	}
	return 0
}

// has reports whether the path exists in the file.
func has(lines map[string]int, parts ...any) bool {
	strs := make([]string, len(parts))
	for i, p := range parts {
		strs[i] = fmt.Sprint(p)
	}
	_, ok := lines[strings.Join(strs, ".")]
	return ok
}

// stepAt finds the index of the step whose YAML contains line, or -1.
func stepAt(lines map[string]int, line int) int {
	best := -1
	for i := 0; ; i++ {
		l, ok := lines["steps."+strconv.Itoa(i)]
		if !ok || l > line {
			return best
		}
		best = i
	}
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Version is a short hash of all loaded content: it changes whenever any
// file changes.
func (s *Set) Version() string { return s.version }

func shortHash(sum []byte) string { return hex.EncodeToString(sum)[:12] }
